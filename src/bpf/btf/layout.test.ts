import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Btf, KERNEL_BTF_PATH } from './btf.js';
import { Kind, KindFlagArray, type LayoutField } from './model.js';
import { BtfKind } from './types.js';
import { bpftoolOffset, bpftoolSkip, bpftoolTypes, clangSkip, compileTestdata } from './test-helpers.js';

const noClang = clangSkip();
const A = KindFlagArray;

function gadget(): { path: string; btf: Btf } {
  const path = compileTestdata('gadget');
  return { path, btf: Btf.fromElf(readFileSync(path)) };
}

// fullName, offset, size, kind, typeNames, extras
type Row = [string, number, number, number, string[], Partial<LayoutField>?];
const EVENT: Row[] = [
  ['mntns_id', 0, 8, Kind.Uint64, ['gadget_mntns_id', '__u64', 'unsigned long long']],
  ['timestamp_raw', 8, 8, Kind.Uint64, ['gadget_timestamp', '__u64', 'unsigned long long']],
  ['pid', 16, 4, Kind.Uint32, ['gadget_pid', '__u32', 'unsigned int']],
  ['comm', 24, 16, Kind.CString, ['gadget_comm', 'char']],
  ['path', 40, 32, Kind.CString, ['char']],
  ['counts', 72, 16, Kind.Uint32 | A, ['__u32', 'unsigned int'], { arrayLen: 4 }],
  ['raw', 88, 6, Kind.Uint8 | A, ['__u8', 'unsigned char'], { arrayLen: 6 }],
  ['ok', 94, 1, Kind.Bool, ['bool', '_Bool']],
  ['delta', 95, 1, Kind.Int8, ['__s8', 'signed char']],
  ['in', 96, 8, Kind.Bytes, ['inner'], { isStructParent: true, structName: 'inner' }],
  ['in.x', 96, 4, Kind.Uint32, ['__u32', 'unsigned int'], { parentFullName: 'in' }],
  ['in.y', 100, 2, Kind.Uint16, ['__u16', 'unsigned short'], { parentFullName: 'in' }],
  ['outer', 104, 16, Kind.Bytes, [], { isStructParent: true, structName: '' }],
  ['outer.deep', 104, 8, Kind.Bytes, ['inner'], { isStructParent: true, structName: 'inner', parentFullName: 'outer' }],
  ['outer.deep.x', 104, 4, Kind.Uint32, ['__u32', 'unsigned int'], { parentFullName: 'outer.deep' }],
  ['outer.deep.y', 108, 2, Kind.Uint16, ['__u16', 'unsigned short'], { parentFullName: 'outer.deep' }],
  ['outer.z', 112, 8, Kind.Uint64, ['__u64', 'unsigned long long'], { parentFullName: 'outer' }],
  ['as_u32', 120, 4, Kind.Uint32, ['__u32', 'unsigned int']],
  ['as_f32', 120, 4, Kind.Float32, ['float']],
  ['src', 124, 20, Kind.Bytes, ['gadget_l3endpoint_t'], { isStructParent: true, structName: 'gadget_l3endpoint_t' }],
  ['src.addr_raw', 124, 16, Kind.Bytes, ['gadget_ip_addr_t'],
    { isStructParent: true, structName: 'gadget_ip_addr_t', parentFullName: 'src' }],
  ['src.addr_raw.v6', 124, 16, Kind.Uint8 | A, ['__u8', 'unsigned char'], { arrayLen: 16, parentFullName: 'src.addr_raw' }],
  ['src.addr_raw.v4', 124, 4, Kind.Uint32, ['__u32', 'unsigned int'], { parentFullName: 'src.addr_raw' }],
  ['src.version', 140, 1, Kind.Uint8, ['__u8', 'unsigned char'], { parentFullName: 'src' }],
  ['color', 144, 4, Kind.Uint32, ['color']],
  ['flags', 148, 4, Kind.Uint32, ['open_flags_set']],
  ['temp', 152, 4, Kind.Int32, ['temperature']],
  ['big', 160, 8, Kind.Uint64, ['big_values']],
  ['color2', 168, 4, Kind.Uint32, ['color_t', 'color']],
  ['bf_a', 172, 4, Kind.Uint32, ['__u32', 'unsigned int'], { bitOffset: 0, bitSize: 3 }],
  ['bf_b', 172, 4, Kind.Uint32, ['__u32', 'unsigned int'], { bitOffset: 3, bitSize: 5 }],
  ['bf_c', 176, 4, Kind.Uint32, ['__u32', 'unsigned int'], { bitOffset: 0, bitSize: 24 }],
  ['bf_d', 176, 4, Kind.Uint32, ['__u32', 'unsigned int'], { bitOffset: 24, bitSize: 8 }],
  ['dbl', 224, 8, Kind.Float64, ['double']],
  ['flt', 232, 4, Kind.Float32, ['float']],
  ['s64v', 240, 8, Kind.Int64, ['__s64', 'long long']],
  ['hits', 248, 4, Kind.Uint32, ['gadget_counter__u32', '__u32', 'unsigned int']],
];

