// Host functions for data sources, packets and arrays (upstream's names and signatures). Subscriptions call
// the guest per record of a single data source and once per array packet; the record stays in the batch and
// the guest reaches it through a reused data handle, so nothing is copied or allocated per event.
import { Batch, type DataSource } from '../../datasource/index.js';
import { Kind } from '../../datasource/kinds.js';
import { GadgetError } from '../../gadget/context.js';
import { DATA_ARRAY_FLAG, type ArrayHandle, type DataHandle } from './handles.js';
import { handleOf, type HostState } from './state.js';

const SUB_DATA = 1;
const SUB_ARRAY = 2;
const SUB_PACKET = 3;
const DS_TYPE_ARRAY = 2;

/** Resolve a data handle: a record handle, or an element of an array handle (flag | index << 16 | array). */
export function dataOf(s: HostState, h: number, fn: string): DataHandle | undefined {
  if ((h & DATA_ARRAY_FLAG) === 0) return handleOf(s, h, 'data', fn);
  const arr = handleOf(s, h & 0xffff, 'array', fn);
  if (!arr) return undefined;
  const k = (h & ~DATA_ARRAY_FLAG) >>> 16;
  if (k >= arr.batch.liveCount) return undefined;
  // Element views are cached on the array so reading fields of element k allocates nothing after the first time.
  const views = (arr as ArrayHandle & { views?: DataHandle[] }).views ??= [];
  const v = views[k] ??= { t: 'data', batch: arr.batch, index: 0 };
  v.batch = arr.batch;
  v.index = arr.batch.live[k]!;
  return v;
}

export function dataSourceFunctions(s: HostState) {
  const { ctx, handles, mem } = s;
  const str = (lp: bigint, fn: string) => mem.string(lp, fn);

  return {
    newDataSource(name: bigint, type: number): number {
      const n = str(name, 'newDataSource');
      try {
        const ds = ctx.addDataSource(n, type === DS_TYPE_ARRAY ? 'array' : 'single');
        return handles.add({ t: 'ds', ds });
      } catch (e) {
        ctx.log.warn(`${s.who}: newDataSource ${n}: ${(e as Error).message}`);
        return 0;
      }
    },
    getDataSource(name: bigint): number {
      const n = str(name, 'getDataSource');
      const ds = ctx.dataSources.get(n);
      if (!ds) { ctx.log.debug(`${s.who}: getDataSource: no data source ${n}`); return 0; }
      return handles.add({ t: 'ds', ds });
    },
    dataSourceSubscribe(dsh: number, type: number, prio: number, cb: bigint): number {
      const d = handleOf(s, dsh, 'ds', 'dataSourceSubscribe');
      if (!d) return 1;
      if (!s.dsCallback) { ctx.log.warn(`${s.who}: subscribes to ${d.ds.name} but does not export dataSourceCallback`); return 1; }
      if (type !== SUB_DATA && type !== SUB_ARRAY && type !== SUB_PACKET) return 1;
      if (type === SUB_ARRAY && d.ds.type !== 'array') return 1;
      subscribe(s, d.ds, dsh, type, prio | 0, cb);
      return 0;
    },
    dataSourceGetField(dsh: number, name: bigint): number {
      const d = handleOf(s, dsh, 'ds', 'dataSourceGetField');
      if (!d) return 0;
      const f = d.ds.getField(str(name, 'dataSourceGetField'));
      return f ? handles.add({ t: 'field', field: f, ds: d.ds }) : 0;
    },
    dataSourceAddField(dsh: number, name: bigint, kind: number): number {
      if (kind <= Kind.Invalid || kind > Kind.Bytes) { ctx.log.warn(`${s.who}: dataSourceAddField: invalid field kind ${kind}`); return 0; }
      const d = handleOf(s, dsh, 'ds', 'dataSourceAddField');
      if (!d) return 0;
      const n = str(name, 'dataSourceAddField');
      try {
        const field = d.ds.addField({ name: n, kind: kind === Kind.CString ? Kind.String : kind, tags: ['src:wasm'] });
        return handles.add({ t: 'field', field, ds: d.ds });
      } catch (e) {
        ctx.log.warn(`${s.who}: adding field ${n} to ${d.ds.name}: ${(e as Error).message}`);
        return 0;
      }
    },
    dataSourceNewPacketSingle(dsh: number): number {
      const d = handleOf(s, dsh, 'ds', 'dataSourceNewPacketSingle');
      if (!d || d.ds.type !== 'single') return 0;
      return handles.add({ t: 'data', batch: Batch.empty(d.ds, 1), index: 0 });
    },
    dataSourceNewPacketArray(dsh: number): number {
      const d = handleOf(s, dsh, 'ds', 'dataSourceNewPacketArray');
      if (!d || d.ds.type !== 'array') return 0;
      return handles.add({ t: 'array', ds: d.ds, batch: Batch.empty(d.ds, 0), own: true });
    },
    dataSourceEmitAndRelease(dsh: number, ph: number): number {
      const d = handleOf(s, dsh, 'ds', 'dataSourceEmitAndRelease');
      if (!d) return 1;
      const p = handles.get(ph);
      if (!p || (p.t !== 'data' && p.t !== 'array')) return 1;
      handles.delete(ph);
      if (p.batch.ds !== d.ds) return 1;
      d.ds.emit(p.batch);
      return 0;
    },
    dataSourceRelease(dsh: number, ph: number): number {
      const d = handleOf(s, dsh, 'ds', 'dataSourceRelease');
      const p = handles.get(ph);
      if (!d || !p || (p.t !== 'data' && p.t !== 'array')) return 1;
      handles.delete(ph);
      return 0;
    },
    dataSourceUnreference(dsh: number): number {
      const d = handleOf(s, dsh, 'ds', 'dataSourceUnreference');
      if (!d) return 1;
      d.ds.referenced = false;
      return 0;
    },
    dataSourceIsReferenced(dsh: number): number {
      const d = handleOf(s, dsh, 'ds', 'dataSourceIsReferenced');
      if (!d) return 2;
      return d.ds.referenced ? 1 : 0;
    },
    dataArrayNew(ah: number): number {
      const a = handleOf(s, ah, 'array', 'dataArrayNew');
      if (!a) return 0;
      return handles.add({ t: 'data', batch: Batch.empty(a.ds, 1), index: 0 });
    },
    dataArrayAppend(ah: number, dh: number): number {
      const a = handleOf(s, ah, 'array', 'dataArrayAppend');
      const d = handleOf(s, dh, 'data', 'dataArrayAppend');
      if (!a || !d) return 1;
      a.batch.append(d.batch, d.index);
      handles.delete(dh);
      return 0;
    },
    dataArrayRelease(ah: number, dh: number): number {
      const a = handleOf(s, ah, 'array', 'dataArrayRelease');
      if (!a) return 1;
      if ((dh & DATA_ARRAY_FLAG) !== 0) {
        // Releasing an element drops it from the array (it is not passed on).
        const k = (dh & ~DATA_ARRAY_FLAG) >>> 16;
        if ((dh & 0xffff) !== ah || k >= a.batch.liveCount) return 1;
        a.batch.live.copyWithin(k, k + 1, a.batch.liveCount);
        a.batch.liveCount--;
        return 0;
      }
      if (!handleOf(s, dh, 'data', 'dataArrayRelease')) return 1;
      handles.delete(dh);
      return 0;
    },
    dataArrayLen(ah: number): number {
      const a = handleOf(s, ah, 'array', 'dataArrayLen');
      return a ? a.batch.liveCount : 0;
    },
    dataArrayGet(ah: number, index: number): number {
      const a = handleOf(s, ah, 'array', 'dataArrayGet');
      if (!a || index < 0 || index >= a.batch.liveCount || index > 32767 || ah > 0xffff) return 0;
      return (DATA_ARRAY_FLAG | (index << 16) | ah) >>> 0;
    },
  };
}

