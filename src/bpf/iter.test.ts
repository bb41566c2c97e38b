// BPF iterators through the typed owners: which targets this kernel loads and runs (the probe behind the facts in
// docs/architecture.md), and Link.readIterator's reading: records straddling reads, a new walk per read, a kernel
// error in the middle of a walk, a program that writes nothing, a target no kernel has.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BpfObject } from './object.js';
import { compileBpf, orphanedPrograms, removeBuildDir, setupKernel, skipReason, waitFor } from './testutil.js';

const TASK_REC = 13; // struct task_rec in testdata/iter.bpf.c

/** Iterator targets of this kernel's BTF (bpf_map_elem and cgroup need a map / cgroup at attach: probed without). */
const TARGETS = ['task', 'task_file', 'task_vma', 'tcp', 'udp', 'unix', 'netlink', 'ipv6_route', 'bpf_map', 'bpf_prog', 'bpf_link', 'ksym', 'cgroup', 'kmem_cache', 'bpf_map_elem_count'];
/** The ones upstream's snapshot gadgets use (snapshot_process, snapshot_file, snapshot_socket) and ksym. */
const NEEDED = ['task', 'task_file', 'tcp', 'udp', 'ksym'];

function openOnly(path: string, prog: string): BpfObject {
  const o = BpfObject.open(path, 'igt_iter');
  for (const p of o.programs()) o.setAutoload(p.name, p.name === prog);
  return o;
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

function taskRecords(buf: Buffer): Map<number, string> {
  assert.equal(buf.length % TASK_REC, 0, `${buf.length} bytes is not a whole number of ${TASK_REC}-byte records`);
  const out = new Map<number, string>();
  for (let o = 0; o < buf.length; o += TASK_REC) {
    const tgid = buf.readUInt32LE(o);
    assert.equal(buf.readUInt32LE(o + 4), tgid, 'only thread-group leaders are written');
    out.set(tgid, buf.toString('latin1', o + 8, o + 13).replace(/\0.*$/s, ''));
  }
  return out;
}

describe('BPF iterators', { skip: skipReason }, () => {
  let path = '';
  before(() => {
    setupKernel();
    path = compileBpf('iter');
  });
  after(async () => {
    removeBuildDir();
    await waitFor(() => orphanedPrograms(['igt_it_']).length === 0, 3000, 50);
    assert.deepEqual(orphanedPrograms(['igt_it_']), []);
  });

  it('probe: which iterator targets load, attach and run here', (t) => {
    const facts: Record<string, string> = {};
    for (const target of TARGETS) {
      const o = openOnly(path, `igt_it_${target}`);
      try {
        o.load();
        const l = o.attachIter(`igt_it_${target}`);
        const n = l.readIterator().length / (target === 'task' ? TASK_REC : 8);
        facts[target] = `${n} objects`;
      } catch (e) {
        facts[target] = `refused: ${(e as Error).message.split('\n')[0]}`;
      } finally {
        o.close();
      }
    }
    t.diagnostic(JSON.stringify(facts));
    for (const target of NEEDED) assert.match(facts[target]!, /^\d+ objects$/, `iter/${target}: ${facts[target]}`);
    // ig itself is a task with open files: the walks cannot be empty
    assert.notEqual(facts.task, '0 objects');
    assert.notEqual(facts.task_file, '0 objects');
  });

  it('records straddling reads come out whole, and each read is a new walk that sees a new process', async () => {
    const o = openOnly(path, 'igt_it_task');
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      o.load();
      const l = o.attachIter('igt_it_task');
      // 7 bytes per read(): every 13-byte record is split over two or three reads
      const small = taskRecords(l.readIterator(null, 7));
      const big = taskRecords(l.readIterator());
      for (const m of [small, big]) {
        assert.equal(m.get(process.pid), readFileSync('/proc/self/comm', 'latin1').slice(0, 5).trim());
        assert.equal(m.get(child.pid!), 'sleep');
      }
    } finally {
      child.kill();
      o.close();
    }
  });

  it('a kernel error in the middle of a walk is thrown with its errno, after the bytes that came before; no fd is left', () => {
    const o = openOnly(path, 'igt_it_fail');
    try {
      const fa = Buffer.alloc(4);
      fa.writeUInt32LE(3);
      o.setVar('fail_after', fa);
      o.load();
      const l = o.attachIter('igt_it_fail');
      const fds = fdCount();
      assert.throws(() => l.readIterator(), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'EAGAIN');
        assert.match(e.message, /iterator: read after 24 bytes/);
        return true;
      });
      assert.equal(fdCount(), fds);
    } finally {
      o.close();
    }
  });

  it('a program that writes nothing reads as an empty buffer', () => {
    const o = openOnly(path, 'igt_it_none');
    try {
      o.load();
      const l = o.attachIter('igt_it_none');
      assert.equal(l.readIterator().length, 0);
      assert.equal(l.readIterator(null, 1).length, 0);
    } finally {
      o.close();
    }
  });

  it('a target no kernel has fails at load with the reason; a destroyed link cannot be read', () => {
    const o = openOnly(path, 'igt_it_unknown');
    try {
      assert.throws(() => o.load(), /igt_it_unknown|bpf_iter_igt_no_such_target/);
    } finally {
      o.close();
    }
    const t = openOnly(path, 'igt_it_none');
    try {
      t.load();
      const l = t.attachIter('igt_it_none');
      l.destroy();
      assert.throws(() => l.readIterator(), /link destroyed/);
    } finally {
      t.close();
    }
  });

  it('a network iterator walks the namespace it is opened in: a listener in a namespace of this test is there, not in ig\'s own', async () => {
    const ns = `ig-hiter-it-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    const o = openOnly(path, 'igt_it_tcp');
    const listener = spawn('ip', ['netns', 'exec', ns, 'python3', '-c',
      'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((res, rej) => {
        listener.stdout!.once('data', (d: Buffer) => res(Number(d.toString().trim())));
        listener.once('exit', () => rej(new Error('listener exited')));
      });
      o.load();
      const l = o.attachIter('igt_it_tcp');
      const ports = (b: Buffer) => [...Array(b.length / 8).keys()].map((k) => Number(b.readBigUInt64LE(k * 8)));
      const inNs = ports(l.readIterator(`/run/netns/${ns}`));
      assert.deepEqual(inNs, [port], 'the only TCP socket of the new namespace');
      const own = createServer();
      await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
      try {
        assert.ok(ports(l.readIterator()).includes((own.address() as AddressInfo).port), 'ig\'s own namespace walked without a path');
      } finally {
        own.close();
      }
      assert.throws(() => l.readIterator(`/run/netns/${ns}-absent`), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ENOENT');
        assert.match(e.message, /^iterator in \/run\/netns\/ig-hiter-it-\d+-absent: open netns/);
        return true;
      });
    } finally {
      listener.kill();
      o.close();
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
