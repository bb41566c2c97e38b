// `ig types trace_open` and a consumer compiled against it with tsc: typed fields compile, a wrong field name or
// type does not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runIgSync } from '../harness/ig.js';
import { consumerProject, ensureDeclarations, typeCheck } from './consumer.js';

const p = consumerProject('ig-h18lib-types-');
before(() => ensureDeclarations());
after(() => p.cleanup());

const GOOD = `
import { runGadget, type GadgetRun } from 'ig';
import type { TraceOpenEvent } from './trace_open.js';

export async function main(): Promise<void> {
  const run = runGadget('trace_open', { host: true, filter: 'proc.comm==cat', timeoutMs: 1000 });
  for await (const e of run) {
    const comm: string = e.proc.comm;
    const pid: number = e.proc.pid;
    const uid: number = e.proc.creds.uid;
    const ds: 'open' = e.$ds;
    const mntns: number | bigint = e.proc.mntns_id;
    const fname: string = e.fname;
    void [comm, pid, uid, ds, mntns, fname, e.toJSON()];
  }
  const explicit: GadgetRun<TraceOpenEvent> = runGadget<'trace_open'>('trace_open');
  for await (const b of explicit.batches()) for (const e of b) void e.fname.length;
  // An image without generated types still runs, with fields of unknown type.
  for await (const e of runGadget('trace_exec')) void e['whatever'];
}
`;

test('ig types trace_open -o FILE writes the event types of every data source', () => {
  const r = runIgSync(['types', 'trace_open', '-o', join(p.dir, 'trace_open.d.ts')]);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(join(p.dir, 'trace_open.d.ts'), 'utf8');
  assert.match(text, /export interface TraceOpenOpenEvent extends EventBase<"open"> \{/);
  assert.match(text, /readonly proc: \{\n\s+\/\*\*[^\n]*\*\/\n\s+readonly comm: string;/);
  assert.match(text, /readonly fname: string;/);
  assert.match(text, /readonly timestamp_raw: number \| bigint;/);
  assert.match(text, /"trace_open": TraceOpenEvent;/);
  assert.match(text, /"ghcr\.io\/inspektor-gadget\/gadget\/trace_open:latest": TraceOpenEvent;/);
});

test('a consumer compiles against the generated types', () => {
  writeFileSync(join(p.dir, 'good.ts'), GOOD);
  const r = typeCheck(p.dir, ['trace_open.d.ts', 'good.ts']);
  assert.equal(r.code, 0, r.output);
});

test('a wrong field name or type does not compile', () => {
  writeFileSync(join(p.dir, 'bad.ts'), `
import { runGadget } from 'ig';
export async function main(): Promise<void> {
  for await (const e of runGadget('trace_open', { host: true })) {
    void e.proc.comn;
    const n: number = e.fname;
    void n;
  }
}
`);
  const r = typeCheck(p.dir, ['trace_open.d.ts', 'bad.ts']);
  assert.notEqual(r.code, 0);
  assert.match(r.output, /bad\.ts\(5,17\): error TS2339: Property 'comn' does not exist on type '\{ readonly comm: string;/);
  assert.match(r.output, /bad\.ts\(6,11\): error TS2322: Type 'string' is not assignable to type 'number'\./);
});

test('only the public API is exported: internals are not importable', () => {
  writeFileSync(join(p.dir, 'internal.ts'), `import { prepareGadget } from 'ig/dist/src/runtime/assemble.js';\nvoid prepareGadget;\n`);
  const r = typeCheck(p.dir, ['internal.ts']);
  assert.notEqual(r.code, 0);
  assert.match(r.output, /internal\.ts\(1,\d+\): error TS2307: Cannot find module 'ig\/dist\/src\/runtime\/assemble\.js'/);
});

test('ig types: a bad field or image is one clear line', () => {
  const r = runIgSync(['types', 'trace_open', '--fields', 'nosuch']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /fields: data source open has no field "nosuch"/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  const r2 = runIgSync(['types', 'no_such_gadget_h18lib', '--pull', 'never']);
  assert.equal(r2.code, 1);
  assert.equal(r2.stderr.trim().split('\n').length, 1, r2.stderr);
});

test('enum names become string unions (trace_tcp type, snapshot_socket state)', () => {
  const r = runIgSync(['types', 'trace_tcp']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /readonly type: "connect" \| "accept" \| "close" \| "UNKNOWN";/);
  const s = runIgSync(['types', 'snapshot_socket']);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /readonly state: "ESTABLISHED" \| "SYN_SENT" \|[^\n]*\| "UNKNOWN";/);
});