/**
 * Subscribe the guest to `ds`. A single data source calls dataSourceCallback once per live record with a
 * data handle that points at that record (the same handle every time); an array data source calls it once
 * per batch with an array handle, or, for a data subscription (type 1), once per element with its handle.
 */
/** Data-source annotation: the module's effect on the records is declared by field annotations. */
const NATIVE_EQUIVALENT = 'wasm.native-equivalent';

function subscribe(s: HostState, ds: DataSource, dsh: number, type: number, prio: number, cb: bigint): void {
  let active = true;
  s.cleanups.push(() => { active = false; });
  if (ds.type === 'single') {
    const idle = Batch.empty(ds, 0);
    const cursor: DataHandle = { t: 'data', batch: idle, index: 0 };
    const dh = s.handles.add(cursor);
    if (dh === 0) throw new GadgetError(`${s.who}: too many open handles`);
    const call = s.dsCallback!;
    // One guarded entry per batch (the deadline's watchdog costs ~50 µs per entry), one guest call per record.
    const loop = () => {
      const b = cursor.batch;
      const live = b.live;
      for (let k = 0; k < b.liveCount; k++) {
        cursor.index = live[k]!;
        call(cb, dsh, dh);
      }
    };
    // A gadget may declare that its module changes these records only as its fields' annotations say
    // (`wasm.native-equivalent`, e.g. trace_exec's joined arguments: strings.joined.*): an output rendering on
    // the reader thread from those declarations stands in for the module then (records that reach JS still
    // go through it).
    // The handle lets go of the batch when the callbacks are done (a data handle is only valid inside them), so
    // the reader may reuse the batch's memory at once.
    ds.subscribe((b) => {
      if (!active) return;
      cursor.batch = b;
      try {
        guarded(s, b, loop);
      } finally {
        cursor.batch = idle;
        cursor.index = 0;
      }
    }, prio, { nativeEquivalent: ds.annotations.get(NATIVE_EQUIVALENT) === 'true', releasesBatch: true });
    return;
  }
  const arr: ArrayHandle = { t: 'array', ds, batch: Batch.empty(ds, 0), own: false };
  const ah = s.handles.add(arr);
  if (ah === 0) throw new GadgetError(`${s.who}: too many open handles`);
  const call = s.dsCallback!;
  // A data subscription to an array data source is called once per element, as upstream's (upstream's dataemit
  // test module reads its array source so); element handles are dataArrayGet's (index << 16 | array handle).
  const perElement = type === SUB_DATA && ah <= 0xffff;
  const once = perElement
    ? () => {
      const n = Math.min(arr.batch.liveCount, 32768);
      for (let k = 0; k < n; k++) call(cb, dsh, (DATA_ARRAY_FLAG | (k << 16) | ah) >>> 0);
    }
    : () => call(cb, dsh, ah);
  ds.subscribe((b) => {
    if (!active) return;
    arr.batch = b;
    guarded(s, b, once);
  }, prio);
}

/** Run a subscription's guest code; a failure ends the run and the batch goes no further. */
function guarded(s: HostState, b: Batch, fn: () => unknown): void {
  try {
    s.run('dataSourceCallback', fn);
  } catch (e) {
    b.liveCount = 0;
    s.fail(e as Error);
  }
}
