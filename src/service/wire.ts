// Data sources as the gadget-service API describes them (api.DataSource in GadgetInfo): what GetGadgetInfo answers
// and what a client builds its flags and output from. Batches themselves travel in the packet codec's frames
// (src/datasource/codec.ts): field table once per data source and stream, then batches (see gadget-run.ts).
import { DataSource, Field, FieldFlag } from '../datasource/index.js';
import type { ApiDataSource, ApiField } from './proto.js';

export const DS_TYPE = { single: 1, array: 2 } as const;
/** payloadIndex of fields whose value is not in the record bytes (upstream: one payload per dynamic field). */
const NOT_IN_RECORD = 0xffffffff;

/** Static members read from the record bytes sit in payload 0 at their offset, as upstream lays them out. */
function inRecord(f: Field): boolean {
  const s = f.storage;
  return f.readsStorage && s.type === 'static' && !s.bitSize;
}

export function describeDataSource(ds: DataSource, id: number): ApiDataSource {
  const fields: ApiField[] = ds.fields.map((f) => {
    const s = f.storage;
    const rec = !f.isEmpty && inRecord(f) && s.type === 'static';
    return {
      name: f.name, fullName: f.fullName, index: f.index, payloadIndex: rec ? 0 : NOT_IN_RECORD,
      offs: rec ? s.offs : 0, size: rec ? s.size : 0, flags: (f.flags & ~FieldFlag.HasParent) | (f.parent ? FieldFlag.HasParent : 0),
      kind: f.kind, tags: [...f.tags], annotations: Object.fromEntries(f.annotations), parent: f.parent ? f.parent.index : 0, order: f.order,
    };
  });
  return { id, name: ds.name, type: DS_TYPE[ds.type], fields, tags: [...ds.tags], annotations: Object.fromEntries(ds.annotations), flags: 0 };
}

/** A DataSource with the described fields (no records): what a client needs to offer --fields and output modes. */
export function dataSourceFromDescription(t: ApiDataSource): DataSource {
  const ds = new DataSource(t.name, t.type === DS_TYPE.array ? 'array' : 'single', { annotations: t.annotations });
  for (const tag of t.tags ?? []) ds.tags.push(tag);
  const byIndex = new Map<number, Field>();
  let column = 0;
  for (const af of t.fields) {
    const parent = af.flags & FieldFlag.HasParent ? byIndex.get(af.parent) : undefined;
    const empty = (af.flags & FieldFlag.Empty) !== 0;
    const storage = empty ? { type: 'empty' as const } : af.payloadIndex === 0 ? { type: 'static' as const, offs: af.offs, size: af.size } : { type: 'column' as const, column: column++ };
    const f = ds.addField({
      name: af.name, fullName: af.fullName, kind: af.kind, flags: af.flags & ~FieldFlag.HasParent, tags: [...(af.tags ?? [])],
      annotations: af.annotations ?? {}, parent, order: af.order, storage,
    });
    byIndex.set(af.index, f);
  }
  return ds;
}
