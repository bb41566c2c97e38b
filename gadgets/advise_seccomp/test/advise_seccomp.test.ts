// advise_seccomp: a shell in a mount namespace of its own opens a file and sleeps in a loop; when the gadget
// stops, its WASM module turns that namespace's syscall bitmap into a seccomp profile that allows exactly what
// the shell did (and nothing it did not do).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { runIgSync } from '../../../test/harness/ig.js';

interface Profile { defaultAction: string; architectures: string[]; syscalls: { names: string[]; action: string }[] }

test('a seccomp profile for the syscalls of one mount namespace', async () => {
  const child = spawn('unshare', ['-m', 'sh', '-c', 'while :; do cat /etc/hostname > /dev/null; sleep 0.2; done'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const ino = /mnt:\[(\d+)\]/.exec(readlinkSync(`/proc/${child.pid}/ns/mnt`))![1];
    const r = runIgSync(['run', 'advise_seccomp', '--host', '-o', 'advise:json,syscalls:none', '--timeout', '3']);
    assert.equal(r.code, 0, r.stderr);
    const texts = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { text: string }).text);
    const ours = texts.find((t) => t.startsWith(`// mntns ${ino}\n`));
    assert.ok(ours, `no profile for mntns ${ino} among ${texts.map((t) => t.split('\n')[0]).join(', ')}`);
    const profile = JSON.parse(ours.slice(ours.indexOf('\n') + 1)) as Profile;
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(profile.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const names = profile.syscalls[0]!.names;
    assert.equal(profile.syscalls[0]!.action, 'SCMP_ACT_ALLOW');
    for (const want of ['openat', 'read', 'execve', 'clock_nanosleep', 'wait4']) assert.ok(names.includes(want), `${want} in ${names.join(',')}`);
    for (const not of ['bpf', 'perf_event_open', 'mount', 'reboot']) assert.ok(!names.includes(not), `${not} not in the profile`);
    assert.deepEqual([...names].sort(), names, 'sorted');
  } finally {
    child.kill('SIGKILL');
  }
});
