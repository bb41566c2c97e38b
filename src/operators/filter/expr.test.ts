// -E expressions: upstream's expression table (pkg/datasource/expr tests) and the operators a filter uses, on
// records built from bytes; compile errors are one clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batch, DataSource, FieldFlag, Kind, evalPredicate, compareCodePoints } from '../../datasource/index.js';
import { compileExpr, exprsPerDataSource, parseIp } from './expr.js';
import { filterPredicate } from './parse.js';

const st = (offs: number, size: number) => ({ type: 'static' as const, offs, size });

function world() {
  const ds = new DataSource('events', 'single');
  ds.staticSize = 80;
  ds.addField({ name: 'stringValue', kind: Kind.CString, storage: st(0, 16) });
  ds.addField({ name: 'int64Value', kind: Kind.Int64, storage: st(16, 8) });
  ds.addField({ name: 'float64Value', kind: Kind.Float64, storage: st(24, 8) });
  ds.addField({ name: 'boolValue', kind: Kind.Bool, storage: st(32, 1) });
  ds.addField({ name: 'u64', kind: Kind.Uint64, storage: st(40, 8) });
  ds.addField({ name: 'addr', kind: Kind.CString, storage: st(48, 32) });
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty });
  ds.addField({ name: 'pid', parent: proc, kind: Kind.Uint32, storage: st(36, 4) });
  return ds;
}

function batch(ds: DataSource, recs: { s: string; i: bigint; f: number; b: boolean; u: bigint; addr: string; pid: number }[]): Batch {
  const b = Batch.empty(ds, recs.length);
  recs.forEach((r, k) => {
    const o = b.offs[k]!;
    Buffer.from(r.s).copy(b.buf, o, 0, 16);
    b.buf.writeBigInt64LE(r.i, o + 16);
    b.buf.writeDoubleLE(r.f, o + 24);
    b.buf[o + 32] = r.b ? 1 : 0;
    b.buf.writeUInt32LE(r.pid, o + 36);
    b.buf.writeBigUInt64LE(r.u, o + 40);
    Buffer.from(r.addr).copy(b.buf, o + 48, 0, 32);
  });
  return b;
}

const REC = { s: 'abc', i: 123n, f: 456, b: true, u: 2n ** 64n - 1n, addr: '10.1.2.3', pid: 42 };

test('-E: upstream expression table', () => {
  const ds = world();
  const b = batch(ds, [REC]);
  const cases: [string, boolean][] = [
    ["stringValue=='abc'", true], ["stringValue=='def'", false], ["stringValue!='def'", true], ["stringValue!='abc'", false],
    ["stringValue<='def'", true], ["stringValue>='def'", false], ["stringValue matches 'a..'", true], ["stringValue matches 'b..'", false],
    ["stringValue not matches 'b..'", true], ["stringValue not matches 'a..'", false],
    ['int64Value==123', true], ['int64Value==345', false], ['int64Value>=1', true], ['int64Value>=123', true], ['int64Value>=1000', false],
    ['int64Value<=1000', true], ['int64Value<=123', true], ['int64Value<=1', false], ['int64Value>1', true], ['int64Value>1000', false],
    ['float64Value==456', true], ['float64Value==456.0', true], ['float64Value==345', false], ['float64Value==456.8', false],
    ['float64Value>=1', true], ['float64Value<=456', true], ['float64Value>1000.0', false],
    ['boolValue==true', true], ['boolValue==false', false], ['boolValue!=false', true], ['boolValue!=true', false],
    ["'1.1.1.1' in cidr('1.0.0.0/8')", true], ["'127.0.0.1' in cidr('1.0.0.0/8')", false],
    ["'20.21.22.23' in cidr('10.0.0.0/8', '20.0.0.0/8', '30.0.0.0/8')", true], ["'25.26.27.28' in cidr('10.0.0.0/8', '20.0.0.0/8', '30.0.0.0/8')", false],
  ];
  for (const [e, want] of cases) assert.equal(evalPredicate(compileExpr(ds, e))(b, 0), want, e);
});