test('struct event flattens exactly as ig-spec §3.3 describes', { skip: noClang }, () => {
  const { btf } = gadget();
  const layout = btf.structLayout('event');
  assert.equal(layout.name, 'event');
  assert.equal(layout.size, 272);
  const got = layout.fields.map((f) => {
    const { fullName, offset, size, kind, typeNames } = f;
    const extra: Partial<LayoutField> = {};
    for (const k of ['arrayLen', 'bitOffset', 'bitSize', 'isStructParent', 'structName', 'parentFullName'] as const) {
      if (f[k] !== undefined) (extra as Record<string, unknown>)[k] = f[k];
    }
    return Object.keys(extra).length ? [fullName, offset, size, kind, typeNames, extra] : [fullName, offset, size, kind, typeNames];
  });
  assert.deepEqual(got, EVENT);
});

test('tags carry every type name, the member name and src:ebpf', { skip: noClang }, () => {
  const fields = new Map(gadget().btf.structLayout('event').fields.map((f) => [f.fullName, f]));
  assert.deepEqual(fields.get('mntns_id')!.tags,
    ['type:gadget_mntns_id', 'type:__u64', 'type:unsigned long long', 'name:mntns_id', 'src:ebpf']);
  assert.deepEqual(fields.get('comm')!.tags, ['type:gadget_comm', 'type:char', 'name:comm', 'src:ebpf']);
  assert.deepEqual(fields.get('src.addr_raw.v4')!.tags, ['type:__u32', 'type:unsigned int', 'name:v4', 'src:ebpf']);
  assert.equal(fields.get('src.addr_raw.v4')!.name, 'v4');
  for (const skipped of ['__pad0', 'ptr', 'pairs', 'matrix', 'fwd', '__internal', 'src.__pad']) {
    assert.equal(fields.has(skipped), false, `${skipped} must be skipped`);
  }
});

test('enum members carry their values; _set enums and typedef\'d enums too', { skip: noClang }, () => {
  const fields = new Map(gadget().btf.structLayout('event').fields.map((f) => [f.fullName, f]));
  const color = fields.get('color')!.enumInfo!;
  assert.equal(color.name, 'color');
  assert.deepEqual([...color.values], [[0n, 'COLOR_RED'], [1n, 'COLOR_GREEN'], [2n, 'COLOR_BLUE']]);
  assert.equal(fields.get('flags')!.enumInfo!.name, 'open_flags_set');
  assert.deepEqual([...fields.get('flags')!.enumInfo!.values.values()], ['OF_READ', 'OF_WRITE', 'OF_APPEND']);
  const temp = fields.get('temp')!.enumInfo!;
  assert.equal(temp.signed, true);
  assert.equal(temp.values.get(-5n), 'TEMP_FROZEN');
  assert.equal(fields.get('big')!.enumInfo!.values.get(0x123456789n), 'BIG_HUGE');
  assert.equal(fields.get('color2')!.enumInfo!.name, 'color');
  assert.equal(fields.get('pid')!.enumInfo, undefined);
});

