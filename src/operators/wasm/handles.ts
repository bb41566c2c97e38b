// Host objects handed to the guest as u32 handles, as upstream does: 0 is never a handle, at most 4096 are
// open at once, and the next free number after the last one handed out is used (wrapping at 65535, skipping 0:
// an array element's handle carries its array's handle in 16 bits).
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import type { BpfMap } from '../../bpf/map.js';

export const MAX_HANDLES = 4096;
/** A data handle with this bit set names element index (bits 16..30) of the array handle in bits 0..15. */
export const DATA_ARRAY_FLAG = 0x80000000;

export interface DsHandle { t: 'ds'; ds: DataSource }
export interface FieldHandle { t: 'field'; field: Field; ds: DataSource }
/** One record: record `index` of `batch` (a cursor reused across callbacks, or a record the guest made). */
export interface DataHandle { t: 'data'; batch: Batch; index: number }
/** An array packet: a batch the guest subscribed to, or one it is building (`own`: not yet emitted). */
export interface ArrayHandle { t: 'array'; ds: DataSource; batch: Batch; own: boolean }
/**
 * `owned`: made by newMap, closed by mapRelease. `release`: an inner map opened by id from a map-of-maps lookup;
 * releaseHandle closes it (mapRelease refuses it, as upstream's does for maps newMap did not make).
 */
export interface MapHandle { t: 'map'; map: BpfMap; owned: boolean; release?: () => void }
export interface PerfHandle { t: 'perf'; close(): void; read(): Buffer | null; pause(): void; resume(): void }

export type HostObject = DsHandle | FieldHandle | DataHandle | ArrayHandle | MapHandle | PerfHandle;

/** Handles index an array (at most 65535 of them): a lookup per host call is one bounds-checked load. */
export class HandleTable {
  private objs: (HostObject | undefined)[] = [];
  private count = 0;
  private last = 0;

  add(o: HostObject): number {
    if (this.count >= MAX_HANDLES) return 0;
    let h = this.last;
    for (;;) {
      h++;
      if (h > 0xffff) h = 1; // array-element handles keep the array's handle in 16 bits
      if (this.objs[h] === undefined) break;
    }
    this.objs[h] = o;
    this.count++;
    this.last = h;
    return h;
  }

  get(h: number): HostObject | undefined {
    return h > 0 && h <= 0xffff ? this.objs[h] : undefined;
  }

  delete(h: number): boolean {
    if (this.get(h) === undefined) return false;
    this.objs[h] = undefined;
    this.count--;
    return true;
  }

  clear(): void {
    this.objs = [];
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }
}