test('-E: in, cidr, len, boolean logic, precedence, let, u64 exactness, functions', () => {
  const ds = world();
  const b = batch(ds, [REC, { ...REC, s: 'curl', pid: 7, addr: 'fd00::1', i: -5n, u: 5n }]);
  const cases: [string, [boolean, boolean]][] = [
    ["stringValue in ['abc', 'curl']", [true, true]], ["stringValue in ['wget']", [false, false]], ["stringValue not in ['abc']", [false, true]],
    ["addr in cidr('10.0.0.0/8')", [true, false]], ["addr in cidr('fd00::/8', '192.168.0.0/16')", [false, true]], ["addr not in cidr('10.0.0.0/8')", [false, true]],
    ['len(stringValue) == 3', [true, false]], ['len(stringValue) > 3', [false, true]], ['len([1,2,3]) == 3', [true, true]],
    ['proc.pid == 42 and stringValue == "abc"', [true, false]], ['proc.pid == 42 && int64Value < 0', [false, false]],
    ['proc.pid == 42 or int64Value < 0', [true, true]], ['not (proc.pid == 42)', [false, true]], ['!(proc.pid == 7)', [true, false]],
    ['proc.pid == 7 or proc.pid == 42 and int64Value < 0', [false, true]], // and binds tighter than or
    ['u64 == 18446744073709551615', [true, false]], ['u64 > 18446744073709551614', [true, false]], ['u64 == 5', [false, true]],
    ['proc.pid in [7, 8]', [false, true]], ['proc.pid + 1 == 43', [true, false]], ['proc.pid * 2 - 4 == 80', [true, false]],
    ['proc.pid / 2 == 21', [true, false]], ['proc.pid % 5 == 2', [true, true]], ['-int64Value == 5', [false, true]],
    ['2 ** 3 == 8', [true, true]], ['let x = [7]; proc.pid in x', [false, true]], ['let m = 40; proc.pid > m', [true, false]],
    ["stringValue startsWith 'cu'", [false, true]], ["stringValue endsWith 'bc'", [true, false]], ["stringValue contains 'ur'", [false, true]],
    ["upper(stringValue) == 'ABC'", [true, false]], ["lower('ABC') == stringValue", [true, false]], ["string(proc.pid) == '42'", [true, false]],
    ['proc.pid > 10 ? stringValue == "abc" : true', [true, true]], ["stringValue + 'x' == 'abcx'", [true, false]],
    ['int64Value > -10', [true, true]], ['abs(int64Value) == 5', [false, true]], ['true', [true, true]], ['1 == 2', [false, false]],
    ['float64Value > proc.pid', [true, true]], ['PROC.PID == 42', [true, false]],
  ];
  for (const [e, want] of cases) {
    const keep = evalPredicate(compileExpr(ds, e));
    assert.deepEqual([keep(b, 0), keep(b, 1)], want, e);
  }
});

test('-E: an address that is no IP drops the record (upstream logs and drops)', () => {
  const ds = world();
  const b = batch(ds, [{ ...REC, addr: 'not-an-ip' }]);
  assert.equal(evalPredicate(compileExpr(ds, "addr in cidr('0.0.0.0/0')"))(b, 0), false);
  assert.equal(evalPredicate(compileExpr(ds, "addr not in cidr('0.0.0.0/0') or true"))(b, 0), true);
});

