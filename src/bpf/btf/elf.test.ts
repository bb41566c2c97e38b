import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ElfFile, EM_BPF } from './elf.js';
import { clangSkip, compileTestdata } from './test-helpers.js';

test('reads sections and symbols of a BPF object', { skip: clangSkip() }, () => {
  const elf = new ElfFile(readFileSync(compileTestdata('gadget')));
  assert.equal(elf.machine, EM_BPF);
  elf.assertBpf();
  const names = elf.sections.map((s) => s.name);
  for (const n of ['.BTF', '.rodata', '.data', '.bss', '.symtab', 'license', 'tracepoint/syscalls/sys_enter_openat']) {
    assert.ok(names.includes(n), n);
  }
  assert.equal(elf.sectionData('license')!.toString('latin1'), 'GPL\0');
  const bss = elf.sectionData('.bss')!;
  assert.ok(bss.length > 0 && bss.every((b) => b === 0), '.bss reads as zeros');
  assert.equal(elf.sectionData('.nope'), undefined);
  const sym = elf.symbols().find((s) => s.name === 'targ_pid')!;
  assert.equal(sym.shndx, elf.section('.rodata')!.index);
  assert.equal(sym.size, 4n);
  assert.equal(sym.bind, 1);
  assert.equal(sym.type, 1);
});

test('rejects non-ELF, 32-bit, big-endian and truncated input', () => {
  assert.throws(() => new ElfFile(Buffer.from('#!/bin/sh\n')), { message: 'not an ELF file' });
  const hdr = Buffer.alloc(64);
  hdr.write('\x7fELF', 0, 'latin1');
  hdr[4] = 1; hdr[5] = 1;
  assert.throws(() => new ElfFile(hdr), /only 64-bit ELF/);
  hdr[4] = 2; hdr[5] = 2;
  assert.throws(() => new ElfFile(hdr), /only little-endian ELF/);
  hdr[5] = 1;
  hdr.writeUInt16LE(62, 18);
  hdr.writeBigUInt64LE(4096n, 0x28); // section headers beyond the end of the file
  hdr.writeUInt16LE(64, 0x3a);
  hdr.writeUInt16LE(3, 0x3c);
  assert.throws(() => new ElfFile(hdr), /ELF truncated: section header table/);
  hdr.writeBigUInt64LE(0n, 0x28);
  const elf = new ElfFile(hdr);
  assert.deepEqual(elf.sections, []);
  assert.throws(() => elf.assertBpf(), { message: 'ELF is not a BPF object (e_machine=62)' });
  assert.throws(() => new ElfFile(hdr.subarray(0, 20)), /ELF truncated: header needs 64 bytes/);
});
