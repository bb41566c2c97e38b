// Map iterators (GADGET_MAPITER): a data source whose records are the entries of a BPF map, fetched (looked up
// and deleted in one batch call) every map-fetch-interval, map-fetch-count times, or once at stop.
import type { BpfObject } from '../../bpf/object.js';
import type { DataSource } from '../../datasource/index.js';
import { GadgetError, type GadgetContext } from '../../gadget/context.js';
import type { ParamDesc } from '../../gadget/params.js';
import { mapFetchPlans, validateCountList, validateIntervalList, type FetchPlan } from './fetch.js';
import { EBPF_PREFIX } from './params.js';
import { batchFromDump } from './records.js';
import { emitBatch } from './record-tap.js';

interface MapIterDs {
  ds: DataSource; map: string; keySize: number; valueSize: number; fetches: number; flushOnStop: boolean;
  /** Fetches left before this iterator is done (count > 0), or -1 when unlimited. */
  remaining: number;
}

export class MapIterators {
  readonly list: MapIterDs[] = [];
  private timers: NodeJS.Timeout[] = [];
  private obj?: BpfObject;
  private plans = new Map<string, FetchPlan>();

  constructor(private readonly ctx: GadgetContext) {}

  add(ds: DataSource, map: string, keySize: number, valueSize: number): void {
    this.list.push({ ds, map, keySize, valueSize, fetches: 0, flushOnStop: ds.annotations.get('ebpf.map.flush-on-stop') === 'true', remaining: -1 });
  }

  params(): ParamDesc[] {
    if (this.list.length === 0) return [];
    return [
      { key: 'map-fetch-interval', prefix: EBPF_PREFIX, defaultValue: '1000ms', typeHint: 'string', description: 'Interval between fetches of map iterators (e.g. 1s, 500ms; a bare number is seconds; 0: fetch once, when the gadget stops); ds:interval,... per data source', validate: validateIntervalList },
      { key: 'map-fetch-count', prefix: EBPF_PREFIX, defaultValue: '0', typeHint: 'string', description: 'Number of map fetches before the gadget stops (0: unlimited); ds:count,... per data source', validate: validateCountList },
    ];
  }

  /** Read the fetch params (before anything is loaded, so a bad value costs no kernel work). */
  plan(): void {
    if (this.list.length === 0) return;
    const p = (k: string, d: string) => this.ctx.params.get(EBPF_PREFIX + k) ?? d;
    try {
      this.plans = mapFetchPlans(p('map-fetch-interval', '1000ms'), p('map-fetch-count', '0'), this.list.map((i) => i.ds.name));
    } catch (e) {
      throw new GadgetError((e as Error).message);
    }
  }

  private fetch(it: MapIterDs, obj: BpfObject): void {
    const d = obj.map(it.map).dump({ del: true });
    emitBatch(this.ctx, it.ds, batchFromDump(it.ds, d.keys, d.values, d.count, it.keySize, it.valueSize), it.keySize + it.valueSize);
    it.fetches++;
  }

  start(obj: BpfObject): void {
    this.obj = obj;
    const ctx = this.ctx;
    const counted = this.list.filter((it) => (this.plans.get(it.ds.name)?.count ?? 0) > 0 && (this.plans.get(it.ds.name)?.intervalMs ?? 0) > 0);
    for (const it of this.list) {
      const plan = this.plans.get(it.ds.name) ?? { intervalMs: 1000, count: 0 };
      if (plan.intervalMs === 0) {
        // Fetch once, when the gadget stops (flight recorders, end-of-run reports).
        it.flushOnStop = true;
        continue;
      }
      it.remaining = plan.count > 0 ? plan.count : -1;
      const timer = setInterval(() => {
        try {
          this.fetch(it, obj);
        } catch (e) {
          ctx.log.error(`${it.ds.name}: ${(e as Error).message}`);
          ctx.done('error');
          return;
        }
        if (it.remaining > 0 && --it.remaining === 0) {
          clearInterval(timer);
          it.flushOnStop = false; // the requested fetches are done: nothing more at stop
          if (counted.every((x) => x.remaining === 0)) ctx.done('map-fetch-count');
        }
      }, plan.intervalMs);
      this.timers.push(timer);
    }
  }

  stopTimers(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  /** The final fetch of the iterators that flush at stop; then forget the object. */
  finish(): void {
    const obj = this.obj;
    this.obj = undefined;
    if (!obj) return;
    for (const it of this.list) {
      if (!it.flushOnStop) continue;
      try { this.fetch(it, obj); } catch (e) { this.ctx.log.warn(`${it.ds.name}: final fetch failed: ${(e as Error).message}`); }
    }
  }
}
