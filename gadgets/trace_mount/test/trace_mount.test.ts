// trace_mount: mount a tmpfs on a temporary directory and unmount it (mount(8)/umount(8) children), a failed
// umount, and the default columns. The directory is unmounted and removed even when a test fails.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf } from '../../../test/harness/activity.js';

interface MountEvent {
  timestamp: string;
  proc: { comm: string; pid: number; tid: number; creds: { uid: number }; parent: { pid: number } };
  op: string; op_raw: number; fs: string; src: string; dest: string; data: string; flags: string; flags_raw: number;
  error: string; error_raw: number; delta_raw: number;
}

const dir = mkdtempSync(join(tmpdir(), 'ig-mount-'));
const source = `igtest-${process.pid}`;

function mounted(): boolean {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir);
}

after(() => {
  while (mounted()) spawnSync('umount', ['-l', dir]);
  rmdirSync(dir);
});

/** mount + umount; returns the two children's pids. */
function cycle(): { mount: number; umount: number } {
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', source, dir]);
  assert.equal(m.status, 0, String(m.stderr));
  const u = spawnSync('umount', [dir]);
  assert.equal(u.status, 0, String(u.stderr));
  return { mount: m.pid!, umount: u.pid! };
}

test('mount and umount of a tmpfs: source, target, type, flags, data', async () => {
  const ig = new IgProcess(['run', 'trace_mount', '--host', '-o', 'json']);
  const pids = new Map<number, 'mount' | 'umount'>();
  try {
    // Both calls of one cycle: a cycle poked while the programs were still being attached can show its umount only.
    const isMount = (e: MountEvent) => pids.get(e.proc.pid) === 'mount' && e.dest === dir;
    const um = await ig.waitFor<MountEvent>((e) => pids.get(e.proc.pid) === 'umount' && e.dest === dir && ig.events<MountEvent>().some(isMount), () => {
      const p = cycle();
      pids.set(p.mount, 'mount');
      pids.set(p.umount, 'umount');
    });
    await ig.stop();
    const m = ig.events<MountEvent>().find(isMount)!;
    assert.ok(m, ig.stdout.slice(0, 1000));
    assert.equal(m.op, 'MOUNT');
    assert.equal(m.proc.comm, 'mount');
    assert.equal(m.fs, 'tmpfs');
    assert.equal(m.src, source);
    assert.equal(m.dest, dir);
    assert.equal(m.data, 'size=1m');      // mount(8) turns "ro" into MS_RDONLY
    assert.equal(m.flags, 'MS_RDONLY');
    assert.equal(m.error, '');
    assert.equal(m.proc.parent.pid, process.pid);
    assert.ok(m.delta_raw > 0);

    assert.equal(um.op, 'UMOUNT');
    assert.equal(um.proc.comm, 'umount');
    assert.equal(um.error, '');
    assert.equal(um.fs, '');
  } finally {
    await ig.stop();
  }
});

test('a failed umount carries its error', async () => {
  const ig = new IgProcess(['run', 'trace_mount', '--host', '-o', 'json']);
  const pids = new Set<number>();
  try {
    // The directory is not a mount point now: EINVAL.
    const ev = await ig.waitFor<MountEvent>((e) => pids.has(e.proc.pid) && e.dest === dir, () => { pids.add(spawnSync('umount', [dir]).pid!); });
    assert.equal(ev.op, 'UMOUNT');
    assert.equal(ev.error, 'EINVAL');
    assert.equal(ev.error_raw, 22);
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID FLAGS ERROR FS SRC OP DEST (the mount point, a path, last and never cut)', async () => {
  const ig = new IgProcess(['run', 'trace_mount', '--host']);
  const { header, row } = await columnsOf(ig, new RegExp(`tmpfs\\s+${source}\\s`), () => cycle());
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+FLAGS\s+ERROR\s+FS\s+SRC\s+OP\s+DEST$/);
  assert.match(row, /MS_RDONLY/);
  assert.match(row, /\sMOUNT\s/);
  assert.ok(row.endsWith(` ${dir}`), `row ends with the whole mount point ${dir}: ${row}`);
});
