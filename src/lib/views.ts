// Lazy event views: one class per data source, generated once, whose getters read the record's bytes (or the
// operator-added column, or the derived value) through the field accessors only when the consumer asks. An event
// costs one small object; nothing is decoded that is not read. Nested names (`proc.comm`) are nested views.
import { inspect } from 'node:util';
import type { Batch, DataSource, Field } from '../datasource/index.js';
import { buildTree, jsonFields, referencedFields, type Node } from '../operators/cli/json.js';

export interface EventView {
  readonly $ds: string;
  toJSON(): Record<string, unknown>;
}

export type ViewClass = new (b: Batch, i: number) => EventView;

/**
 * The fields events expose: those `-o json` prints, or the named ones (and their children) with `fields`, which may
 * name json.skip fields too (trace_exec's args_count: left out of JSON, still a value of the event).
 */
export function viewFields(ds: DataSource, fields?: string[]): Field[] {
  if (!fields || fields.length === 0) return jsonFields(ds);
  const all = referencedFields(ds);
  const out = new Set<Field>();
  for (const raw of fields) {
    const name = raw.trim();
    if (!name) continue;
    const f = ds.getField(name);
    if (!f || f.unreferenced) {
      const known = all.filter((x) => !x.isEmpty).map((x) => x.fullName);
      throw new Error(`fields: data source ${ds.name} has no field "${name}" (fields: ${known.join(', ')})`);
    }
    const prefix = f.fullName + '.';
    for (const x of all) if (x === f || x.fullName.startsWith(prefix)) out.add(x);
  }
  return all.filter((x) => out.has(x));
}

/** Build the view class of a data source for these fields. */
export function viewClass(ds: DataSource, fields: Field[]): ViewClass {
  return classFor(buildTree(fields), ds.name, true) as unknown as ViewClass;
}

/** JSON.stringify cannot print a BigInt: a u64 beyond 2^53 becomes its exact decimal text; bytes become hex (as -o json). */
function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'bigint' ? x.toString() : x));
  return v;
}

interface ViewBase { $b: Batch; $i: number }

function classFor(node: Node, dsName: string, top: boolean): new (b: Batch, i: number) => ViewBase {
  // A plain constructor with two own fields: every view of a data source has the same hidden class.
  const View = function (this: ViewBase, b: Batch, i: number) { this.$b = b; this.$i = i; } as unknown as new (b: Batch, i: number) => ViewBase;
  const proto = View.prototype as Record<string | symbol, unknown>;
  const keys: [string, (v: ViewBase) => unknown][] = [];
  for (const c of node.children) {
    const hasChildren = c.children.length > 0;
    if (!hasChildren && (!c.field || c.field.isEmpty)) continue;
    if (hasChildren) {
      const Sub = classFor(c, dsName, false);
      Object.defineProperty(proto, c.name, { get(this: ViewBase) { return new Sub(this.$b, this.$i); }, enumerable: true, configurable: false });
      keys.push([c.name, (v) => (new Sub(v.$b, v.$i) as unknown as EventView).toJSON()]);
    } else {
      const get = c.field!.get;
      Object.defineProperty(proto, c.name, { get(this: ViewBase) { return get(this.$b, this.$i); }, enumerable: true, configurable: false });
      keys.push([c.name, (v) => jsonValue(get(v.$b, v.$i))]);
    }
  }
  if (top) Object.defineProperty(proto, '$ds', { value: dsName, enumerable: false });
  Object.defineProperty(proto, 'toJSON', {
    value(this: ViewBase) {
      const o: Record<string, unknown> = {};
      for (const [k, get] of keys) o[k] = get(this);
      return o;
    },
    enumerable: false,
  });
  // console.log(event) shows the values, not the batch the view points into.
  Object.defineProperty(proto, inspect.custom, {
    value(this: EventView, _depth: number, opts: object) { return inspect(this.toJSON(), opts); },
    enumerable: false,
  });
  return View;
}
