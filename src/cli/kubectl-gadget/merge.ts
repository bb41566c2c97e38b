// One output for the streams of many nodes. Each node's client decodes its own data sources; the first node to
// announce a data source lends it as the merged one (the one the output subscribes to), and the batches of every
// other node are re-seated on it: record bytes as they are (same gadget, same layout: checked once per node), value
// columns mapped by field name. Every record gets its node in `k8s.node`. Array data sources (snapshots, tops)
// are gathered per round from every node, then sorted and cut to --max-entries over the merged total (upstream
// cuts per node only).
import { Batch, DataSource, FieldFlag, Kind, type Field } from '../../datasource/index.js';
import { compileSort } from '../../operators/sort/operator.js';
import { perDataSource } from '../../operators/perds.js';

const NODE_FIELD = 'k8s.node';

interface Seat {
  /** merged column index for each column of the node's data source (-1: the merged DS has no such field). */
  columns: Int32Array;
}

interface Merged {
  ds: DataSource;
  nodeOf: WeakMap<Batch, string | string[]>;
  /** Per node data source: how its batches map onto the merged one (undefined: incompatible, dropped). */
  seats: Map<DataSource, Seat | undefined>;
  sort?: (b: Batch) => void;
  limit: number;
  /** Arrays: the latest batch of each node in the current round. */
  round: Map<string, Batch>;
  /** Arrays: rounds emitted so far (the first one waits longer: firstLingerMs). */
  emitted: number;
  timer?: NodeJS.Timeout;
}

export interface MergeOptions {
  /** operator.sort.sort as the user gave it ('' = the data source's default). */
  sort?: string;
  /** operator.limiter.max-entries ('-1' = no limit). */
  maxEntries?: string;
  /**
   * How long a round of array batches waits for the slower nodes after the first one arrived (default 2 s). A round
   * is complete, and goes out at once, when every live node has sent its batch or ended.
   */
  lingerMs?: number;
  /**
   * The same for a data source's first round (default 10 s): nodes start their gadgets at their own speed (a busy
   * node took over 2 s longer than the others to load snapshot_process on a machine at load 30), and rounds are in
   * step only after that. Still complete at once when every live node has sent or ended.
   */
  firstLingerMs?: number;
  /** The nodes a round of array batches waits for (those whose stream is alive). */
  liveNodes: () => Set<string>;
  emit: (ds: DataSource, b: Batch) => void;
  /** A node whose data source cannot be merged (another gadget version): said once. */
  warn: (msg: string) => void;
}

function columnOf(f: Field): number {
  return f.storage.type === 'column' ? f.storage.column : -1;
}

export class StreamMerger {
  private readonly merged = new Map<string, Merged>();
  private readonly order: string[] = [];

  constructor(private readonly o: MergeOptions) {}

  /** The merged data sources, in the order they were first announced. */
  dataSources(): DataSource[] {
    return this.order.map((n) => this.merged.get(n)!.ds);
  }

  /** A node announced its data sources; returns true when a data source is new to the merged output. */
  announce(node: string, dss: DataSource[]): boolean {
    let fresh = false;
    for (const ds of dss) {
      let m = this.merged.get(ds.name);
      if (!m) {
        m = this.adopt(ds);
        this.merged.set(ds.name, m);
        this.order.push(ds.name);
        fresh = true;
      }
      if (!m.seats.has(ds)) m.seats.set(ds, this.seat(m.ds, ds, node));
    }
    return fresh;
  }

  private adopt(ds: DataSource): Merged {
    const nodeOf = new WeakMap<Batch, string | string[]>();
    const recordNode = (b: Batch, i: number): string | undefined => {
      const n = nodeOf.get(b);
      return typeof n === 'string' ? n : n?.[i];
    };
    let k8s = ds.getField('k8s');
    let f = ds.getField(NODE_FIELD);
    if (!k8s) k8s = ds.addField({ name: 'k8s', kind: Kind.Invalid, flags: FieldFlag.Empty, order: -32, storage: { type: 'empty' } }, { asIs: true });
    if (!f) f = ds.addField({ name: 'node', parent: k8s, kind: Kind.String, order: -31, annotations: { 'columns.width': '16', 'columns.ellipsis': 'middle', description: 'Kubernetes node' }, storage: { type: 'empty' } }, { asIs: true });
    // The node's own enrichment wins (its Kube Manager knows it); records without one get the node they came from.
    const own = f.storage.type === 'empty' || f.unreferenced ? () => undefined : f.get;
    f.override((b, i) => { const v = own(b, i); return v ? v : recordNode(b, i); });
    f.flags &= ~FieldFlag.Unreferenced;
    // As upstream's kubectl-gadget: the k8s columns are shown (on a single host ig hides them when empty).
    k8s.setHidden(false);
    f.setHidden(false);
    const m: Merged = { ds, nodeOf, seats: new Map(), limit: -1, round: new Map(), emitted: 0 };
    if (ds.type === 'array') {
      const spec = perDataSource(this.o.sort ?? '', [ds.name]).get(ds.name) || ds.annotations.get('sort') || '';
      if (spec) m.sort = compileSort(ds, spec);
      const n = Number(perDataSource(this.o.maxEntries ?? '-1', [ds.name], ',').get(ds.name) ?? -1);
      m.limit = Number.isFinite(n) ? n : -1;
    }
    return m;
  }

