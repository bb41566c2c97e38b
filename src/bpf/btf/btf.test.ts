import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Btf, KERNEL_BTF_PATH } from './btf.js';
import { ElfFile } from './elf.js';
import { Kind } from './model.js';
import { BtfKind, type BtfStruct } from './types.js';
import {
  BtfBuilder, bpftoolSkip, bpftoolTypes, clangSkip, compileSnippet, compileTestdata, diffAgainstBpftool,
} from './test-helpers.js';

const noClang = clangSkip();
const noClangOrBpftool = noClang || bpftoolSkip();
const noKernelBtf = existsSync(KERNEL_BTF_PATH) ? false : `${KERNEL_BTF_PATH} missing`;

function gadgetObject(): { path: string; buf: Buffer; btf: Btf } {
  const path = compileTestdata('gadget');
  const buf = readFileSync(path);
  return { path, buf, btf: Btf.fromElf(buf) };
}

test('decodes every type of a clang BPF object exactly like bpftool', { skip: noClangOrBpftool }, () => {
  const { path, buf } = gadgetObject();
  // Compare the unmodified section: bpftool does not apply libbpf's DATASEC fixups.
  const raw = Btf.fromRaw(new ElfFile(buf).sectionData('.BTF')!);
  const types = bpftoolTypes(path);
  const kinds = new Set(types.map((t) => t.kind));
  for (const k of ['INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'ENUM64', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST',
    'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG']) {
    assert.ok(kinds.has(k), `testdata should exercise ${k}`);
  }
  assert.deepEqual(diffAgainstBpftool(raw, types), []);
});

test('decodes the whole kernel BTF exactly like bpftool', { skip: noKernelBtf || bpftoolSkip() }, () => {
  const btf = Btf.fromRaw(readFileSync(KERNEL_BTF_PATH));
  assert.deepEqual(diffAgainstBpftool(btf, bpftoolTypes(KERNEL_BTF_PATH)), []);
});

// How fast the parse is belongs to the benchmarks (timed assertions fail on a loaded machine: 1202 ms seen at load 30).
test('kernel BTF parses, is cached and answers lookups', { skip: noKernelBtf }, () => {
  const k = Btf.kernel();
  const drop = k.enumByName('skb_drop_reason');
  assert.equal(Btf.kernel(), k, 'cached');
  assert.ok(drop, 'enum skb_drop_reason');
  assert.ok([...drop.values.values()].includes('SKB_DROP_REASON_NOT_SPECIFIED'));
  assert.equal(drop.name, 'skb_drop_reason');
  const bpfFunc = k.enumByName('bpf_func_id');
  assert.ok(bpfFunc && [...bpfFunc.values.values()].includes('BPF_FUNC_map_lookup_elem'));
  assert.equal(k.enumByName('no_such_enum_anywhere'), undefined);

  const task = k.typesByName('task_struct', BtfKind.Struct)[0] as BtfStruct;
  assert.equal(k.sizeOf(task.id), task.size);
  const layout = k.structLayout('task_struct');
  assert.equal(layout.size, task.size);
  assert.ok(layout.fields.length > 50);
});

test('enumByName finds the same enums by scanning enum records (no name index yet) as through the index', { skip: noKernelBtf }, () => {
  const raw = readFileSync(KERNEL_BTF_PATH);
  const scanned = Btf.fromRaw(raw);
  const indexed = Btf.fromRaw(raw);
  indexed.typesByName('task_struct'); // builds the name index
  const names: string[] = [];
  for (let id = 1; id < indexed.nextId; id++) {
    const t = indexed.type(id);
    if ((t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) && t.name) names.push(t.name);
  }
  assert.ok(names.length > 100);
  // every 10th name (each scan walks all records) and the edges
  for (const name of [...names.filter((_, i) => i % 10 === 0), names.at(-1)!, 'no_such_enum_anywhere']) {
    const a = scanned.enumByName(name);
    const b = indexed.enumByName(name);
    assert.equal(a?.name, b?.name, name);
    assert.deepEqual(a && [...a.values], b && [...b.values], name);
  }
});