test('layout offsets agree with bpftool for every field', { skip: noClang || bpftoolSkip() }, () => {
  const { path, btf } = gadget();
  const types = bpftoolTypes(path);
  const root = types.find((t) => t.kind === 'STRUCT' && t.name === 'event')!;
  for (const f of btf.structLayout('event').fields) {
    const expected = bpftoolOffset(types, root.id, f.fullName.split('.'));
    assert.notEqual(expected, undefined, f.fullName);
    if (f.bitSize === undefined) {
      assert.equal(f.offset, expected, f.fullName);
    } else {
      assert.equal(f.offset * 8 + f.bitOffset!, expected! * 8, `${f.fullName} bit position`);
    }
  }
  assert.equal(btf.structLayout('event').size, root.size);
});

test('structLayout accepts typedef names and other roots; unknown names throw', { skip: noClang }, () => {
  const { btf } = gadget();
  const te = btf.structLayout('task_entry_t');
  assert.equal(te.name, 'task_entry');
  assert.deepEqual(te.fields.map((f) => [f.fullName, f.offset, f.size, f.kind]),
    [['pid', 0, 4, Kind.Uint32], ['comm', 4, 16, Kind.CString]]);
  const u = btf.structLayout('gadget_ip_addr_t');
  assert.equal(u.size, 16);
  assert.deepEqual(u.fields.map((f) => f.fullName), ['v6', 'v4']);
  assert.throws(() => btf.structLayout('no_such_struct'), /BTF has no struct or union named "no_such_struct"/);
  const mntns = btf.typesByName('gadget_mntns_id', BtfKind.Typedef)[0];
  assert.throws(() => btf.structLayoutById(mntns.id), /is a INT, not a struct or union/);
});

test('kernel task_struct flattens sanely', { skip: existsSync(KERNEL_BTF_PATH) ? false : 'no kernel BTF' }, () => {
  const k = Btf.kernel();
  const layout = k.structLayout('task_struct');
  const names = new Set<string>();
  for (const f of layout.fields) {
    assert.ok(!f.name.startsWith('__'), f.fullName);
    assert.ok(f.offset + f.size <= layout.size, `${f.fullName} within struct`);
    assert.ok(!names.has(f.fullName), `${f.fullName} unique`);
    names.add(f.fullName);
    if (f.parentFullName) assert.ok(names.has(f.parentFullName), `${f.fullName} parent first`);
  }
  const pid = layout.fields.find((f) => f.fullName === 'pid')!;
  assert.equal(pid.kind, Kind.Int32);
  assert.deepEqual(pid.typeNames, ['pid_t', '__kernel_pid_t', 'int']);
  assert.equal(layout.fields.find((f) => f.fullName === 'comm')!.kind, Kind.CString);
  // Whole-kernel smoke test: every struct flattens without throwing.
  for (let id = 1; id < k.nextId; id++) {
    if (k.kindOf(id) === BtfKind.Struct || k.kindOf(id) === BtfKind.Union) k.structLayoutById(id);
  }
});

test('struct layout matches bpftool for a sample of kernel structs', { skip: (existsSync(KERNEL_BTF_PATH) ? false : 'no kernel BTF') || bpftoolSkip() }, () => {
  const k = Btf.kernel();
  const types = bpftoolTypes(KERNEL_BTF_PATH);
  for (const name of ['task_struct', 'sk_buff', 'sock', 'file', 'inode', 'net_device']) {
    const layout = k.structLayout(name);
    const root = types.find((t) => t.kind === 'STRUCT' && t.name === name)!;
    for (const f of layout.fields) {
      const expected = bpftoolOffset(types, root.id, f.fullName.split('.'));
      assert.notEqual(expected, undefined, `${name}.${f.fullName}`);
      const ours = f.bitSize === undefined ? f.offset : f.offset + f.bitOffset! / 8;
      assert.equal(ours, expected, `${name}.${f.fullName}`);
    }
  }
});