  /** How a node's data source maps onto the merged one, or undefined (said once) when the layouts differ. */
  private seat(target: DataSource, src: DataSource, node: string): Seat | undefined {
    const columns = new Int32Array(Math.max(0, ...src.fields.map((f) => columnOf(f) + 1)));
    columns.fill(-1);
    if (src === target) {
      for (let c = 0; c < columns.length; c++) columns[c] = c;
      return { columns };
    }
    for (const f of src.fields) {
      const t = target.getField(f.fullName);
      const s = f.storage;
      if (s.type === 'static') {
        const ts = t?.storage;
        if (!ts || ts.type !== 'static' || ts.offs !== s.offs || ts.size !== s.size || t!.kind !== f.kind) {
          this.o.warn(`node ${node}: data source ${src.name} differs from the other nodes' (field ${f.fullName}): its events are left out (another ig version?)`);
          return undefined;
        }
      } else if (s.type === 'column' && t) {
        columns[s.column] = columnOf(t);
      }
    }
    return { columns };
  }

  /** A batch of `node`; emitted now (streams) or with its round (arrays). */
  push(node: string, ds: DataSource, b: Batch): void {
    const m = this.merged.get(ds.name);
    if (!m) return;
    let seat = m.seats.get(ds);
    if (!m.seats.has(ds)) { seat = this.seat(m.ds, ds, node); m.seats.set(ds, seat); }
    if (!seat) return;
    const nb = ds === m.ds ? b : this.reseat(m.ds, b, seat);
    if (m.ds.type !== 'array') {
      m.nodeOf.set(nb, node);
      this.o.emit(m.ds, nb);
      return;
    }
    m.round.set(node, nb);
    if (this.complete(m)) this.flush(m);
    else if (!m.timer) m.timer = setTimeout(() => this.flush(m), m.emitted === 0 ? this.o.firstLingerMs ?? 10_000 : this.o.lingerMs ?? 2000);
  }

  private complete(m: Merged): boolean {
    for (const n of this.o.liveNodes()) if (!m.round.has(n)) return false;
    return true;
  }

  /** A node's stream ended (or failed): rounds that only waited for it go out now. */
  nodeGone(): void {
    for (const m of this.merged.values()) if (m.round.size > 0 && this.complete(m)) this.flush(m);
  }

  private reseat(target: DataSource, b: Batch, seat: Seat): Batch {
    const nb = new Batch(target, b.buf, b.offs, b.lens, b.count);
    nb.live.set(b.live.subarray(0, b.liveCount));
    nb.liveCount = b.liveCount;
    for (let c = 0; c < b.columns.length; c++) {
      const t = seat.columns[c] ?? -1;
      const col = b.columns[c];
      if (t >= 0 && col) nb.columns[t] = col;
    }
    return nb;
  }

  private flush(m: Merged): void {
    if (m.timer) { clearTimeout(m.timer); m.timer = undefined; }
    if (m.round.size === 0) return;
    const parts = [...m.round.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    m.round.clear();
    const out = Batch.empty(m.ds, 0);
    out.liveCount = 0;
    const nodes: string[] = [];
    for (const [node, b] of parts) {
      for (let k = 0; k < b.liveCount; k++) {
        const idx = out.append(b, b.live[k]!);
        nodes[idx] = node;
      }
    }
    m.nodeOf.set(out, nodes);
    if (m.sort) m.sort(out);
    if (m.limit >= 0 && out.liveCount > m.limit) out.liveCount = m.limit;
    m.emitted++;
    this.o.emit(m.ds, out);
  }

  /** Emit what the open rounds hold (end of run). */
  drain(): void {
    for (const m of this.merged.values()) if (m.ds.type === 'array') this.flush(m);
  }
}