test('typesByName, resolve and sizeOf on an object', { skip: noClang }, () => {
  const { btf } = gadgetObject();
  const ev = btf.typesByName('event', BtfKind.Struct);
  assert.equal(ev.length, 1);
  assert.equal(btf.sizeOf(ev[0].id), 272);
  const mntns = btf.typesByName('gadget_mntns_id')[0];
  assert.equal(mntns.kind, BtfKind.Typedef);
  const r = btf.resolve(mntns.id);
  assert.equal(r.kind, BtfKind.Int);
  assert.equal(r.name, 'unsigned long long');
  assert.equal(btf.sizeOf(btf.typesByName('gadget_comm')[0].id), 16);
  assert.equal(btf.typesByName('event', BtfKind.Union).length, 0);
  assert.deepEqual(btf.typesByName('nope'), []);
  assert.equal(btf.type(0).kind, BtfKind.Void);
  assert.throws(() => btf.type(btf.nextId), /BTF type id \d+ out of range/);
  // TYPE_TAG and RESTRICT are skipped by resolve().
  const userPtr = btf.typesByName('user_ptr', BtfKind.Var)[0];
  const ptr = btf.resolve((userPtr as { type: number }).type);
  assert.equal(ptr.kind, BtfKind.Ptr);
  assert.equal(btf.resolve((ptr as { type: number }).type).name, 'int');
  const restricted = btf.typesByName('restricted_ptr', BtfKind.Var)[0] as { type: number };
  assert.equal(btf.resolve(restricted.type).kind, BtfKind.Ptr);
  const big = btf.enumByName('big_values');
  assert.deepEqual(big && [...big.values], [[1n, 'BIG_ONE'], [0x123456789n, 'BIG_HUGE']]);
  assert.equal(big?.size, 8);
  const temp = btf.enumByName('temperature');
  assert.deepEqual(temp && [...temp.values], [[-5n, 'TEMP_FROZEN'], [7n, 'TEMP_HOT']]);
  assert.equal(temp?.signed, true);
  // Aliased enumerators keep the first name.
  assert.equal(btf.enumByName('color')?.values.get(0n), 'COLOR_RED');
});

test('DATASEC sizes and variable offsets are fixed up from the ELF like libbpf', { skip: noClang }, () => {
  const { buf, btf } = gadgetObject();
  const elf = new ElfFile(buf);
  const rodata = elf.sectionData('.rodata')!;
  const data = elf.sectionData('.data')!;
  const vars = new Map(btf.datasecVars('.rodata').map((v) => [v.name, v]));
  assert.equal(vars.size, 8);
  assert.equal(rodata.readBigUInt64LE(vars.get('gadget_var_threshold')!.offset), 42n);
  assert.equal(rodata.readInt16LE(vars.get('signed_param')!.offset), -3);
  assert.equal(rodata.readDoubleLE(vars.get('ratio')!.offset), 0.5);
  const offsets = [...vars.values()].map((v) => [v.offset, v.offset + v.size]).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i][0] >= offsets[i - 1][1], 'no overlap');
  const dataVars = new Map(btf.datasecVars('.data').map((v) => [v.name, v]));
  assert.equal(data.readBigUInt64LE(dataVars.get('packets_seen')!.offset), 7n);
  assert.equal(data.readInt32LE(dataVars.get('tagged_global')!.offset), 3);
  const sec = btf.typesByName('.rodata', BtfKind.Datasec)[0] as { size: number };
  assert.equal(sec.size, rodata.length);
  assert.deepEqual(btf.datasecVars('.nothing'), []);
  assert.deepEqual(btf.datasecNames().sort(), ['.bss', '.data', '.kconfig', '.rodata', 'license']);
});

