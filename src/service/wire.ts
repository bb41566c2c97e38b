// Data sources as the gadget-service API describes them (api.DataSource in GadgetInfo): what GetGadgetInfo answers
// and what a client builds its flags and output from. Batches themselves travel in the packet codec's frames
// (src/datasource/codec.ts): field table once per data source and stream, then batches (see gadget-run.ts).
import { DataSource, Field, FieldFlag } from '../datasource/index.js';
import { upstreamLayout } from './upstream-wire.js';
import type { ApiDataSource, ApiField } from './proto.js';

export const DS_TYPE = { single: 1, array: 2 } as const;

/**
 * The field table as upstream's clients read it: static members in payload 0 at their offset, every other
 * value in a payload of its own (upstream-wire.ts sends the events in that layout to clients that do not ask for
 * ig's batch form; ig's own client only tells payload 0 from the rest).
 */
export function describeDataSource(ds: DataSource, id: number): ApiDataSource {
  const layout = upstreamLayout(ds);
  const fields: ApiField[] = ds.fields.map((f, pos) => {
    const l = layout.fields[pos]!;
    return {
      name: f.name, fullName: f.fullName, index: f.index, payloadIndex: l.payloadIndex, offs: l.offs, size: l.size, flags: l.flags,
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
    const storage = empty ? { type: 'empty' as const } : af.payloadIndex === 0 && af.flags & FieldFlag.StaticMember ? { type: 'static' as const, offs: af.offs, size: af.size } : { type: 'column' as const, column: column++ };
    const f = ds.addField({
      name: af.name, fullName: af.fullName, kind: af.kind, flags: af.flags & ~FieldFlag.HasParent, tags: [...(af.tags ?? [])],
      annotations: af.annotations ?? {}, parent, order: af.order, storage,
    });
    byIndex.set(af.index, f);
  }
  return ds;
}
