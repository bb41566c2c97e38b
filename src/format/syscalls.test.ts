// Syscall parameters from the kernel's tracepoint formats, and return values as upstream's traceloop shows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatParams, formatRet, parseSyscallFormat, syscallParams } from './syscalls.js';

const OPENAT = `name: sys_enter_openat
ID: 782
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:int dfd;	offset:16;	size:8;	signed:0;
	field:const char * filename;	offset:24;	size:8;	signed:0;
	field:int flags;	offset:32;	size:8;	signed:0;
	field:umode_t mode;	offset:40;	size:8;	signed:0;
`;

test('tracepoint format: names, pointers and signedness of the parameters', () => {
  assert.deepEqual(parseSyscallFormat(OPENAT), [
    { name: 'dfd', type: 'int', pointer: false, signed: true, size: 4 },
    { name: 'filename', type: 'const char *', pointer: true, signed: false, size: 8 },
    { name: 'flags', type: 'int', pointer: false, signed: true, size: 4 },
    { name: 'mode', type: 'umode_t', pointer: false, signed: false, size: 2 },
  ]);
});

test('parameters of the running kernel: the string replaces the first char pointer', { skip: syscallParams('openat') === null && 'no tracefs syscall events' }, () => {
  const AT_FDCWD = 2n ** 64n - 100n;
  assert.equal(formatParams(257, [AT_FDCWD, 0x7ffc1000, 0x80000, 0], '/etc/hostname'), 'dfd=-100, filename="/etc/hostname", flags=524288, mode=0');
  assert.equal(formatParams(0, [3, 0x7ffc1000, 4096, 0, 0, 0], undefined), 'fd=3, buf=0x7ffc1000, count=4096');
  assert.equal(formatParams(231, [1, 0, 0, 0, 0, 0], undefined), 'error_code=1');
});

test('return values: numbers, -1 (ERRNO), X when the call did not return', () => {
  assert.equal(formatRet(3, true), '3');
  assert.equal(formatRet(-2, true), '-1 (ENOENT)');
  assert.equal(formatRet(-13n, true), '-1 (EACCES)');
  assert.equal(formatRet(-5000, true), '-5000');
  assert.equal(formatRet(0, false), 'X');
});
