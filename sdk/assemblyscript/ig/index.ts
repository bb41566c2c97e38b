// AssemblyScript SDK for gadget WASM modules: upstream Inspektor Gadget's host API (module "ig", API version 1)
// with the shape of upstream's Go/Rust SDKs: DataSource, Field, Data, DataArray, Map, params, log.
//
// The entry file of a module re-exports the two exports every module needs, and its lifecycle functions:
//   import { gadgetAPIVersion, dataSourceCallback } from "ig";
//   export { gadgetAPIVersion, dataSourceCallback };
//   export function gadgetInit(): i32 { ... return 0; }
// Build: ig image build with build.yaml `wasm: program.ts` (asc -O3 --use abort= --path <ig>/sdk/assemblyscript).

// ---- raw host functions ----
@external("ig", "gadgetLog") declare function _log(level: u32, msg: u64): void;
@external("ig", "gadgetShouldLog") declare function _shouldLog(level: u32): u32;
@external("ig", "newDataSource") declare function _newDataSource(name: u64, typ: u32): u32;
@external("ig", "getDataSource") declare function _getDataSource(name: u64): u32;
@external("ig", "dataSourceSubscribe") declare function _subscribe(ds: u32, typ: u32, prio: i32, cb: u64): u32;
@external("ig", "dataSourceGetField") declare function _getField(ds: u32, name: u64): u32;
@external("ig", "dataSourceAddField") declare function _addField(ds: u32, name: u64, kind: u32): u32;
@external("ig", "dataSourceNewPacketSingle") declare function _newPacketSingle(ds: u32): u32;
@external("ig", "dataSourceNewPacketArray") declare function _newPacketArray(ds: u32): u32;
@external("ig", "dataSourceEmitAndRelease") declare function _emitAndRelease(ds: u32, p: u32): u32;
@external("ig", "dataSourceRelease") declare function _release(ds: u32, p: u32): u32;
@external("ig", "dataSourceUnreference") declare function _unreference(ds: u32): u32;
@external("ig", "dataArrayNew") declare function _arrayNew(a: u32): u32;
@external("ig", "dataArrayAppend") declare function _arrayAppend(a: u32, d: u32): u32;
@external("ig", "dataArrayRelease") declare function _arrayRelease(a: u32, d: u32): u32;
@external("ig", "dataArrayLen") declare function _arrayLen(a: u32): u32;
@external("ig", "dataArrayGet") declare function _arrayGet(a: u32, i: u32): u32;
@external("ig", "fieldGetScalar") declare function _getScalar(f: u32, d: u32, kind: u32, err: usize): u64;
@external("ig", "fieldGetBuffer") declare function _getBuffer(f: u32, d: u32, kind: u32, dst: u64): i32;
@external("ig", "fieldSet") declare function _set(f: u32, d: u32, kind: u32, v: u64): u32;
@external("ig", "fieldAddTag") declare function _addTag(f: u32, tag: u64): u32;
@external("ig", "getParamValue") declare function _getParam(key: u64, dst: u64): u32;
@external("ig", "setConfig") declare function _setConfig(key: u64, value: u64, kind: u32): u32;
@external("ig", "getMap") declare function _getMap(name: u64): u32;
@external("ig", "mapLookup") declare function _mapLookup(m: u32, key: u64, value: u64): u32;
@external("ig", "mapUpdate") declare function _mapUpdate(m: u32, key: u64, value: u64, flags: u64): u32;
@external("ig", "mapDelete") declare function _mapDelete(m: u32, key: u64): u32;
@external("ig", "getSyscallName") declare function _syscallName(id: u32, dst: u64): u32;
@external("ig", "getSyscallID") declare function _syscallID(name: u64): i32;
@external("ig", "kallsymsSymbolExists") declare function _kallsymsSymbolExists(name: u64): u32;
@external("ig", "shouldDiscardMntnsID") declare function _shouldDiscardMntnsID(mntns: u64): u32;

export const API_VERSION: u64 = 1;

export enum Kind { Invalid = 0, Bool = 1, Int8 = 2, Int16 = 3, Int32 = 4, Int64 = 5, Uint8 = 6, Uint16 = 7, Uint32 = 8, Uint64 = 9, Float32 = 10, Float64 = 11, String = 12, CString = 13, Bytes = 14 }
export enum DataSourceType { Single = 1, Array = 2 }
export enum LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 }
enum SubscriptionType { Data = 1, Array = 2, Packet = 3 }

// ---- helpers: len << 32 | ptr ----
function bufPtr(ptr: usize, len: u32): u64 { return (<u64>len << 32) | <u64>ptr; }
// Strings are encoded into one scratch buffer that grows as needed (no allocation per call once it is big enough).
let scratch = new ArrayBuffer(256);
function str(s: string): u64 {
  const n = String.UTF8.byteLength(s, false);
  if (n > scratch.byteLength) scratch = new ArrayBuffer(n * 2);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, changetype<usize>(scratch), false);
  return bufPtr(changetype<usize>(scratch), <u32>n);
}
// A second scratch for calls that take two strings.
let scratch2 = new ArrayBuffer(256);
function str2(s: string): u64 {
  const n = String.UTF8.byteLength(s, false);
  if (n > scratch2.byteLength) scratch2 = new ArrayBuffer(n * 2);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, changetype<usize>(scratch2), false);
  return bufPtr(changetype<usize>(scratch2), <u32>n);
}
const errCell = memory.data(4);
let readBuf = new ArrayBuffer(4096);

