// The first five minutes on the command line: help that shows what to type, "did you mean" from what exists
// locally, the same flags on every gadget (or a reason), flags before the image, impossible values refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { runIgSync, IG_MAIN } from '../harness/ig.js';
import { GadgetContext } from '../../src/gadget/context.js';
import { parseMetadata } from '../../src/gadget/metadata.js';
import { cliOperator } from '../../src/operators/cli/operator.js';
import { closest } from '../../src/gadget/suggest.js';
import { missingCaps } from '../../src/cli/privileges.js';

const oneLineError = (r: { code: number | null; stderr: string }, re: RegExp) => {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('WARN')).length, 1, r.stderr);
  assert.match(r.stderr, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no JS stack trace');
};

test('ig run --help lists the common flags; ig help run is the same', () => {
  const r = runIgSync(['run', '--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['-o, --output', '--fields', '-F, --filter', '-c, --containername', '--host', '--sort', '--map-fetch-interval', '-t, --timeout', '--pid']) {
    assert.ok(r.stdout.includes(f), `${f} in ig run --help:\n${r.stdout}`);
  }
  assert.match(r.stdout, /^Usage: ig run /m);
  const h = runIgSync(['help', 'run']);
  assert.equal(h.code, 0, h.stderr);
  assert.equal(h.stdout, r.stdout);
});

test('ig run IMAGE --help lists the gadget params and its fields with descriptions', () => {
  const r = runIgSync(['run', 'trace_open', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--failed/);
  assert.match(r.stdout, /^Fields .*$/m);
  assert.match(r.stdout, /^ {4}fname +File name as passed to the call$/m);
  assert.match(r.stdout, /^ {4}proc\.mntns_id\* +Inode number of the mount namespace/m, 'hidden fields are marked');
  assert.match(r.stdout, /^ {4}runtime\.containerName +/m);
});

test('bare command groups print their help; a mistyped command gets a suggestion', () => {
  const img = runIgSync(['image']);
  assert.equal(img.code, 0, img.stderr);
  assert.match(img.stdout, /Usage: ig image/);
  assert.match(img.stdout, /build/);
  const root = runIgSync([]);
  assert.equal(root.code, 0, root.stderr);
  assert.match(root.stdout, /Usage: ig /);
  oneLineError(runIgSync(['image', 'bulid']), /unknown command "bulid" for "ig image" \(did you mean build\?\)/);
  oneLineError(runIgSync(['imag']), /did you mean image\?/);
});

test('a mistyped gadget gets "did you mean" from the local store, never a registry error', () => {
  const r = runIgSync(['run', 'trace_opn']);
  oneLineError(r, /unknown gadget "trace_opn".*did you mean trace_open\?/);
  assert.doesNotMatch(r.stderr, /ghcr|pull|registry/i);
});

test('mistyped flags and fields get "did you mean"', () => {
  oneLineError(runIgSync(['run', 'trace_open', '--hots']), /unknown flag: --hots \(did you mean --host\?\)/);
  oneLineError(runIgSync(['run', 'trace_open', '--host', '--fields', 'comn']), /no field "comn" \(did you mean proc\.comm or proc\.parent\.comm\?\)/);
  oneLineError(runIgSync(['run', 'trace_open', '--host', '--filter', 'pid==1']), /no field "pid" \(did you mean proc\.parent\.pid or proc\.pid\?\)/);
  oneLineError(runIgSync(['run', 'top_file', '--sort', 'rbytez']), /did you mean rbytes\?/);
  assert.deepEqual(closest('trace_opn', ['trace_open', 'trace_dns', 'trace_bind']), ['trace_open']);
  assert.deepEqual(closest('zzzzzz', ['trace_open']), []);
});

test('flags may come before the image', () => {
  const r = runIgSync(['run', '-o', 'json', '--host', '-t', '1', 'trace_open'], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `JSON lines expected: ${r.stdout.slice(0, 300)}`);
  assert.ok('fname' in JSON.parse(line!));
});

test('common flags: --host is accepted on a host-wide gadget, --sort/-c on gadgets without them are refused with a reason', () => {
  const ok = runIgSync(['run', 'profile_blockio', '--host', '-t', '1', '-o', 'none'], { timeoutMs: 30000 });
  assert.equal(ok.code, 0, ok.stderr);
  oneLineError(runIgSync(['run', 'trace_open', '--sort', 'proc.pid']), /--sort: trace_open has no array data source/);
  oneLineError(runIgSync(['run', 'profile_blockio', '-c', 'web']), /--containername: profile_blockio cannot select containers/);
  oneLineError(runIgSync(['run', 'trace_open', '--map-fetch-interval', '1s']), /reads no map periodically/);
});

test('-o and --fields exist on a gadget whose data sources are not known yet (a WASM module adds them at start)', async () => {
  const ctx = new GadgetContext({ reference: 'test', digest: '', ebpf: null, wasm: null, annotations: {} }, parseMetadata('name: wasm-only'));
  await ctx.instantiate([], [cliOperator({ write: () => undefined, isTTY: false })]);
  assert.ok(ctx.params.find('operator.cli.output'));
  assert.ok(ctx.params.find('operator.cli.fields'));
  ctx.addDataSource('late', 'single');
  ctx.params.set('operator.cli.output', 'json');
  await assert.doesNotReject(async () => { for (const { inst } of ctx.instances) await inst.preStart?.(ctx); });
});

test('impossible values are refused before anything is loaded', () => {
  oneLineError(runIgSync(['run', 'trace_open', '-t', '2147484']), /--timeout: longer than the longest timeout, 2147483s/);
  oneLineError(runIgSync(['run', 'trace_open', '--timeout', '720h']), /--timeout/);
  oneLineError(runIgSync(['run', 'trace_open', '--timeout', '-1']), /invalid value "-1" for --timeout/);
  oneLineError(runIgSync(['run', 'trace_open', '--host', '-o', 'nosuchds:json']), /no data source "nosuchds" \(data sources: open\)/);
  oneLineError(runIgSync(['run', 'top_file', '--max-entries', '-5']), /--max-entries/);
  oneLineError(runIgSync(['run', 'top_file', '--map-fetch-count', '99999999999']), /from 0 to 4294967295/);
  oneLineError(runIgSync(['run', 'top_file', '--map-fetch-interval', '600h']), /too long/);
  oneLineError(runIgSync(['run', 'trace_open', '--pid', '-1']), /--pid/);
  const ok = runIgSync(['run', 'trace_open', '--host', '-t', '500ms', '-o', 'none'], { timeoutMs: 30000 });
  assert.equal(ok.code, 0, `a duration is a valid --timeout: ${ok.stderr}`);
});

test('ig version prints v0.1.0 as upstream prints its version', () => {
  const r = runIgSync(['version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^v\d+\.\d+\.\d+\n$/);
});

test('without root or the eBPF capabilities, ig run says what it needs', () => {
  assert.deepEqual(missingCaps(0n), ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN']);
  assert.deepEqual(missingCaps((1n << 39n) | (1n << 38n) | (1n << 21n) | (1n << 12n)), []);
  // Root with an empty bounding set execs ig with no capabilities at all.
  const r = spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, IG_MAIN, 'run', 'trace_open', '--host'], { encoding: 'utf8', timeout: 30000 });
  oneLineError({ code: r.status, stderr: r.stderr }, /^Error: ig needs root \(or CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN and CAP_NET_ADMIN\)/);
  assert.doesNotMatch(r.stderr, /memlock|registry/i);
  // Help needs no privileges.
  const h = spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, IG_MAIN, 'run', 'trace_open', '--help'], { encoding: 'utf8', timeout: 30000 });
  assert.equal(h.status, 0, h.stderr);
});

test('errors show no JS stack trace unless IG_DEBUG=1', () => {
  const r = runIgSync(['image', 'inspect', 'no_such_gadget_ff']);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const v = runIgSync(['run', 'trace_open', '--host', '-o', 'bogus', '-v']);
  assert.doesNotMatch(v.stderr, /\n\s+at /, '-v shows details, not JS frames');
});

test('the last column (the file name) is whole by default and cut only when columns.maxwidth asks', () => {
  const whole = runIgSync(['run', 'trace_open', '--host', '-t', '1', '--filter', 'proc.comm==node'], { timeoutMs: 30000 });
  assert.equal(whole.code, 0, whole.stderr);
  const header = whole.stdout.split('\n')[0]!;
  // FLAGS is hidden, as upstream's gadget.yaml says
  assert.match(header, /ERROR +FD MODE +FNAME$/, 'upstream column order, file name last');
  assert.ok(!whole.stdout.split('\n').slice(1).some((l) => l.endsWith('…')), 'no file name is cut');
  const cut = runIgSync(['run', 'trace_open', '--host', '-t', '1', '--filter', 'proc.comm==node', '--annotate', 'open.fname:columns.maxwidth=20'], { timeoutMs: 30000 });
  assert.equal(cut.code, 0, cut.stderr);
  const rows = cut.stdout.split('\n').slice(1).filter((l) => l.includes('/'));
  assert.ok(rows.length > 0, cut.stdout.slice(0, 300));
  for (const r of rows) assert.ok(r.slice(r.indexOf('/')).length <= 20, r);
});
