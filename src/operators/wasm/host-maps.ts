// Host functions for eBPF maps (the gadget's own, published by the eBPF operator after load, or maps the
// guest creates) and perf readers. Maps the guest creates and readers it opens are released at stop.
import { BpfMap, MapType } from '../../bpf/map.js';
import { PerfDrain, forEachRecord } from '../../bpf/reader.js';
import type { PerfHandle } from './handles.js';
import { handleOf, type HostState } from './state.js';

const FD_ARRAYS = new Set<number>([MapType.ProgArray, MapType.PerfEventArray, MapType.CgroupArray]);
const MAP_OF_MAPS = new Set<number>([MapType.ArrayOfMaps, MapType.HashOfMaps]);
const MAX_QUEUED = 65536;
/** Longest wait of perfReaderRead on a normal reader with nothing written (upstream waits without bound). */
export const PERF_READ_WAIT_MS = 100;

export function mapFunctions(s: HostState) {
  const { mem, ctx, handles } = s;
  const warn = (m: string) => ctx.log.debug(`${s.who}: ${m}`);
  // Inner maps handed out by map-of-maps lookups: each holds an fd until releaseHandle or stop.
  const inner = new Set<BpfMap>();
  s.cleanups.push(() => { for (const m of inner) m.close(); inner.clear(); });
  const usable = (m: BpfMap, fn: string) => {
    if (m.type > MapType.Arena) { warn(`${fn}: unknown map type ${m.type}`); return false; }
    if (FD_ARRAYS.has(m.type)) { warn(`${fn}: fd array maps (type ${m.type}) are not supported`); return false; }
    return true;
  };

  return {
    newMap(name: bigint, type: number, keySize: number, valueSize: number, maxEntries: number): number {
      const n = mem.string(name, 'newMap');
      if (type > MapType.Arena) return 0;
      let map: BpfMap;
      try {
        map = BpfMap.create({ name: n.slice(0, 15), type, keySize, valueSize, maxEntries });
      } catch (e) {
        warn(`newMap ${n}: ${(e as Error).message}`);
        return 0;
      }
      const h = handles.add({ t: 'map', map, owned: true });
      if (h === 0) map.close();
      else s.cleanups.push(() => map.close());
      return h;
    },
    getMap(name: bigint): number {
      const n = mem.string(name, 'getMap');
      const map = ctx.offers.loadedMap(n);
      if (!map) { warn(`getMap: the gadget has no map ${n} (or it is not loaded yet)`); return 0; }
      return handles.add({ t: 'map', map, owned: false });
    },
    mapLookup(mh: number, key: bigint, value: bigint): number {
      const m = handleOf(s, mh, 'map', 'mapLookup');
      if (!m || !usable(m.map, 'mapLookup')) return 1;
      const k = Buffer.from(mem.slice(key, 'mapLookup key'));
      let v: Buffer | null;
      try { v = m.map.lookup(k); } catch (e) { warn(`mapLookup: ${(e as Error).message}`); return 1; }
      if (!v) return 1;
      if (MAP_OF_MAPS.has(m.map.type)) {
        // The value is the inner map's kernel id; the guest gets a handle to that map instead (as upstream).
        const id = v.readUInt32LE(0);
        let im: BpfMap;
        try { im = BpfMap.openById(id); } catch (e) { warn(`mapLookup: inner map ${id}: ${(e as Error).message}`); return 1; }
        const release = () => { im.close(); inner.delete(im); };
        const h = handles.add({ t: 'map', map: im, owned: false, release });
        if (h === 0) { im.close(); warn('mapLookup: too many open handles'); return 1; }
        inner.add(im);
        v = Buffer.alloc(4);
        v.writeUInt32LE(h);
        if (!mem.write(v, value, 'mapLookup value')) { release(); handles.delete(h); return 1; }
        return 0;
      }
      return mem.write(v, value, 'mapLookup value') ? 0 : 1;
    },
    mapUpdate(mh: number, key: bigint, value: bigint, flags: bigint): number {
      if (flags > 4n) return 1;
      const m = handleOf(s, mh, 'map', 'mapUpdate');
      if (!m || !usable(m.map, 'mapUpdate')) return 1;
      const k = Buffer.from(mem.slice(key, 'mapUpdate key'));
      let v = Buffer.from(mem.slice(value, 'mapUpdate value'));
      if (MAP_OF_MAPS.has(m.map.type)) {
        const inner = handleOf(s, v.readUInt32LE(0), 'map', 'mapUpdate');
        if (!inner) return 1;
        v = Buffer.alloc(4);
        v.writeUInt32LE(inner.map.fd);
      }
      try { m.map.update(k, v, Number(flags)); } catch (e) { warn(`mapUpdate: ${(e as Error).message}`); return 1; }
      return 0;
    },
    mapDelete(mh: number, key: bigint): number {
      const m = handleOf(s, mh, 'map', 'mapDelete');
      if (!m || !usable(m.map, 'mapDelete')) return 1;
      try { return m.map.delete(Buffer.from(mem.slice(key, 'mapDelete key'))) ? 0 : 1; } catch (e) { warn(`mapDelete: ${(e as Error).message}`); return 1; }
    },
    mapRelease(mh: number): number {
      const m = handleOf(s, mh, 'map', 'mapRelease');
      if (!m) return 1;
      if (!m.owned) { warn(`mapRelease: map ${mh} was not made by newMap or was already released`); return 1; }
      m.map.close();
      handles.delete(mh);
      return 0;
    },

    /**
     * Perf readers, as upstream's perfReaderRead: 0 with a record, 2 ("deadline exceeded") when none came. The
     * buffer is read on the calling thread (a guest call is synchronous: records a poll thread handed to JS could
     * not arrive during it). Upstream blocks until a record on a normal reader; we wait at most
     * PERF_READ_WAIT_MS so a quiet buffer cannot hold the pipeline. An overwritable reader must be paused to be read
     * (1 otherwise, as upstream's) and returns 2 at once when empty (upstream's deadline is the reader's creation). Pause keeps what was written before it and drops what
     * the kernel writes while paused, as upstream's Pause (which stops the writes) shows it.
     */
    newPerfReader(mh: number, size: number, overwritable: number): number {
      const m = handleOf(s, mh, 'map', 'newPerfReader');
      if (!m || m.map.type !== MapType.PerfEventArray) return 0;
      let pages = 1;
      while (pages * 4096 < size) pages *= 2;
      let drain: PerfDrain;
      try { drain = new PerfDrain(m.map, pages); } catch (e) { warn(`newPerfReader: ${(e as Error).message}`); return 0; }
      const queue: Buffer[] = [];
      let paused = false;
      const take = (timeoutMs: number, keep: boolean) => {
        const { buf, count } = drain.read(timeoutMs);
        if (!keep) return;
        forEachRecord(buf, count, (off, len) => {
          if (queue.length < MAX_QUEUED) queue.push(Buffer.from(buf.subarray(off, off + len)));
        });
      };
      const wait = overwritable ? 0 : PERF_READ_WAIT_MS;
      const p: PerfHandle = {
        t: 'perf',
        close: () => drain.close(),
        read: () => {
          // As upstream's (cilium/ebpf): an overwritable buffer is read only while paused, else an error.
          if (overwritable && !paused) throw new Error('an overwritable perf reader must be paused before reading');
          if (queue.length === 0 && !paused) take(wait, true);
          return queue.shift() ?? null;
        },
        pause: () => { if (!paused) { take(0, true); paused = true; } },
        resume: () => { if (paused) { take(0, false); paused = false; } },
      };
      s.cleanups.push(p.close);
      const h = handles.add(p);
      if (h === 0) p.close();
      return h;
    },
    perfReaderPause(h: number): number { const p = handleOf(s, h, 'perf', 'perfReaderPause'); if (!p) return 1; p.pause(); return 0; },
    perfReaderResume(h: number): number { const p = handleOf(s, h, 'perf', 'perfReaderResume'); if (!p) return 1; p.resume(); return 0; },
    perfReaderRead(h: number, dst: bigint): number {
      const p = handleOf(s, h, 'perf', 'perfReaderRead');
      if (!p) return 1;
      let rec: Buffer | null;
      try { rec = p.read(); } catch (e) { warn(`perfReaderRead: ${(e as Error).message}`); return 1; }
      if (!rec) return 2;
      return mem.write(rec, dst, 'perfReaderRead') ? 0 : 1;
    },
    perfReaderClose(h: number): number {
      const p = handleOf(s, h, 'perf', 'perfReaderClose');
      if (!p) return 1;
      p.close();
      handles.delete(h);
      return 0;
    },
  };
}