export function log(level: LogLevel, msg: string): void {
  if (_shouldLog(level) != 0) _log(level, str(msg));
}
export function errorf(msg: string): void { log(LogLevel.Error, msg); }
export function warnf(msg: string): void { log(LogLevel.Warn, msg); }
export function infof(msg: string): void { log(LogLevel.Info, msg); }
export function debugf(msg: string): void { log(LogLevel.Debug, msg); }

// ---- data ----
export class Data { constructor(public readonly handle: u32) {} }
export class DataArray {
  constructor(public readonly handle: u32) {}
  get length(): u32 { return _arrayLen(this.handle); }
  get(i: u32): Data { return new Data(_arrayGet(this.handle, i)); }
  newData(): Data { return new Data(_arrayNew(this.handle)); }
  append(d: Data): bool { return _arrayAppend(this.handle, d.handle) == 0; }
  /** Drop element d (it is not passed on). */
  release(d: Data): bool { return _arrayRelease(this.handle, d.handle) == 0; }
}

export class FieldError extends Error {}

export class Field {
  constructor(public readonly handle: u32) {}
  private scalar(d: Data, kind: Kind): u64 {
    store<u32>(errCell, 0);
    const v = _getScalar(this.handle, d.handle, kind, errCell);
    if (load<u32>(errCell) != 0) lastError = true;
    return v;
  }
  getBool(d: Data): bool { return this.scalar(d, Kind.Bool) != 0; }
  getI8(d: Data): i8 { return <i8>this.scalar(d, Kind.Int8); }
  getI16(d: Data): i16 { return <i16>this.scalar(d, Kind.Int16); }
  getI32(d: Data): i32 { return <i32>this.scalar(d, Kind.Int32); }
  getI64(d: Data): i64 { return <i64>this.scalar(d, Kind.Int64); }
  getU8(d: Data): u8 { return <u8>this.scalar(d, Kind.Uint8); }
  getU16(d: Data): u16 { return <u16>this.scalar(d, Kind.Uint16); }
  getU32(d: Data): u32 { return <u32>this.scalar(d, Kind.Uint32); }
  getU64(d: Data): u64 { return this.scalar(d, Kind.Uint64); }
  getF32(d: Data): f32 { return reinterpret<f32>(<u32>this.scalar(d, Kind.Float32)); }
  getF64(d: Data): f64 { return reinterpret<f64>(this.scalar(d, Kind.Float64)); }
  /** The field's bytes (strings without their NUL); null on error. */
  getBytes(d: Data, kind: Kind = Kind.Bytes): ArrayBuffer | null {
    let n = _getBuffer(this.handle, d.handle, kind, bufPtr(changetype<usize>(readBuf), readBuf.byteLength));
    if (n < 0) return null;
    const out = new ArrayBuffer(n);
    memory.copy(changetype<usize>(out), changetype<usize>(readBuf), n);
    return out;
  }
  getString(d: Data): string {
    const n = _getBuffer(this.handle, d.handle, Kind.String, bufPtr(changetype<usize>(readBuf), readBuf.byteLength));
    if (n < 0) { lastError = true; return ''; }
    return String.UTF8.decodeUnsafe(changetype<usize>(readBuf), n, false);
  }
  setBool(d: Data, v: bool): bool { return _set(this.handle, d.handle, Kind.Bool, v ? 1 : 0) == 0; }
  setI32(d: Data, v: i32): bool { return _set(this.handle, d.handle, Kind.Int32, <u64><i64>v) == 0; }
  setI64(d: Data, v: i64): bool { return _set(this.handle, d.handle, Kind.Int64, <u64>v) == 0; }
  setU8(d: Data, v: u8): bool { return _set(this.handle, d.handle, Kind.Uint8, v) == 0; }
  setU16(d: Data, v: u16): bool { return _set(this.handle, d.handle, Kind.Uint16, v) == 0; }
  setU32(d: Data, v: u32): bool { return _set(this.handle, d.handle, Kind.Uint32, v) == 0; }
  setU64(d: Data, v: u64): bool { return _set(this.handle, d.handle, Kind.Uint64, v) == 0; }
  setF64(d: Data, v: f64): bool { return _set(this.handle, d.handle, Kind.Float64, reinterpret<u64>(v)) == 0; }
  setString(d: Data, v: string): bool { return _set(this.handle, d.handle, Kind.String, str(v)) == 0; }
  setBytes(d: Data, v: ArrayBuffer): bool { return _set(this.handle, d.handle, Kind.Bytes, bufPtr(changetype<usize>(v), v.byteLength)) == 0; }
  addTag(tag: string): bool { return _addTag(this.handle, str(tag)) == 0; }
}