test('varInfo describes params, gadget vars and plain globals', { skip: noClang }, () => {
  const { buf, btf } = gadgetObject();
  const rodata = new ElfFile(buf).sectionData('.rodata')!;
  const pid = btf.varInfo('targ_pid')!;
  assert.deepEqual(
    { ...pid, offset: undefined, typeId: undefined },
    { name: 'targ_pid', section: '.rodata', size: 4, kind: Kind.Uint32, typeNames: ['__u32', 'unsigned int'], signed: false,
      offset: undefined, typeId: undefined, constVolatile: true, global: true },
  );
  assert.equal(rodata.readUInt32LE(pid.offset!), 0);

  const comm = btf.varInfo('targ_comm')!;
  assert.equal(comm.kind, Kind.CString);
  assert.equal(comm.size, 16);
  assert.equal(comm.arrayLen, 16);
  assert.equal(comm.constVolatile, true);
  assert.deepEqual(comm.typeNames, ['char']);

  const ip = btf.varInfo('targ_ip')!;
  assert.equal(ip.kind, Kind.Bytes);
  assert.equal(ip.size, 20);
  assert.deepEqual(ip.typeNames, ['gadget_l3endpoint_t']);

  const check = (name: string, kind: Kind, size: number, signed: boolean, section: string) => {
    const v = btf.varInfo(name)!;
    assert.ok(v, name);
    assert.deepEqual([v.kind, v.size, v.signed, v.section], [kind, size, signed, section], name);
  };
  check('gadget_var_enable_extra', Kind.Bool, 1, false, '.rodata');
  check('gadget_var_threshold', Kind.Uint64, 8, false, '.rodata');
  check('signed_param', Kind.Int16, 2, true, '.rodata');
  check('ratio', Kind.Float64, 8, true, '.rodata');
  check('packets_seen', Kind.Uint64, 8, false, '.data');
  check('scratch', Kind.Bytes, 32, false, '.bss');
  assert.equal(btf.varInfo('packets_seen')!.constVolatile, false);
  assert.equal(btf.varInfo('scratch')!.arrayLen, 8);
  assert.deepEqual(btf.varInfo('gadget_var_enable_extra')!.typeNames, ['bool', '_Bool']);
  const kver = btf.varInfo('LINUX_KERNEL_VERSION')!;
  assert.deepEqual([kver.section, kver.kind, kver.size, kver.constVolatile], ['.kconfig', Kind.Uint32, 4, false]);
  assert.equal(btf.varInfo('does_not_exist'), undefined);
});

test('error: non-ELF, non-BPF ELF, missing .BTF', { skip: noClang }, () => {
  assert.throws(() => Btf.fromElf(Buffer.from('definitely not an object file')), { message: 'not an ELF file' });
  assert.throws(() => Btf.fromElf(Buffer.alloc(0)), { message: 'not an ELF file' });
  const x86 = readFileSync(compileSnippet('int x = 1;', 'x86_64-linux-gnu'));
  assert.throws(() => Btf.fromElf(x86), { message: 'ELF is not a BPF object (e_machine=62)' });
  const noDebug = readFileSync(compileTestdata('gadget', []));
  assert.throws(() => Btf.fromElf(noDebug), /no \.BTF section/);
});

