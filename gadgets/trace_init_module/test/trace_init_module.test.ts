// trace_init_module: this kernel has no CONFIG_MODULES, so init_module(2) and finit_module(2) fail with
// ENOSYS; the gadget (raw sys_enter/sys_exit tracepoints) reports the attempts with their parameters. The
// per-syscall tracepoints upstream uses do not exist here: ig says so in one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { IgProcess, runIgSync } from '../../../test/harness/ig.js';
import { columnsOf, PYTHON } from '../../../test/harness/activity.js';
import { buildVariant } from '../../../test/harness/variant.js';

interface InitEvent {
  timestamp: string;
  proc: { comm: string; pid: number; tid: number; creds: { uid: number } };
  syscall: string; syscall_raw: number; param_values: string; error: string; error_raw: number;
  len: number; fd: number; flags: number; filepath: string;
}

const modules = existsSync('/proc/modules');

// finit_module(fd of /etc/hostname, "foo=bar", 0) then init_module(16-byte image, 16, "x=1"); prints errnos.
const SCRIPT = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/etc/hostname", os.O_RDONLY)
libc.syscall(313, fd, b"foo=bar", 0)
e1 = ctypes.get_errno()
img = ctypes.create_string_buffer(16)
libc.syscall(175, img, ctypes.c_ulong(16), b"x=1")
print(fd, e1, ctypes.get_errno())
`;

function attempt(pids: Set<number>): void {
  const c = spawn(PYTHON, ['-c', SCRIPT], { stdio: 'ignore' });
  pids.add(c.pid!);
}

test('init_module and finit_module attempts fail with ENOSYS: parameters, file, length', { skip: modules ? 'this kernel has module support' : false }, async () => {
  const ig = new IgProcess(['run', 'trace_init_module', '--host', '-o', 'json']);
  const pids = new Set<number>();
  try {
    const done = (pid: number) => ig.events<InitEvent>().filter((e) => e.proc.pid === pid).length >= 2;
    await ig.waitFor<InitEvent>((e) => pids.has(e.proc.pid) && done(e.proc.pid), () => attempt(pids), { everyMs: 500 });
    await ig.stop();
    const pid = [...pids].find(done)!;
    const [fin, init] = ig.events<InitEvent>().filter((e) => e.proc.pid === pid) as [InitEvent, InitEvent];

    assert.equal(fin.syscall, 'finit_module');
    assert.equal(fin.param_values, 'foo=bar');
    assert.equal(fin.filepath, '/etc/hostname');
    assert.ok(fin.fd >= 3, String(fin.fd));
    assert.equal(fin.flags, 0);
    assert.equal(fin.error, 'ENOSYS');
    assert.equal(fin.error_raw, 38);
    assert.equal(fin.proc.comm, 'python3');
    assert.equal(fin.proc.creds.uid, process.getuid!());

    assert.equal(init.syscall, 'init_module');
    assert.equal(init.param_values, 'x=1');
    assert.equal(init.len, 16);
    assert.equal(init.filepath, '');
    assert.equal(init.error, 'ENOSYS');
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID SYSCALL PARAM_VALUES ERROR LEN FD FLAGS FILEPATH (as upstream\'s gadget.yaml shows them)', async () => {
  const ig = new IgProcess(['run', 'trace_init_module', '--host', '--comm', 'python3']);
  const { header, row } = await columnsOf(ig, /finit_module\s+foo=bar/, () => attempt(new Set()));
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+SYSCALL\s+PARAM_VALUES\s+ERROR\s+LEN\s+FD\s+FLAGS\s+FILEPATH/);
  assert.match(row, /python3/);
  assert.match(row, /\/etc\/hostname$/);
});

test('upstream\'s syscalls/sys_enter_init_module tracepoint is absent here: one line says so', { skip: modules ? 'this kernel has module support' : false }, () => {
  const v = buildVariant('trace_init_module', `
SEC("tracepoint/syscalls/sys_enter_init_module")
int ig_upstream_init_e(void *ctx) { return 0; }`);
  try {
    const r = runIgSync(['run', v.image, '--host', '--timeout', '2'], { env: v.env });
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /program ig_upstream_init_e: tracepoint syscalls\/sys_enter_init_module does not exist on this kernel/);
  } finally {
    v.cleanup();
  }
});