/** Set when a getter failed since the last takeError() (getters return 0/"" then, as upstream's do with an error). */
let lastError = false;
export function takeError(): bool { const e = lastError; lastError = false; return e; }

export type DataCallback = (ds: DataSource, d: Data) => void;
export type ArrayCallback = (ds: DataSource, a: DataArray) => void;
const dataCallbacks = new Array<DataCallback | null>();
const arrayCallbacks = new Array<ArrayCallback | null>();

export class DataSource {
  constructor(public readonly handle: u32) {}
  static get(name: string): DataSource | null { const h = _getDataSource(str(name)); return h == 0 ? null : new DataSource(h); }
  static create(name: string, typ: DataSourceType): DataSource | null { const h = _newDataSource(str(name), typ); return h == 0 ? null : new DataSource(h); }
  getField(name: string): Field | null { const h = _getField(this.handle, str(name)); return h == 0 ? null : new Field(h); }
  addField(name: string, kind: Kind): Field | null { const h = _addField(this.handle, str(name), kind); return h == 0 ? null : new Field(h); }
  /** cb runs for every record of this (single) data source. */
  subscribe(cb: DataCallback, priority: i32 = 0): bool {
    const id = dataCallbacks.length;
    dataCallbacks.push(cb);
    arrayCallbacks.push(null);
    return _subscribe(this.handle, SubscriptionType.Data, priority, id) == 0;
  }
  /** cb runs once per array packet of this (array) data source. */
  subscribeArray(cb: ArrayCallback, priority: i32 = 0): bool {
    const id = dataCallbacks.length;
    dataCallbacks.push(null);
    arrayCallbacks.push(cb);
    return _subscribe(this.handle, SubscriptionType.Array, priority, id) == 0;
  }
  newPacketSingle(): Data { return new Data(_newPacketSingle(this.handle)); }
  newPacketArray(): DataArray { return new DataArray(_newPacketArray(this.handle)); }
  emitAndRelease(p: u32): bool { return _emitAndRelease(this.handle, p) == 0; }
  release(p: u32): bool { return _release(this.handle, p) == 0; }
  unreference(): bool { return _unreference(this.handle) == 0; }
}

// ---- params, config, maps, misc ----
export function getParamValue(key: string, maxLen: u32 = 256): string | null {
  const buf = new ArrayBuffer(maxLen);
  if (_getParam(str(key), bufPtr(changetype<usize>(buf), maxLen)) != 0) return null;
  let n: i32 = 0;
  while (<u32>n < maxLen && load<u8>(changetype<usize>(buf) + n) != 0) n++;
  return String.UTF8.decodeUnsafe(changetype<usize>(buf), n, false);
}
export function setConfig(key: string, value: string): bool { return _setConfig(str(key), str2(value), Kind.String) == 0; }

export class Map {
  constructor(public readonly handle: u32) {}
  static get(name: string): Map | null { const h = _getMap(str(name)); return h == 0 ? null : new Map(h); }
  lookup(key: ArrayBuffer, value: ArrayBuffer): bool {
    return _mapLookup(this.handle, bufPtr(changetype<usize>(key), key.byteLength), bufPtr(changetype<usize>(value), value.byteLength)) == 0;
  }
  update(key: ArrayBuffer, value: ArrayBuffer, flags: u64 = 0): bool {
    return _mapUpdate(this.handle, bufPtr(changetype<usize>(key), key.byteLength), bufPtr(changetype<usize>(value), value.byteLength), flags) == 0;
  }
  delete(key: ArrayBuffer): bool { return _mapDelete(this.handle, bufPtr(changetype<usize>(key), key.byteLength)) == 0; }
}

export function syscallName(id: u32): string {
  const buf = new ArrayBuffer(64);
  if (_syscallName(id, bufPtr(changetype<usize>(buf), 63)) != 0) return '';
  let n: i32 = 0;
  while (n < 63 && load<u8>(changetype<usize>(buf) + n) != 0) n++;
  return String.UTF8.decodeUnsafe(changetype<usize>(buf), n, false);
}
export function syscallID(name: string): i32 { return _syscallID(str(name)); }
export function kallsymsSymbolExists(name: string): bool { return _kallsymsSymbolExists(str(name)) != 0; }
export function shouldDiscardMntnsID(mntns: u64): bool { return _shouldDiscardMntnsID(mntns) != 0; }

// ---- the exports every module re-exports ----
export function gadgetAPIVersion(): u64 { return API_VERSION; }
export function dataSourceCallback(cb: u64, ds: u32, data: u32): void {
  const i = <i32>cb;
  if (i >= dataCallbacks.length) return;
  const d = dataCallbacks[i];
  if (d) { d(new DataSource(ds), new Data(data)); return; }
  const a = arrayCallbacks[i];
  if (a) a(new DataSource(ds), new DataArray(data));
}
