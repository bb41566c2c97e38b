// snapshot_file: a child holds a regular file, a directory, a pipe and a socket open at known descriptors;
// the snapshot (an on-demand program run with BPF_PROG_TEST_RUN, this kernel having no BPF iterators) lists
// them with their types, inodes, flags and names, filtered by --type-mask and --pid in the kernel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { runIgSync } from '../../../test/harness/ig.js';
import { LineChild } from '../../../test/harness/activity.js';
import { tempDir } from '../../../test/harness/workload.js';
import { ProgTap, waitUnloaded } from '../../../test/harness/owned-progs.js';

interface FileRec {
  mntns_id: number; comm: string; pid: number; tid: number; fd: number; type: string; type_raw: number;
  path: string; inode: number; flags: string; flags_raw: number;
}

const tmp = tempDir('ig-snapshot-file-');
const file = `${tmp.dir}/held-open.txt`;
// opens the file for append, the directory, a pipe and a TCP listener, then prints the descriptors
const HOLDER = `
const fs = require('fs'), net = require('net');
fs.writeFileSync(${JSON.stringify(file)}, 'x');
const f = fs.openSync(${JSON.stringify(file)}, 'a');
const d = fs.openSync(${JSON.stringify(tmp.dir)}, 'r');
const srv = net.createServer().listen(0, '127.0.0.1', () => console.log('fds ' + f + ' ' + d));
setInterval(() => {}, 1000);`;
let holder: LineChild;
let fileFd = 0;
let dirFd = 0;

before(async () => {
  holder = new LineChild(process.execPath, ['-e', HOLDER]);
  const [, f, d] = (await holder.waitLine(/^fds /)).split(' ');
  fileFd = Number(f);
  dirFd = Number(d);
});
const tap = new ProgTap();
after(async () => { await holder?.kill(); tmp.cleanup(); tap.cleanup(); });

function snapshot(args: string[]): FileRec[] {
  const r = runIgSync(['run', 'snapshot_file', '--host', '-o', 'json', '--pid', String(holder.pid), ...args], { timeoutMs: 30000, env: tap.env });
  assert.equal(r.code, 0, r.stderr);
  const arrays = r.stdout.trim().split('\n');
  assert.equal(arrays.length, 1, 'one snapshot, then the gadget ends by itself');
  return JSON.parse(arrays[0]!) as FileRec[];
}

test('default: regular files and directories of the process, last path component, type, inode, flags', () => {
  const recs = snapshot([]);
  assert.ok(recs.length > 0);
  assert.ok(recs.every((r) => r.pid === holder.pid && (r.type === 'REGULAR' || r.type === 'DIRECTORY')), JSON.stringify(recs));
  const f = recs.find((r) => r.fd === fileFd)!;
  assert.ok(f, `fd ${fileFd} in ${JSON.stringify(recs)}`);
  assert.equal(f.type, 'REGULAR');
  assert.equal(f.path, 'held-open.txt');
  assert.equal(f.inode, statSync(file).ino);
  assert.match(f.flags, /O_WRONLY/);
  assert.match(f.flags, /O_APPEND/);
  assert.equal(f.comm, 'node');
  const d = recs.find((r) => r.fd === dirFd)!;
  assert.equal(d.type, 'DIRECTORY');
  assert.equal(d.inode, statSync(tmp.dir).ino);
});

test('--paths gives full paths; --type-mask 511 adds sockets, pipes and the rest', () => {
  const recs = snapshot(['--paths', '--type-mask', '511']);
  assert.equal(recs.find((r) => r.fd === fileFd)?.path, file);
  assert.equal(recs.find((r) => r.fd === dirFd)?.path, tmp.dir);
  const types = new Set(recs.map((r) => r.type));
  assert.ok(types.has('SOCKET'), [...types].join(','));
  assert.ok(types.has('PIPE'), [...types].join(','));
  // only sockets with --type-mask 2
  const socks = snapshot(['--type-mask', '2']);
  assert.ok(socks.length > 0 && socks.every((r) => r.type === 'SOCKET'), JSON.stringify(socks));
});

test('nothing stays loaded', async () => {
  const held = tap.ids();
  assert.ok(held.length > 0, 'the runs of this file loaded programs');
  assert.deepEqual(await waitUnloaded(held), [], 'every program our ig runs loaded is unloaded');
});
