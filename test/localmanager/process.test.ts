/**
 * Process enrichment (src/operators/process): `proc.exe` from /proc/<pid>/exe, cached per (pid, start time,
 * comm) in a small LRU, empty when the process is gone; end to end through `ig run trace_open` for a host
 * process and for a process inside a containerd container (its exe is shown as the container sees it).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Batch, DataSource, Kind } from '../../src/datasource/index.js';
import { ExeResolver, installProcessEnricher } from '../../src/operators/process/operator.js';
import { IgProcess } from '../harness/ig.js';
import { containerdAvailable, startContainerd } from '../harness/containerd.js';
import { waitFor } from '../containers/proc-util.js';

function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) => { if (c.exitCode !== null || c.signalCode !== null) r(); else c.once('exit', () => r()); });
}

describe('ExeResolver', () => {
  test('resolves a live process, caches it, and is empty for a gone one', async () => {
    let now = 0;
    const r = new ExeResolver(8, 1000, () => now);
    const self = fs.readlinkSync('/proc/self/exe');
    assert.equal(r.exe(process.pid, 'node'), self);
    assert.equal(r.readlinks, 1);
    assert.equal(r.exe(process.pid, 'node'), self);
    assert.equal(r.readlinks, 1, 'second lookup is a cache hit');
    const stats = r.statReads;
    assert.equal(r.exe(process.pid, 'node'), self);
    assert.equal(r.statReads, stats, 'within the revalidation period no /proc read at all');
    now += 1500;
    assert.equal(r.exe(process.pid, 'node'), self);
    assert.equal(r.statReads, stats + 1, 'after it, the start time is read once more');
    assert.equal(r.readlinks, 1);

    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await waitFor('sleep running', () => { try { return fs.readlinkSync(`/proc/${child.pid}/exe`).endsWith('/sleep'); } catch { return false; } });
      assert.equal(r.exe(child.pid!, 'sleep'), fs.readlinkSync(`/proc/${child.pid}/exe`));
      // another comm for the same pid = an exec happened: resolved afresh
      const before = r.readlinks;
      r.exe(child.pid!, 'other');
      assert.equal(r.readlinks, before + 1);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
    // gone: a fresh resolver has nothing; the cached one answers until it revalidates, then drops it
    assert.equal(new ExeResolver().exe(child.pid!, 'sleep'), '');
    now += 1500;
    assert.equal(r.exe(child.pid!, 'sleep'), '');
    const reads = r.statReads;
    assert.equal(r.exe(child.pid!, 'sleep'), '');
    assert.equal(r.statReads, reads, 'the miss is cached as well');
    assert.equal(r.exe(0), '');
    assert.equal(r.exe(-1), '');
  });

  test('LRU keeps at most `max` entries', () => {
    const r = new ExeResolver(2);
    for (const comm of ['a', 'b', 'c', 'd']) r.exe(process.pid, comm);
    assert.equal(r.size, 2);
  });
});

describe('installProcessEnricher', () => {
  test('adds a hidden derived proc.exe to data sources with a gadget_process struct', () => {
    const ds = new DataSource('x', 'single');
    ds.staticSize = 24;
    const proc = ds.addField({ name: 'proc', kind: Kind.Bytes, tags: ['type:gadget_process'], storage: { type: 'static', offs: 0, size: 24 } });
    ds.addField({ name: 'comm', parent: proc, kind: Kind.CString, storage: { type: 'static', offs: 0, size: 16 } });
    ds.addField({ name: 'pid', parent: proc, kind: Kind.Uint32, storage: { type: 'static', offs: 16, size: 4 } });
    assert.equal(installProcessEnricher(ds, new ExeResolver()), 1);
    assert.equal(installProcessEnricher(ds, new ExeResolver()), 0, 'only once');
    const exe = ds.getField('proc.exe')!;
    assert.equal(exe.hidden, true);
    assert.equal(exe.storage.type, 'derived');
    const b = Batch.empty(ds, 2);
    b.buf.write('node', 0);
    b.buf.writeUInt32LE(process.pid, 16);
    b.buf.writeUInt32LE(0, 24 + 16);
    assert.equal(exe.get(b, 0), fs.readlinkSync('/proc/self/exe'));
    assert.equal(exe.get(b, 1), '');
  });

  test('data sources without a process struct get nothing', () => {
    const ds = new DataSource('y', 'single');
    ds.addField({ name: 'pid', kind: Kind.Uint32, storage: { type: 'static', offs: 0, size: 4 } });
    assert.equal(installProcessEnricher(ds), 0);
  });
});

describe('proc.exe through ig run trace_open', { skip: process.getuid?.() === 0 ? false : 'needs root' }, () => {
  const marker = path.join(os.tmpdir(), `ig-proc-${randomBytes(4).toString('hex')}`);
  const igs: IgProcess[] = [];
  after(async () => {
    for (const ig of igs) await ig.stop();
    fs.rmSync(marker, { force: true });
  });

  test('a host process: proc.exe is its executable; hidden in columns unless asked for', async () => {
    fs.writeFileSync(marker, 'x');
    // a long-lived host process that opens the marker
    const opener = spawn(process.execPath, ['-e', `const fs=require('fs');setInterval(()=>fs.closeSync(fs.openSync(${JSON.stringify(marker)},'r')),100)`], { stdio: 'ignore' });
    try {
      const ig = new IgProcess(['run', 'trace_open', '--host', '-o', 'json', '--pid', String(opener.pid)]);
      igs.push(ig);
      const e = await ig.waitFor<{ fname: string; proc: { pid: number; exe: string } }>((x) => x.fname === marker, () => undefined);
      assert.equal(e.proc.pid, opener.pid);
      assert.equal(e.proc.exe, fs.readlinkSync(`/proc/${opener.pid}/exe`));
      await ig.stop();

      const cols = new IgProcess(['run', 'trace_open', '--host', '--pid', String(opener.pid)]);
      igs.push(cols);
      await waitFor('a columns line', () => cols.stdout.includes(marker), 20_000);
      await cols.stop();
      assert.doesNotMatch(cols.stdout.split('\n')[0]!, /EXE/);

      const asked = new IgProcess(['run', 'trace_open', '--host', '--pid', String(opener.pid), '--fields', 'proc.comm,proc.pid,proc.exe,fname']);
      igs.push(asked);
      await waitFor('a columns line with exe', () => asked.stdout.includes(marker), 20_000);
      await asked.stop();
      const lines = asked.stdout.trim().split('\n');
      assert.match(lines[0]!, /^COMM\s+PID\s+EXE\s+FNAME/);
      assert.ok(lines.slice(1).some((l) => l.includes(fs.readlinkSync(`/proc/${opener.pid}/exe`).slice(0, 20))), asked.stdout);
    } finally {
      opener.kill('SIGKILL');
      await exited(opener);
    }
  });

  test('a container process: proc.exe as the container sees it', { skip: containerdAvailable() ? false : 'needs containerd' }, async () => {
    const h = await startContainerd();
    try {
      // `read < file` is a shell builtin: the long-lived sh itself opens the file
      await h.run('exe-c', 'while true; do read x < /etc/passwd; sleep 0.2; done');
      const ig = new IgProcess(['run', 'trace_open', '-o', 'json', '-c', 'exe-c', '-r', 'containerd', '--containerd-socketpath', h.socket, '--containerd-namespace', h.namespace]);
      igs.push(ig);
      const e = await ig.waitFor<{ fname: string; proc: { comm: string; exe: string }; runtime: { containerName: string } }>((x) => x.fname === '/etc/passwd', () => undefined);
      assert.equal(e.runtime.containerName, 'exe-c');
      assert.equal(e.proc.comm, 'sh');
      assert.equal(e.proc.exe, '/bin/busybox');
      await ig.stop();
    } finally {
      await h.stop();
    }
  });
});
