// A BPF map by fd: typed wrappers over the addon's map calls. Keys and values stay Buffers.
import { native } from './native.js';
import type { MapFdInfo } from './native-api.js';
import { MapType, UpdateFlags } from './constants.js';

export { MapType, UpdateFlags } from './constants.js';

const PERCPU_TYPES = new Set<number>([
  MapType.PercpuHash, MapType.PercpuArray, MapType.LruPercpuHash, MapType.PercpuCgroupStorage,
]);

export function isPerCpuMapType(type: number): boolean {
  return PERCPU_TYPES.has(type);
}

export interface MapDump {
  keys: Buffer;     // count * keySize bytes
  values: Buffer;   // count * valueBytes bytes
  count: number;
}

export interface CreateMapOptions {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  name?: string;
  flags?: number;
}

export class BpfMap {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly id: number;
  /** Bytes of one value as lookup returns it: per-CPU maps hold one 8-aligned value per possible CPU. */
  readonly valueBytes: number;
  #fd: number;
  readonly #owned: boolean;

  /** Wrap `fd`. When `owned`, close() closes the fd; otherwise the map belongs to someone else (e.g. a BpfObject). */
  constructor(fd: number, owned = false, info: MapFdInfo = native.mapInfo(fd)) {
    this.#fd = fd;
    this.#owned = owned;
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.id = info.id;
    this.valueBytes = isPerCpuMapType(info.type)
      ? ((info.valueSize + 7) & ~7) * native.numPossibleCpus()
      : info.valueSize;
  }

  /**
   * Open the map the kernel knows by `id` (e.g. an inner map read from a map of maps) with a new fd that this
   * wrapper owns: close() releases it; the map itself lives on while its outer map or another fd holds it.
   */
  static openById(id: number): BpfMap {
    const fd = native.mapGetFdById(id);
    try {
      return new BpfMap(fd, true);
    } catch (err) {
      native.closeFd(fd);
      throw err;
    }
  }

  /** Create a map that this wrapper owns. */
  static create(opts: CreateMapOptions): BpfMap {
    const fd = native.mapCreate(opts.type, opts.keySize, opts.valueSize, opts.maxEntries, opts.name ?? '', opts.flags ?? 0);
    try {
      return new BpfMap(fd, true);
    } catch (err) {
      native.closeFd(fd);
      throw err;
    }
  }

  get fd(): number {
    if (this.#fd < 0) throw new Error(`map ${this.name} is closed`);
    return this.#fd;
  }

  get perCpu(): boolean {
    return isPerCpuMapType(this.type);
  }

  lookup(key: Buffer): Buffer | null {
    return native.mapLookup(this.fd, key, this.valueSize);
  }

  update(key: Buffer, value: Buffer, flags: number = UpdateFlags.Any): void {
    native.mapUpdate(this.fd, key, value, flags);
  }

  /** False when the key was absent. */
  delete(key: Buffer): boolean {
    return native.mapDelete(this.fd, key);
  }

  nextKey(key: Buffer | null): Buffer | null {
    return native.mapNextKey(this.fd, key, this.keySize);
  }

  /** Iterate keys (snapshot semantics of BPF_MAP_GET_NEXT_KEY: concurrent deletes may restart the walk). */
  *keys(): Generator<Buffer> {
    let k = this.nextKey(null);
    let guard = 0;
    while (k) {
      yield k;
      if (++guard > this.maxEntries + 1) return;
      k = this.nextKey(k);
    }
  }

  /** All entries in one batch call (lookup-and-delete when `del`). */
  dump(opts: { del?: boolean } = {}): MapDump {
    return native.mapDump(this.fd, this.keySize, this.valueSize, opts.del ?? false);
  }

  /** dump() split into [key, value] pairs (views into the dump's buffers). */
  entries(opts: { del?: boolean } = {}): Array<[Buffer, Buffer]> {
    const d = this.dump(opts);
    const out: Array<[Buffer, Buffer]> = [];
    for (let i = 0; i < d.count; i++) {
      out.push([
        d.keys.subarray(i * this.keySize, (i + 1) * this.keySize),
        d.values.subarray(i * this.valueBytes, (i + 1) * this.valueBytes),
      ]);
    }
    return out;
  }

  /** Split a per-CPU value into one Buffer per possible CPU (each `valueSize` bytes). */
  perCpuValues(value: Buffer): Buffer[] {
    if (!this.perCpu) return [value];
    const stride = (this.valueSize + 7) & ~7;
    const out: Buffer[] = [];
    for (let off = 0; off + this.valueSize <= value.length; off += stride) {
      out.push(value.subarray(off, off + this.valueSize));
    }
    return out;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Close the fd if this wrapper owns it. Idempotent. */
  close(): void {
    if (this.#fd >= 0 && this.#owned) native.closeFd(this.#fd);
    this.#fd = -1;
  }
}
