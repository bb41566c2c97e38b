// Kernel symbols from kallsyms text, ELF function symbols and user-space symbolisation of live processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KernelSymbols } from './kallsyms.js';
import { readElfSymbols } from './elf.js';
import { parseMaps, UserSymbolizer } from './user.js';

test('kallsyms: nearest text symbol at or below an address', () => {
  const k = KernelSymbols.parse([
    'ffffffff81000000 T _stext',
    'ffffffff81000100 t do_thing',
    'ffffffff81000200 D some_data',
    'ffffffff81000300 T other_fn\t[mymod]',
    '0000000000000000 T hidden',
  ].join('\n'));
  assert.equal(k.size, 3);
  assert.equal(k.lookup(0xffffffff81000150n), 'do_thing');
  assert.equal(k.lookup(0xffffffff81000250n), 'do_thing', 'data symbols are skipped');
  assert.equal(k.lookup(0xffffffff81000300n), 'other_fn [mymod]');
  assert.equal(k.lookup(0xffffffff80000000n), undefined);
});

test('ELF symbols of node itself (via libc): a function address resolves to its name', () => {
  const maps = parseMaps(readFileSync('/proc/self/maps', 'utf8'));
  const libc = maps.find((m) => /\/libc[.-]/.test(m.path));
  assert.ok(libc, 'node maps libc');
  const table = readElfSymbols(libc!.path);
  assert.ok(table.size > 100);
  // Take a symbol of the mapped text, compute where it is in this process and symbolise it back.
  const sym = table.lookup(table.vaddrOfOffset(libc!.offset + 0x100)!);
  const sy = new UserSymbolizer();
  const addr = libc!.start + 0x100;
  assert.equal(sy.symbol(process.pid, addr), sym);
  assert.match(sy.format(process.pid, [addr, 0]), /^\[0\]\S+; $/);
  assert.equal(sy.symbol(process.pid, 16), undefined, 'unmapped address');
});

test('maps parsing keeps executable mappings with their file offsets', () => {
  const m = parseMaps([
    '55d0c0a00000-55d0c0a22000 r--p 00000000 fd:01 1234 /usr/bin/prog',
    '55d0c0a22000-55d0c0b00000 r-xp 00022000 fd:01 1234 /usr/bin/prog',
    '7ffd1000-7ffd2000 r-xp 00000000 00:00 0 [vdso]',
  ].join('\n'));
  assert.deepEqual(m.map((x) => [x.start.toString(16), x.offset, x.path]), [['55d0c0a22000', 0x22000, '/usr/bin/prog'], ['7ffd1000', 0, '[vdso]']]);
});
