// trace_capabilities: chroot(2) needs CAP_SYS_CHROOT. As root the check passes; as uid 65534 it fails. The
// event names the capability, the result, the syscall and the credentials; then the default columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IgProcess } from '../../../test/harness/ig.js';
import { columnsOf } from '../../../test/harness/activity.js';
import { waitOwnProgram } from '../../../test/harness/owned-progs.js';

interface CapEvent {
  timestamp: string;
  proc: { comm: string; pid: number; tid: number; creds: { uid: number; gid: number } };
  current_userns: number; target_userns: number;
  cap: string; cap_raw: number; capable: boolean; syscall: string; syscall_raw: number;
  cap_effective: string; audit: number; insetid: number;
}

const NOBODY = 65534;

function chroot(pids: Set<number>, asNobody: boolean): void {
  const c = spawn('chroot', ['/', 'true'], { stdio: 'ignore', ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}) });
  c.on('error', () => undefined);
  pids.add(c.pid!);
}

test('granted and denied CAP_SYS_CHROOT checks of chroot(2)', async () => {
  const ig = new IgProcess(['run', 'trace_capabilities', '--host', '-o', 'json', '--comm', 'chroot']);
  const root = new Set<number>();
  const nobody = new Set<number>();
  try {
    const isChroot = (e: CapEvent) => e.cap === 'CAP_SYS_CHROOT' && e.syscall === 'chroot';
    const ok = await ig.waitFor<CapEvent>((e) => root.has(e.proc.pid) && isChroot(e), () => chroot(root, false));
    const denied = await ig.waitFor<CapEvent>((e) => nobody.has(e.proc.pid) && isChroot(e), () => chroot(nobody, true));
    await ig.stop();

    assert.equal(ok.capable, true);
    assert.equal(ok.cap_raw, 18);
    assert.equal(ok.syscall_raw, 161);
    assert.equal(ok.proc.comm, 'chroot');
    assert.equal(ok.proc.creds.uid, 0);
    assert.match(ok.cap_effective, /CAP_SYS_CHROOT/);
    assert.ok(ok.current_userns > 0);
    assert.equal(ok.current_userns, ok.target_userns);

    assert.equal(denied.capable, false);
    assert.equal(denied.proc.creds.uid, NOBODY);
    assert.equal(denied.proc.creds.gid, NOBODY);
    assert.equal(denied.cap_effective, '', 'uid 65534 has no effective capabilities');
    // The cap_capable tracepoint has no audit/insetid information.
    assert.equal(denied.audit, -1);
    assert.equal(denied.insetid, -1);
    // --comm is applied in the kernel.
    assert.ok(ig.events<CapEvent>().every((e) => e.proc.comm === 'chroot'));
  } finally {
    await ig.stop();
  }
});

test('--unique reports a capability once per container (mount namespace)', async () => {
  const ig = new IgProcess(['run', 'trace_capabilities', '--host', '-o', 'json', '--comm', 'chroot', '--unique']);
  const pids = new Set<number>();
  try {
    await ig.waitFor<CapEvent>((e) => pids.has(e.proc.pid) && e.cap === 'CAP_SYS_CHROOT', () => chroot(pids, false));
    // More chroots: no second CAP_SYS_CHROOT event.
    for (let i = 0; i < 5; i++) chroot(pids, false);
    await new Promise((r) => setTimeout(r, 500));
    await ig.stop();
    assert.equal(ig.events<CapEvent>().filter((e) => e.cap === 'CAP_SYS_CHROOT').length, 1);
  } finally {
    await ig.stop();
  }
});

test('columns: COMM PID TID UID GID CAP CAPABLE AUDIT SYSCALL (AUDIT shown, as upstream\'s gadget.yaml says)', async () => {
  const ig = new IgProcess(['run', 'trace_capabilities', '--host', '--comm', 'chroot']);
  const { header, row } = await columnsOf(ig, /CAP_SYS_CHROOT\s+false\s+-1\s+chroot/, () => chroot(new Set(), true));
  assert.match(header, /COMM\s+PID\s+TID\s+UID\s+GID\s+CAP\s+CAPABLE\s+AUDIT\s+SYSCALL/);
  assert.match(row, new RegExp(`chroot\\s+\\d+\\s+\\d+\\s+${NOBODY}\\s+${NOBODY}\\s`));
});

test('--collect-ustack fills ustack.addresses/.symbols (upstream layout); --collect-kstack=false leaves kstack empty', async () => {
  const ig = new IgProcess(['run', 'trace_capabilities', '--host', '-o', 'json', '--comm', 'chroot', '--collect-ustack', '--collect-kstack=false']);
  const pids = new Set<number>();
  try {
    type WithStacks = CapEvent & { kstack: string; ustack: { addresses: string; symbols: string; inode: number; stack_id: number; tgid_level0: number } };
    const ev = await ig.waitFor<WithStacks>((e) => pids.has(e.proc.pid) && e.cap === 'CAP_SYS_CHROOT', () => chroot(pids, false));
    assert.equal(ev.kstack, '');
    assert.match(ev.ustack.addresses, /^(0x[0-9a-f]+; )+$/);
    // one entry per address: a symbol, or the address when the process is gone before symbolisation
    assert.equal(ev.ustack.symbols.split('; ').length, ev.ustack.addresses.split('; ').length);
    assert.ok(ev.ustack.inode > 0);
    assert.equal(ev.ustack.tgid_level0, ev.proc.pid);
  } finally {
    await ig.stop();
  }
  // without the flag the struct is zeroed, as upstream
  const plain = new IgProcess(['run', 'trace_capabilities', '--host', '-o', 'json', '--comm', 'chroot']);
  const more = new Set<number>();
  try {
    type WithStacks = CapEvent & { kstack: string; ustack: { addresses: string; inode: number } };
    const ev = await plain.waitFor<WithStacks>((e) => more.has(e.proc.pid) && e.cap === 'CAP_SYS_CHROOT', () => chroot(more, false));
    assert.equal(ev.ustack.addresses, '');
    assert.equal(ev.ustack.inode, 0);
    assert.match(ev.kstack, /^\[0\]cap_capable; /);
  } finally {
    await plain.stop();
  }
});

test('--audit-only: the tracepoint cannot tell audited checks, so nothing is reported', async () => {
  const ig = new IgProcess(['run', 'trace_capabilities', '--host', '-o', 'json', '--comm', 'chroot', '--audit-only']);
  const pids = new Set<number>();
  try {
    await waitOwnProgram(ig.pid, 'ig_trace_cap');
    for (let i = 0; i < 3; i++) chroot(pids, false);
    await new Promise((r) => setTimeout(r, 1000));
    await ig.stop();
    assert.deepEqual(ig.events<CapEvent>().filter((e) => pids.has(e.proc.pid)), []);
  } finally {
    await ig.stop();
  }
});
