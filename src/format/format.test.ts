// The shared converters: names of errnos, signals and syscalls, open flags, file modes, addresses, units, time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errnoName, signalName, syscallName, fileFlags, fileMode, ipString, PROTOCOLS, humanBytes, humanDuration, formatTimestampNs, TimestampFormatter, u64Mod1e9, targetName } from './index.js';

test('errno, signal and syscall names', () => {
  assert.equal(errnoName(2), 'ENOENT');
  assert.equal(errnoName(-13), 'EACCES');
  assert.equal(errnoName(0), '');
  assert.equal(errnoName(9999), 'error#9999'); // upstream's text for an unknown errno
  assert.equal(signalName(9), 'SIGKILL');
  assert.equal(signalName(34), 'SIGRTMIN');
  assert.equal(signalName(40), 'SIGRTMIN+6');
  assert.equal(signalName(64), 'SIGRTMAX');
  assert.equal(signalName(0), '');
  assert.equal(signalName(99), 'SIG99');
  assert.equal(syscallName(257), 'openat');
  assert.equal(syscallName(100000), 'unknown');
});

test('open flags and file modes', () => {
  assert.equal(fileFlags(0), 'O_RDONLY');
  assert.equal(fileFlags(0o2000000), 'O_RDONLY|O_CLOEXEC');
  assert.equal(fileFlags(0o101), 'O_WRONLY|O_CREAT');
  assert.equal(fileFlags(0o4010002), 'O_RDWR|O_SYNC');
  assert.equal(fileFlags(0o20200000), 'O_RDONLY|O_TMPFILE');
  assert.equal(fileMode(0o100644), '-rw-r--r--');
  assert.equal(fileMode(0o40755), 'drwxr-xr-x');
  assert.equal(fileMode(0o104755), '-rwsr-xr-x');
  assert.equal(fileMode(0o41777), 'drwxrwxrwt');
  assert.equal(fileMode(0o120777), 'lrwxrwxrwx');
});

test('addresses and protocols', () => {
  const b = Buffer.alloc(16);
  b.set([127, 0, 0, 1]);
  assert.equal(ipString(b, 0, 4), '127.0.0.1');
  const v6 = Buffer.alloc(16); v6[15] = 1;
  assert.equal(ipString(v6, 0, 6), '::1');
  const mapped = Buffer.alloc(16); mapped.set([0xff, 0xff, 10, 1, 2, 3], 10);
  assert.equal(ipString(mapped, 0, 6), '::ffff:10.1.2.3');
  const full = Buffer.from('20010db8000100020003000400050006', 'hex');
  assert.equal(ipString(full, 0, 6), '2001:db8:1:2:3:4:5:6');
  assert.equal(ipString(b, 0, 0), '');
  assert.equal(PROTOCOLS[6], 'TCP');
});

test('bytes and durations', () => {
  assert.equal(humanBytes(999), '999 B');
  assert.equal(humanBytes(1500), '1.5 kB');
  assert.equal(humanBytes(12_000_000), '12 MB');
  assert.equal(humanDuration(850), '850ns');
  assert.equal(humanDuration(12340), '12.34µs');
  assert.equal(humanDuration(1_200_000), '1.2ms');
  assert.equal(humanDuration(123_000_000_000), '2m3s');
});

test('timestamps: the cached per-second text equals the direct formatting', () => {
  const ns = 1_764_979_200_123_456_789n;
  const hi = Number(ns >> 32n);
  const lo = Number(ns & 0xffffffffn);
  assert.equal(u64Mod1e9(hi, lo), Number(ns % 1_000_000_000n));
  const tf = new TimestampFormatter();
  assert.equal(tf.format(hi, lo), formatTimestampNs(ns));
  assert.match(formatTimestampNs(ns), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.123456789(Z|[+-]\d\d:\d\d)$/);
  const next = ns + 5n;
  assert.equal(tf.format(Number(next >> 32n), Number(next & 0xffffffffn)), formatTimestampNs(next));
});

test('target names of converted fields', () => {
  const f = (name: string, ann: Record<string, string> = {}) => ({ name, annotation: (k: string) => ann[k] });
  assert.equal(targetName(f('error_raw'), 'errno'), 'error');
  assert.equal(targetName(f('error'), 'errno'), undefined);
  assert.equal(targetName(f('x', { 'formatters.errno.target': 'err' }), 'errno'), 'err');
});
