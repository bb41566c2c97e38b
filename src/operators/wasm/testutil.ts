// Test helpers: WebAssembly text → binary (Debian wabt's wat2wasm), `len << 32 | ptr` literals, and a run
// context with one data source of real records (the datasource package, no gadget image needed).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Batch, Kind } from '../../datasource/index.js';
import { GadgetContext } from '../../gadget/context.js';
import { Logger } from '../../gadget/logger.js';
import { parseMetadata } from '../../gadget/metadata.js';

export function wat(text: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'ig-wasm-wat-'));
  try {
    writeFileSync(join(dir, 'm.wat'), text);
    const r = spawnSync('wat2wasm', [join(dir, 'm.wat'), '-o', join(dir, 'm.wasm')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`wat2wasm: ${r.stderr || r.error?.message}`);
    return readFileSync(join(dir, 'm.wasm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `len << 32 | ptr` as a wat i64 literal. */
export function lp(ptr: number, len: number): string {
  return ((BigInt(len) << 32n) | BigInt(ptr)).toString();
}

/** Data segments for strings at fixed addresses: returns the segments and lp() literals by string. */
export function strings(list: string[], base = 1024): { data: string; at: Record<string, string>; addr: Record<string, number> } {
  let p = base;
  const at: Record<string, string> = {};
  const addr: Record<string, number> = {};
  const segs: string[] = [];
  for (const s of list) {
    segs.push(`(data (i32.const ${p}) "${s}")`);
    at[s] = lp(p, Buffer.byteLength(s));
    addr[s] = p;
    p += Buffer.byteLength(s) + 16;
  }
  return { data: segs.join('\n'), at, addr };
}

/** A context with data source "events": pid u32 @0, uid u32 @4, comm char[16] @8 (24 bytes per record). */
export function eventsContext(yaml = ''): { ctx: GadgetContext; logs: string[]; batch: (rows: { pid: number; uid: number; comm: string }[]) => Batch } {
  const logs: string[] = [];
  const ctx = new GadgetContext({ reference: 'test/wasm', digest: 'sha256:0', ebpf: null, wasm: null, annotations: {} }, parseMetadata(yaml), new Logger('debug', (s) => { logs.push(s); }));
  const ds = ctx.addDataSource('events', 'single');
  ds.staticSize = 24;
  ds.addField({ name: 'pid', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  ds.addField({ name: 'uid', kind: Kind.Uint32, storage: { type: 'static', offs: 4, size: 4 } });
  ds.addField({ name: 'comm', kind: Kind.CString, storage: { type: 'static', offs: 8, size: 16 } });
  const batch = (rows: { pid: number; uid: number; comm: string }[]) => {
    const b = Batch.empty(ds, rows.length);
    rows.forEach((r, i) => {
      b.buf.writeUInt32LE(r.pid, i * 24);
      b.buf.writeUInt32LE(r.uid, i * 24 + 4);
      b.buf.write(r.comm, i * 24 + 8);
    });
    return b;
  };
  return { ctx, logs, batch };
}

/** The usual import lines for a wat guest. */
export const IMPORTS = `
  (import "ig" "getDataSource" (func $getDs (param i64) (result i32)))
  (import "ig" "newDataSource" (func $newDs (param i64 i32) (result i32)))
  (import "ig" "dataSourceGetField" (func $getF (param i32 i64) (result i32)))
  (import "ig" "dataSourceAddField" (func $addF (param i32 i64 i32) (result i32)))
  (import "ig" "dataSourceSubscribe" (func $sub (param i32 i32 i32 i64) (result i32)))
  (import "ig" "dataSourceNewPacketSingle" (func $newPkt (param i32) (result i32)))
  (import "ig" "dataSourceEmitAndRelease" (func $emit (param i32 i32) (result i32)))
  (import "ig" "fieldGetScalar" (func $get (param i32 i32 i32 i32) (result i64)))
  (import "ig" "fieldGetBuffer" (func $getBuf (param i32 i32 i32 i64) (result i32)))
  (import "ig" "fieldSet" (func $set (param i32 i32 i32 i64) (result i32)))
  (import "ig" "fieldAddTag" (func $addTag (param i32 i64) (result i32)))
  (import "ig" "gadgetLog" (func $log (param i32 i64)))
  (import "ig" "getParamValue" (func $param (param i64 i64) (result i32)))
`;
