// trace_malloc in containers: uprobes go on the libc each selected container sees (through /proc/<pid>/root),
// not only the host's. The containers run from a root filesystem of their own (a private containerd, `ctr run
// --rootfs`) holding a small dynamically linked C program and a COPY of the host's loader and libc: a file with
// another inode than the host's libc, so a uprobe on the host's file alone cannot see the program's calls.
// Two containers share that root: one link serves both (one file), and it goes when the last of them does;
// the second container starts while ig runs. A container without libc (the harness's busybox-static image) is
// skipped with a warning.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { containerdAvailable, startContainerd, type ContainerdHarness } from '../../../test/harness/containerd.js';
import { IgProcess } from '../../../test/harness/ig.js';
import { waitFor } from '../../../test/containers/proc-util.js';

interface MallocEvent {
  operation: string; size: number;
  proc: { comm: string; pid: number };
  runtime: { containerName: string };
}

/** A size nobody else allocates: the program's calls are recognised by it. */
const SIZE = 7654321;
const PROGRAM = `#include <stdlib.h>
#include <unistd.h>
int main(void) {
  for (;;) {
    void *volatile p = malloc(${SIZE});
    free(p);
    usleep(100000);
  }
}
`;

const skip = containerdAvailable() && fs.existsSync('/usr/bin/gcc') ? false : 'needs root, containerd, runc and gcc';

/** A root filesystem: the program, and copies (new inodes) of the loader and libc at their usual paths. */
function buildRootfs(dir: string): { rootfs: string; libc: string } {
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'lib/x86_64-linux-gnu', 'lib64']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.writeFileSync(path.join(dir, 'mallocer.c'), PROGRAM);
  execFileSync('gcc', ['-O1', '-o', path.join(rootfs, 'bin', 'mallocer'), path.join(dir, 'mallocer.c')]);
  // The libraries the program needs, by the paths ldd names, copied whole (symlinks resolved).
  const ldd = execFileSync('ldd', [path.join(rootfs, 'bin', 'mallocer')], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
    const p = m[1]!;
    fs.mkdirSync(path.join(rootfs, path.dirname(p)), { recursive: true });
    fs.copyFileSync(fs.realpathSync(p), path.join(rootfs, p));
  }
  const libc = path.join(rootfs, 'lib', 'x86_64-linux-gnu', 'libc.so.6');
  assert.ok(fs.existsSync(libc), `libc copied into the rootfs (ldd said: ${ldd})`);
  return { rootfs, libc };
}

describe('trace_malloc: uprobes in each container\'s own libc', { skip, timeout: 300_000 }, () => {
  let h: ContainerdHarness;
  let dir: string;
  let rootfs: string;
  let libcIno: number;
  const tag = randomBytes(3).toString('hex');
  const names = [`h11up-a-${tag}`, `h11up-b-${tag}`];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-h11-uprobe-'));
    const r = buildRootfs(dir);
    rootfs = r.rootfs;
    libcIno = fs.statSync(r.libc).ino;
    assert.notEqual(libcIno, fs.statSync('/lib/x86_64-linux-gnu/libc.so.6').ino, 'the container\'s libc is another file');
    h = await startContainerd();
  });

  after(async () => {
    await h?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const igArgs = (extra: string[]) => ['run', 'trace_malloc', '-o', 'json', '-v', '-r', 'containerd',
    '--containerd-socketpath', h.socket, '--containerd-namespace', h.namespace, ...extra];

  test('events from a container\'s copy of libc, with its name; a late container shares the link; links go with the containers', async () => {
    const [a, b] = names as [string, string];
    const ca = await h.runRootfs(a, rootfs, ['/bin/mallocer']);
    const ig = new IgProcess(igArgs(['-c', `${a},${b}`]));
    try {
      const evA = await ig.waitFor<MallocEvent>((e) => e.operation === 'malloc' && e.size === SIZE && e.runtime?.containerName === a, () => {}, { timeoutMs: 60_000 });
      assert.equal(evA.proc.comm, 'mallocer');
      // The link is on the container's file (its inode), seen through its init's root; none on the host's.
      const attachedA = new RegExp(`uprobe trace_uprobe_malloc: attached to /proc/${ca.pid}/root/lib/x86_64-linux-gnu/libc\\.so\\.6 \\(\\d+:${libcIno}\\) in container ${a}`);
      assert.match(ig.stderr, attachedA);
      assert.doesNotMatch(ig.stderr, /uprobe \w+: attached to .* on this host/);

      // A container that starts later, from the same root (the same libc file): its events come through the
      // link already there, none is added.
      await h.runRootfs(b, rootfs, ['/bin/mallocer']);
      await ig.waitFor<MallocEvent>((e) => e.operation === 'malloc' && e.size === SIZE && e.runtime?.containerName === b, () => {}, { timeoutMs: 30_000 });
      assert.match(ig.stderr, new RegExp(`uprobe trace_uprobe_malloc: \\S+libc\\.so\\.6 \\(\\d+:${libcIno}\\) already attached, shared in container ${b}`));
      assert.equal((ig.stderr.match(/uprobe trace_uprobe_malloc: attached to/g) ?? []).length, 1, 'one link for the one file');

      // The first container goes: the link stays for the second; then the second goes: the link is released.
      await h.kill(a);
      await new Promise((r) => setTimeout(r, 1000));
      assert.doesNotMatch(ig.stderr, /uprobe trace_uprobe_malloc: detached/);
      const seen = ig.events<MallocEvent>().length;
      await waitFor('events of the second container after the first left', async () => ig.events<MallocEvent>().slice(seen).some((e) => e.runtime?.containerName === b) || undefined, 20_000);
      await h.kill(b);
      await waitFor('the link released with the last container', async () => /uprobe trace_uprobe_malloc: detached from \S+libc\.so\.6/.test(ig.stderr) || undefined, 20_000);
    } finally {
      const res = await ig.stop();
      assert.equal(res.code, 0, res.stderr);
    }
  });

  test('--host: the host\'s libc and the container\'s, one link each; a container without libc is skipped with a warning', async () => {
    const [a] = names as [string];
    const ca = await h.runRootfs(a, rootfs, ['/bin/mallocer']);
    const bare = `h11up-bb-${tag}`; // the harness's busybox-static image: no libc at all
    await h.run(bare, 'sleep 600');
    const ig = new IgProcess(igArgs(['--host', '--comm', 'mallocer']));
    try {
      await ig.waitFor<MallocEvent>((e) => e.operation === 'malloc' && e.size === SIZE && e.runtime?.containerName === a, () => {}, { timeoutMs: 60_000 });
      assert.match(ig.stderr, new RegExp(`uprobe trace_uprobe_malloc: attached to /proc/${ca.pid}/root/\\S+ \\(\\d+:${libcIno}\\) in container ${a}`));
      assert.match(ig.stderr, /uprobe trace_uprobe_malloc: attached to \/\S+libc\S* \(\d+:\d+\) on this host/);
      assert.match(ig.stderr, new RegExp(`WARN: .*program trace_uprobe_malloc: library libc not found in container ${bare}; uprobe libc:malloc skipped`));
    } finally {
      const res = await ig.stop();
      await h.kill(a);
      await h.kill(bare);
      assert.equal(res.code, 0, res.stderr);
    }
  });
});