test('-E: compile errors name the expression, the data source and what is wrong', () => {
  const ds = world();
  const bad: [string, RegExp][] = [
    ['abc', /unknown name abc/], ['stringValue', /expected bool, but got string/], ["int64Value>'abc'", /mismatched types/],
    ["float64Value>'abc'", /mismatched types/], ["stringValue matches '???a..'", /invalid regular expression/],
    ['proc.pdi == 1', /unknown name proc\.pdi.*proc\.pid/], ['proc.pid ==', /unexpected end/], ["'x' in cidr('1.2.3.4/40')", /invalid CIDR/],
    ['(proc.pid == 1', /expected "\)"/], ['foo(1)', /unknown function foo/], ['len(1, 2) == 1', /len\(\) takes 1 argument/],
    ["proc.pid in ['a']", /mismatched types/], ['proc.pid and true', /mismatched/], ['"unterminated', /unterminated string/],
  ];
  for (const [e, re] of bad) {
    assert.throws(() => compileExpr(ds, e), (err: Error) => {
      assert.match(err.message, re, e);
      assert.match(err.message, /^invalid filter expression .* for data source events: /, e);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  }
});

test('-E: field-vs-constant comparisons become cmp leaves, the rest opaque tests over their fields', () => {
  const ds = world();
  const p = compileExpr(ds, "stringValue in ['a', 'b'] and (proc.pid > 3 or not (u64 == 1)) and stringValue matches 'x+' and 5 < int64Value and float64Value == 1");
  const kinds: string[] = [];
  const walk = (q: typeof p): void => {
    if (q.kind === 'and' || q.kind === 'or') { kinds.push(q.kind); q.args.forEach(walk); } else if (q.kind === 'not') { kinds.push('not'); walk(q.arg); } else kinds.push(q.kind === 'cmp' ? `cmp:${q.field.fullName}${q.op}${String(q.value)}` : q.kind === 'opaque' ? `opaque:${q.fields.map((f) => f.fullName).join(',')}` : 'const');
  };
  walk(p);
  assert.ok(kinds.includes('cmp:stringValue==a') && kinds.includes('cmp:stringValue==b'));
  assert.ok(kinds.includes('cmp:proc.pid>3') && kinds.includes('cmp:u64==1'));
  assert.ok(kinds.includes('cmp:int64Value>5'), 'a constant on the left is flipped');
  assert.ok(kinds.includes('opaque:stringValue') && kinds.includes('opaque:float64Value'));
  const q = compileExpr(ds, "'1.1.1.1' in cidr('1.0.0.0/8')");
  assert.deepEqual(q.kind === 'const' && q.value, true, 'no field: evaluated once');
});

test('-E: one expression per data source (ds:expr;ds2:expr), with let and : of its own', () => {
  assert.deepEqual([...exprsPerDataSource('a == 1', ['open', 'exec'])], [['open', 'a == 1'], ['exec', 'a == 1']]);
  assert.deepEqual([...exprsPerDataSource('open:let x = 1; a == x;exec: b ? c : d', ['open', 'exec'])], [['open', 'let x = 1; a == x'], ['exec', ' b ? c : d']]);
  assert.deepEqual([...exprsPerDataSource('', ['open'])], []);
});

test('--filter rules and -E compare strings by code point, as upstream (Go) does', () => {
  assert.equal(compareCodePoints('\u{1F600}', '\uFFFD'), 1, 'U+1F600 sorts after U+FFFD');
  assert.equal(compareCodePoints('a', 'b'), -1);
  assert.equal(compareCodePoints('ab', 'a'), 1);
  const ds = world();
  const b = batch(ds, [{ ...REC, s: '\u{1F600}' }]);
  assert.equal(evalPredicate(filterPredicate(ds, 'stringValue>\uFFFD')!)(b, 0), true);
  assert.equal(evalPredicate(compileExpr(ds, "stringValue > '\uFFFD'"))(b, 0), true);
});

test('parseIp: IPv4, IPv6, mapped IPv4, bad input', () => {
  assert.deepEqual(parseIp('1.2.3.4'), { v6: false, n: 0x01020304n });
  assert.deepEqual(parseIp('::ffff:1.2.3.4'), { v6: false, n: 0x01020304n });
  assert.equal(parseIp('::1')?.n, 1n);
  assert.equal(parseIp('fd00::1')?.v6, true);
  for (const bad of ['1.2.3', '01.2.3.4', '1.2.3.256', ':::', '1::2::3', 'x', '']) assert.equal(parseIp(bad), undefined, bad);
});

test('literal regular expressions become comparisons (same answers as the regex), others stay opaque', async () => {
  const { literalRegexPredicate } = await import('../../datasource/index.js');
  const ds = world();
  const f = ds.getField('stringValue')!;
  const b = batch(ds, ['abc', 'xabcx', 'ab', 'a.c', 'a|b', 'bash', 'zsh', ''].map((s) => ({ ...REC, s })));
  for (const src of ['^abc$', '^ab', 'bc$', 'abc', 'a\\.c', 'a\\|b', '^ba|sh$', 'x|^a', '']) {
    const p = literalRegexPredicate(f, src, f.get)!;
    assert.ok(p, src);
    const re = new RegExp(src);
    for (let i = 0; i < b.count; i++) assert.equal(evalPredicate(p)(b, i), re.test(String(f.get(b, i))), `${src} on record ${i}`);
  }
  for (const src of ['a.c', 'ab+', '[ab]', '(ab)', 'a\\d', 'a{2}', 'a?']) assert.equal(literalRegexPredicate(f, src, f.get), undefined, src);
  const leaf = compileExpr(ds, "stringValue matches '^ab'");
  assert.equal(leaf.kind, 'strmatch');
  assert.equal(filterPredicate(ds, 'stringValue!~c$')!.kind, 'not');
});
