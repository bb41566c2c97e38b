// Upstream's Rust test modules that upstream's Go test drives with operators of its own (fields, dataarray,
// dataemit in pkg/operators/wasm/wasm_test.go): built unchanged from the upstream source mirror (as in
// upstream-rust.test.ts) and run by our WASM operator against the same host-side setup as the Go test: the data
// source it registers before the module's gadgetInit, the packets it emits at start, the checks its subscriber
// (priority 50000, after the module) makes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWasm } from '../../src/oci/build-wasm.js';
import { WasmOperator } from '../../src/operators/wasm/operator.js';
import { Batch, Kind, type DataSource } from '../../src/datasource/index.js';
import { GadgetContext } from '../../src/gadget/context.js';
import { Logger } from '../../src/gadget/logger.js';
import { parseMetadata } from '../../src/gadget/metadata.js';

const MIRROR = '/work/.mirror/inspektor-gadget+inspektor-gadget/repo';
const MODULES = ['fields', 'dataarray', 'dataemit'];
const skip = !existsSync(MIRROR) ? `no upstream source mirror at ${MIRROR}`
  : !existsSync('/usr/bin/cargo') ? 'needs cargo, rustc and libstd-rust-dev-wasm32 (scripts/deps/apt-test.txt)' : false;
const PRIO = 50000;

let base = '';
const wasm = new Map<string, Buffer>();

before(async () => {
  if (skip) return;
  base = mkdtempSync(join(tmpdir(), 'ig-upstream-rust-h-'));
  const tar = execFileSync('git', ['-C', MIRROR, 'archive', 'HEAD', 'wasmapi/rust', 'pkg/operators/wasm/rusttestdata'], { maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', base], { input: tar });
  for (const m of MODULES) {
    const dir = join(base, 'pkg', 'operators', 'wasm', 'rusttestdata', m);
    wasm.set(m, await buildWasm('src/lib.rs', dir, join(base, `out-${m}`), () => undefined));
  }
});

after(() => { if (base) rmSync(base, { recursive: true, force: true }); });

function context(): { ctx: GadgetContext; logs: string[] } {
  const logs: string[] = [];
  const ctx = new GadgetContext({ reference: 'upstream/test', digest: 'sha256:0', ebpf: null, wasm: null, annotations: {} }, parseMetadata(''), new Logger('debug', (s) => { logs.push(s); }));
  return { ctx, logs };
}

async function lifecycle(op: WasmOperator, emit: () => void): Promise<void> {
  op.preStart();
  op.start();
  emit();
  op.stop();
  op.postStop();
}

test("upstream's fields module: adds a field of every kind with a tag and sets them, and the host's own field, on each record", { skip, timeout: 600000 }, async () => {
  const { ctx, logs } = context();
  const ds = ctx.addDataSource('myds', 'single');
  ds.addField({ name: 'host_field', kind: Kind.String, tags: ['host_tag'] });
  const op = await WasmOperator.create(ctx, wasm.get('fields')!);
  const want: [string, number, unknown, string][] = [
    ['field_bool', Kind.Bool, true, 'tag_bool'],
    ['field_int8', Kind.Int8, -123, 'tag_int8'],
    ['field_int16', Kind.Int16, -25647, 'tag_int16'],
    ['field_int32', Kind.Int32, -535245564, 'tag_int32'],
    ['field_int64', Kind.Int64, -1234567890, 'tag_int64'],
    ['field_uint8', Kind.Uint8, 56, 'tag_uint8'],
    ['field_uint16', Kind.Uint16, 12345, 'tag_uint16'],
    ['field_uint32', Kind.Uint32, 1234567890, 'tag_uint32'],
    ['field_uint64', Kind.Uint64, 1234567890123456, 'tag_uint64'],
    ['field_float32', Kind.Float32, Math.fround(3.14159), 'tag_float32'],
    ['field_float64', Kind.Float64, 3.14159265359, 'tag_float64'],
    ['field_string', Kind.String, 'Hello, World!', 'tag_string'],
    ['field_bytes', Kind.Bytes, Buffer.from([1, 2, 3, 4, 5]), 'tag_bytes'],
    ['host_field', Kind.String, 'LOCALHOST', 'host_tag'],
  ];
  for (const [name, kind, , tag] of want) {
    const f = ds.getField(name);
    assert.ok(f, `field ${name}`);
    assert.equal(f.kind, kind, `kind of ${name}`);
    assert.ok(f.tags.includes(tag), `${name} has ${tag}`);
  }
  let counter = 0;
  ds.subscribe((b) => {
    for (const i of b.indices()) {
      counter++;
      for (const [name, , value] of want) assert.deepEqual(ds.getField(name)!.get(b, i), value, name);
    }
  }, PRIO);
  await lifecycle(op, () => ds.emit(Batch.empty(ds, 1)));
  assert.equal(counter, 1, logs.join('\n'));
});

function arrayDs(ctx: GadgetContext, name: string): DataSource {
  const ds = ctx.addDataSource(name, 'array');
  ds.staticSize = 4;
  ds.addField({ name: 'foo', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
  return ds;
}

test("upstream's dataarray module: reads an array packet, appends 5 elements of its own and sets every foo", { skip, timeout: 600000 }, async () => {
  const { ctx, logs } = context();
  const ds = arrayDs(ctx, 'myds');
  const op = await WasmOperator.create(ctx, wasm.get('dataarray')!);
  const foo = ds.getField('foo')!;
  let counter = 0;
  ds.subscribe((b) => {
    counter++;
    const idx = [...b.indices()];
    assert.equal(idx.length, 15, '10 emitted here + 5 added by the module');
    idx.forEach((i, k) => assert.equal(foo.get(b, i), 424143 * k, `element ${k}`));
  }, PRIO);
  await lifecycle(op, () => {
    const b = Batch.empty(ds, 10);
    for (let k = 0; k < 10; k++) b.buf.writeUInt32LE(424143, k * 4);
    ds.emit(b);
  });
  assert.equal(counter, 1, logs.join('\n'));
});

test("upstream's dataemit module: a data source of its own fed from another's array packets (even values x 5)", { skip, timeout: 600000 }, async () => {
  const { ctx, logs } = context();
  const old = arrayDs(ctx, 'old_ds');
  const op = await WasmOperator.create(ctx, wasm.get('dataemit')!);
  const nds = ctx.dataSources.get('new_ds');
  assert.ok(nds, 'the module made new_ds');
  const bar = nds.getField('bar')!;
  let counter = 0;
  nds.subscribe((b) => {
    for (const i of b.indices()) {
      counter++;
      assert.equal(bar.get(b, i), 10, 'the even value 2, multiplied by 5');
    }
  }, PRIO);
  await lifecycle(op, () => {
    const b = Batch.empty(old, 2);
    b.buf.writeUInt32LE(1, 0);
    b.buf.writeUInt32LE(2, 4);
    old.emit(b);
  });
  assert.equal(counter, 1, logs.join('\n'));
});