test('error: truncated and corrupt raw BTF', { skip: noClang }, () => {
  const { buf } = gadgetObject();
  const blob = Buffer.from(new ElfFile(buf).sectionData('.BTF')!);
  assert.throws(() => Btf.fromRaw(blob.subarray(0, 10)), /^Error: BTF truncated: header needs 24 bytes, got 10$/);
  assert.throws(() => Btf.fromRaw(blob.subarray(0, 200)), /BTF truncated: type section ends at byte/);
  // A type section that is cut mid-record (header claims fewer bytes than the records need).
  const cut = Buffer.from(blob);
  cut.writeUInt32LE(blob.readUInt32LE(12) - 6, 12);
  assert.throws(() => Btf.fromRaw(cut), /BTF truncated: type \d+ .* runs past the type section/);
  const bad = Buffer.from(blob);
  bad.writeUInt16LE(0x1234, 0);
  assert.throws(() => Btf.fromRaw(bad), /not BTF data \(magic 0x1234/);
  bad.writeUInt16LE(0x9feb, 0);
  assert.throws(() => Btf.fromRaw(bad), /big-endian BTF is not supported/);
});

test('error: unknown kind and dangling string offsets', () => {
  const b = new BtfBuilder();
  b.int('int', 4, 1);
  b.raw('weird', 25, 0, false, 0);
  assert.throws(() => Btf.fromRaw(b.build()), /unsupported BTF kind 25 for type 2/);

  const s = new BtfBuilder();
  s.int('int', 4, 1);
  const blob = s.build();
  blob.writeUInt32LE(9999, 24); // name_off of type 1
  const btf = Btf.fromRaw(blob);
  assert.throws(() => btf.type(1), /BTF string offset 9999 out of range/);
});

test('split BTF continues ids and string offsets from its base', () => {
  const base = new BtfBuilder();
  const u32 = base.int('unsigned int', 4);
  const s = base.struct('pair', 8, [{ name: 'a', type: u32, bits: 0 }, { name: 'b', type: u32, bits: 32 }]);
  const baseBlob = base.build();
  const baseBtf = Btf.fromRaw(baseBlob);
  assert.equal(baseBtf.nextId, 3);

  const strBase = baseBlob.readUInt32LE(20);
  const split = new BtfBuilder(baseBtf.nextId, strBase);
  const td = split.ref(BtfKind.Typedef, 'pair_t', s);
  const arr = split.raw('', BtfKind.Array, 0, false, 0, [u32, u32, 4]);
  const outer = split.struct('outer', 24, [{ name: 'p', type: td, bits: 0 }, { name: 'arr', type: arr, bits: 64 }]);
  const btf = Btf.fromRaw(split.build(), baseBtf);
  assert.equal(td, 3);
  assert.equal(btf.firstId, 3);
  assert.equal(btf.type(1).name, 'unsigned int');
  assert.equal(btf.resolve(td).name, 'pair');
  assert.equal(btf.sizeOf(outer), 24);
  assert.equal(btf.sizeOf(arr), 16);
  assert.equal(btf.typesByName('pair')[0].id, s);
  const layout = btf.structLayout('outer');
  assert.deepEqual(layout.fields.map((f) => [f.fullName, f.offset, f.size, f.kind]), [
    ['p', 0, 8, Kind.Bytes], ['p.a', 0, 4, Kind.Uint32], ['p.b', 4, 4, Kind.Uint32],
    ['arr', 8, 16, Kind.Uint32 | 0x10000000],
  ]);
  assert.deepEqual(layout.fields[0].typeNames, ['pair_t', 'pair']);
});

test('legacy (pre kind_flag) bitfields and 64-bit signed enums', () => {
  const b = new BtfBuilder();
  const u32bits3 = b.int('unsigned int', 4, 0, 3, 0);   // width on the INT itself
  const u32bits4at2 = b.int('unsigned int', 4, 0, 4, 2);
  const e = b.enum64('wide', 8, true, [['NEG', -2n], ['MAXPOS', (1n << 62n)]]);
  const e32 = b.enum32('small', 4, true, [['MINUS_ONE', -1]]);
  const st = b.struct('legacy', 16, [
    { name: 'lo', type: u32bits3, bits: 0 },
    { name: 'hi', type: u32bits4at2, bits: 3 },
    { name: 'w', type: e, bits: 64 },
  ]);
  const btf = Btf.fromRaw(b.build());
  const f = btf.structLayoutById(st).fields;
  assert.deepEqual(f.map((x) => [x.name, x.offset, x.size, x.bitOffset, x.bitSize]), [
    ['lo', 0, 4, 0, 3], ['hi', 0, 4, 5, 4], ['w', 8, 8, undefined, undefined],
  ]);
  assert.equal(f[2].kind, Kind.Int64);
  assert.deepEqual([...f[2].enumInfo!.values], [[-2n, 'NEG'], [1n << 62n, 'MAXPOS']]);
  assert.deepEqual([...btf.enumByName('small')!.values], [[-1n, 'MINUS_ONE']]);
});
