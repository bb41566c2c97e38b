// mountBpfFilesystems and the /proc/mounts parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BPF_FILESYSTEMS, isMounted, mountBpfFilesystems, readMounts } from './mounts.js';

describe('mounts', () => {
  it('parses /proc/mounts lines, including octal escapes', () => {
    const m = readMounts('bpf /sys/fs/bpf bpf rw,nosuid 0 0\n/dev/sda1 /mnt/with\\040space ext4 rw 0 0\n');
    assert.deepEqual(m, [
      { source: 'bpf', path: '/sys/fs/bpf', fstype: 'bpf' },
      { source: '/dev/sda1', path: '/mnt/with space', fstype: 'ext4' },
    ]);
    assert.equal(isMounted('bpf', '/sys/fs/bpf', m), true);
    assert.equal(isMounted('tracefs', '/sys/kernel/tracing', m), false);
  });

  it('mounts bpffs, tracefs and debugfs when missing, and is idempotent', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
    mountBpfFilesystems();
    for (const p of BPF_FILESYSTEMS) assert.ok(isMounted(p.fstype, p.path), `${p.fstype} at ${p.path}`);
    const again = mountBpfFilesystems();
    assert.ok(again.every((r) => !r.mounted), 'nothing mounted the second time');
  });
});
