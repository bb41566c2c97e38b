// -E/--filter-expr: upstream's filter expressions (the expr-lang language, the part a filter uses) over one
// data source's fields. Compiled once into a JS predicate and into a Predicate tree (src/datasource/predicate.ts)
// whose field-vs-constant comparisons other consumers (the native render plan) can evaluate without JS.
//
// Supported: literals (integers, floats, 'strings', "strings", `raw`, true, false, nil, [arrays]), field names
// (proc.comm), let-variables (`let x = ...; expr`), unary not ! - +, ** * / % + -, == != < <= > >=, in / not in
// (arrays, cidr()), matches / not matches, contains, startsWith, endsWith, and && or ||, c ? a : b, and the
// functions len, cidr, lower, upper, trim, string, int, float, abs. Types are checked when compiling, as
// upstream does: comparing a number with a string, or a non-boolean result, is an error before the run starts.
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { Kind, baseKind, isIntegerKind, isArrayKind } from '../../datasource/index.js';
import { compareCodePoints, literalRegexPredicate, type CmpOp, type Predicate } from '../../datasource/predicate.js';
import { didYouMean } from '../../gadget/suggest.js';
import { FilterError } from './parse.js';

type Ty = 'int' | 'float' | 'string' | 'bool' | 'nil' | 'array' | 'cidr' | 'any';
type Val = number | bigint | string | boolean | null | Val[] | Cidr[];

interface Cidr { v6: boolean; net: bigint; bits: number }

type Node =
  | { t: 'lit'; v: Val; ty: Ty }
  | { t: 'field'; f: Field; ty: Ty }
  | { t: 'var'; name: string; ty: Ty; value: Node }
  | { t: 'arr'; items: Node[] }
  | { t: 'un'; op: string; x: Node }
  | { t: 'bin'; op: string; l: Node; r: Node }
  | { t: 'call'; fn: string; args: Node[] }
  | { t: 'cond'; c: Node; a: Node; b: Node };

// ---------------------------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------------------------
interface Tok { k: 'num' | 'str' | 'id' | 'op' | 'end'; v: string; at: number; num?: number | bigint }

const OPS3 = ['!==', '==='];
const OPS2 = ['==', '!=', '<=', '>=', '&&', '||', '**', '??'];
const OPS1 = '<>+-*/%!()[],.?:;=^';

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const err = (m: string): never => { throw new FilterError(`${m} at position ${i + 1}`); };
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) { i++; continue; }
    const at = i;
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[i + 1] ?? ''))) {
      const m = /^(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?|\.[0-9_]+([eE][+-]?[0-9]+)?)/.exec(s.slice(i))!;
      const text = m[0].replace(/_/g, '');
      i += m[0].length;
      const isFloat = !/^0[xXoObB]/.test(text) && /[.eE]/.test(text);
      out.push({ k: 'num', v: isFloat ? 'float' : 'int', at, num: isFloat ? Number(text) : BigInt(text) });
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let v = '';
      i++;
      for (;;) {
        if (i >= s.length) err('unterminated string');
        const d = s[i]!;
        if (d === c) { i++; break; }
        if (d === '\\' && c !== '`') {
          const e = s[i + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };
          if (e !== undefined && e in simple) { v += simple[e]; i += 2; continue; }
          const hex = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
          if (hex && /^[0-9a-fA-F]+$/.test(s.slice(i + 2, i + 2 + hex)) && s.slice(i + 2, i + 2 + hex).length === hex) {
            v += String.fromCodePoint(parseInt(s.slice(i + 2, i + 2 + hex), 16));
            i += 2 + hex;
            continue;
          }
          err('invalid escape in string');
        }
        v += d;
        i++;
      }
      out.push({ k: 'str', v, at });
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(s.slice(i))!;
      i += m[0].length;
      out.push({ k: 'id', v: m[0], at });
      continue;
    }
    const three = s.slice(i, i + 3);
    const two = s.slice(i, i + 2);
    if (OPS3.includes(three)) err(`unknown operator ${three}`);
    if (OPS2.includes(two)) { out.push({ k: 'op', v: two, at }); i += 2; continue; }
    if (OPS1.includes(c)) { out.push({ k: 'op', v: c, at }); i++; continue; }
    err(`unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ k: 'end', v: '', at: s.length });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Parser (precedences as expr-lang: or 10, and 15, comparisons/in/matches/... 20, + - 30, * / % 60, ** 100;
// unary not/! 50, unary - + 90)
// ---------------------------------------------------------------------------------------------------------------
const BINARY: Record<string, { p: number; right?: boolean }> = {
  'or': { p: 10 }, '||': { p: 10 }, 'and': { p: 15 }, '&&': { p: 15 },
  '==': { p: 20 }, '!=': { p: 20 }, '<': { p: 20 }, '>': { p: 20 }, '<=': { p: 20 }, '>=': { p: 20 },
  'in': { p: 20 }, 'matches': { p: 20 }, 'contains': { p: 20 }, 'startsWith': { p: 20 }, 'endsWith': { p: 20 },
  'not in': { p: 20 }, 'not matches': { p: 20 }, 'not contains': { p: 20 }, 'not startsWith': { p: 20 }, 'not endsWith': { p: 20 },
  '+': { p: 30 }, '-': { p: 30 }, '*': { p: 60 }, '/': { p: 60 }, '%': { p: 60 }, '**': { p: 100, right: true }, '^': { p: 100, right: true },
};
const UNARY: Record<string, number> = { 'not': 50, '!': 50, '-': 90, '+': 90 };
const FUNCS = ['len', 'cidr', 'lower', 'upper', 'trim', 'string', 'int', 'float', 'abs'];

class Parser {
  private k = 0;
  private readonly scopes: Map<string, Node>[] = [new Map()];

  constructor(private readonly toks: Tok[], private readonly ds: DataSource) {}

  private get cur(): Tok { return this.toks[this.k]!; }
  private err(m: string, t: Tok = this.cur): never { throw new FilterError(`${m} at position ${t.at + 1}`); }
  private isOp(v: string): boolean { return this.cur.k === 'op' && this.cur.v === v; }
  private expect(v: string): void {
    if (!this.isOp(v)) this.err(`expected "${v}"${this.cur.k === 'end' ? ' at the end' : `, found "${this.cur.v}"`}`);
    this.k++;
  }

  parseProgram(): Node {
    const n = this.parseLet();
    if (this.cur.k !== 'end') this.err(`unexpected "${this.cur.v}"`);
    return n;
  }

  private parseLet(): Node {
    if (this.cur.k === 'id' && this.cur.v === 'let') {
      this.k++;
      const name = this.cur;
      if (name.k !== 'id') this.err('expected a variable name after let');
      this.k++;
      this.expect('=');
      const value = this.parseExpr(0);
      this.expect(';');
      const scope = new Map(this.scopes[this.scopes.length - 1]);
      scope.set(name.v, { t: 'var', name: name.v, ty: typeOf(value), value });
      this.scopes.push(scope);
      const body = this.parseLet();
      this.scopes.pop();
      return body;
    }
    return this.parseExpr(0);
  }

  /** The binary operator at the cursor (with "not in" etc. as one), or undefined. */
  private peekBinary(): { op: string; len: number } | undefined {
    const t = this.cur;
    if (t.k === 'op' && BINARY[t.v]) return { op: t.v, len: 1 };
    if (t.k === 'id' && BINARY[t.v]) return { op: t.v, len: 1 };
    if (t.k === 'id' && t.v === 'not') {
      const n = this.toks[this.k + 1]!;
      if (n.k === 'id' && BINARY[`not ${n.v}`]) return { op: `not ${n.v}`, len: 2 };
    }
    return undefined;
  }

  private parseExpr(minP: number): Node {
    let left = this.parseUnary();
    for (;;) {
      if (this.isOp('?') && minP === 0) {
        this.k++;
        const a = this.parseExpr(0);
        this.expect(':');
        const b = this.parseExpr(0);
        left = { t: 'cond', c: left, a, b };
        continue;
      }
      const op = this.peekBinary();
      if (!op) return left;
      const info = BINARY[op.op]!;
      if (info.p < minP) return left;
      this.k += op.len;
      const right = this.parseExpr(info.right ? info.p : info.p + 1);
      left = { t: 'bin', op: op.op === '&&' ? 'and' : op.op === '||' ? 'or' : op.op === '^' ? '**' : op.op, l: left, r: right };
    }
  }

  private parseUnary(): Node {
    const t = this.cur;
    const op = (t.k === 'op' || t.k === 'id') ? t.v : '';
    if (op in UNARY && (t.k === 'op' || op === 'not')) {
      this.k++;
      const x = this.parseExpr(UNARY[op]!);
      return { t: 'un', op: op === '!' ? 'not' : op, x };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private parsePostfix(n: Node): Node {
    // Member access on a value that is not a field (fields are resolved whole in parsePrimary).
    if (this.isOp('.') || this.isOp('[')) this.err('member access is only supported on field names');
    return n;
  }

  private parsePrimary(): Node {
    const t = this.cur;
    switch (t.k) {
      case 'num':
        this.k++;
        return t.v === 'float' ? { t: 'lit', v: t.num as number, ty: 'float' } : { t: 'lit', v: intValue(t.num as bigint), ty: 'int' };
      case 'str':
        this.k++;
        return { t: 'lit', v: t.v, ty: 'string' };
      case 'op':
        if (t.v === '(') {
          this.k++;
          const n = this.parseExpr(0);
          this.expect(')');
          return n;
        }
        if (t.v === '[') {
          this.k++;
          const items: Node[] = [];
          while (!this.isOp(']')) {
            items.push(this.parseExpr(0));
            if (!this.isOp(']')) this.expect(',');
          }
          this.k++;
          return { t: 'arr', items };
        }
        return this.err(`unexpected "${t.v}"`);
      case 'id': {
        this.k++;
        if (t.v === 'true' || t.v === 'false') return { t: 'lit', v: t.v === 'true', ty: 'bool' };
        if (t.v === 'nil') return { t: 'lit', v: null, ty: 'nil' };
        if (this.isOp('(')) {
          if (!FUNCS.includes(t.v)) this.err(`unknown function ${t.v}`, t);
          this.k++;
          const args: Node[] = [];
          while (!this.isOp(')')) {
            args.push(this.parseExpr(0));
            if (!this.isOp(')')) this.expect(',');
          }
          this.k++;
          return { t: 'call', fn: t.v, args };
        }
        let name = t.v;
        while (this.isOp('.') && this.toks[this.k + 1]!.k === 'id') {
          name += '.' + this.toks[this.k + 1]!.v;
          this.k += 2;
        }
        const v = this.scopes[this.scopes.length - 1]!.get(name);
        if (v) return v;
        const f = this.ds.getField(name);
        if (!f || f.isEmpty) {
          const names = this.ds.fields.filter((x) => !x.isEmpty && !x.unreferenced).map((x) => x.fullName);
          this.err(`unknown name ${name}${didYouMean(name, names)}`, t);
        }
        if (isArrayKind(f.kind)) this.err(`field ${f.fullName} is an array: not supported in filter expressions`, t);
        return { t: 'field', f, ty: fieldType(f) };
      }
      default:
        return this.err('unexpected end of expression');
    }
  }
}

function intValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function fieldType(f: Field): Ty {
  const k = baseKind(f.kind);
  if (isIntegerKind(k)) return 'int';
  if (k === Kind.Float32 || k === Kind.Float64) return 'float';
  if (k === Kind.Bool) return 'bool';
  return 'string';
}

// ---------------------------------------------------------------------------------------------------------------
// Type check
// ---------------------------------------------------------------------------------------------------------------
const isNum = (t: Ty) => t === 'int' || t === 'float' || t === 'any';
const is = (t: Ty, want: Ty) => t === want || t === 'any';

function typeOf(n: Node): Ty {
  switch (n.t) {
    case 'lit': case 'field': case 'var': return n.ty;
    case 'arr': return 'array';
    case 'cond': {
      if (!is(typeOf(n.c), 'bool')) throw new FilterError('the condition of ?: must be a boolean');
      const a = typeOf(n.a); const b = typeOf(n.b);
      return a === b ? a : 'any';
    }
    case 'un': {
      const x = typeOf(n.x);
      if (n.op === 'not') { if (!is(x, 'bool')) throw new FilterError(`invalid operation: not ${x}`); return 'bool'; }
      if (!isNum(x)) throw new FilterError(`invalid operation: ${n.op} ${x}`);
      return x;
    }
    case 'call': return callType(n);
    case 'bin': return binType(n);
  }
}

function callType(n: Extract<Node, { t: 'call' }>): Ty {
  const args = n.args.map(typeOf);
  const arity = (k: number) => { if (args.length !== k) throw new FilterError(`${n.fn}() takes ${k} argument${k === 1 ? '' : 's'}, got ${args.length}`); };
  switch (n.fn) {
    case 'len': arity(1); if (!is(args[0]!, 'string') && !is(args[0]!, 'array')) throw new FilterError(`invalid argument for len (type ${args[0]})`); return 'int';
    case 'cidr':
      if (args.length === 0) throw new FilterError('cidr() needs at least one network');
      for (const a of args) if (!is(a, 'string')) throw new FilterError(`cidr() takes strings, got ${a}`);
      return 'cidr';
    case 'lower': case 'upper': case 'trim': arity(1); if (!is(args[0]!, 'string')) throw new FilterError(`${n.fn}() takes a string, got ${args[0]}`); return 'string';
    case 'string': arity(1); return 'string';
    case 'int': arity(1); return 'int';
    case 'float': arity(1); return 'float';
    case 'abs': arity(1); if (!isNum(args[0]!)) throw new FilterError(`abs() takes a number, got ${args[0]}`); return args[0]!;
  }
  throw new FilterError(`unknown function ${n.fn}`);
}

function binType(n: Extract<Node, { t: 'bin' }>): Ty {
  const l = typeOf(n.l);
  const r = typeOf(n.r);
  const bad = (): never => { throw new FilterError(`invalid operation: ${l} ${n.op} ${r} (mismatched types)`); };
  const op = n.op.startsWith('not ') ? n.op.slice(4) : n.op;
  switch (op) {
    case 'and': case 'or': if (!is(l, 'bool') || !is(r, 'bool')) bad(); return 'bool';
    case '==': case '!=':
      if (l === 'any' || r === 'any' || l === 'nil' || r === 'nil' || l === r || (isNum(l) && isNum(r))) return 'bool';
      return bad();
    case '<': case '<=': case '>': case '>=':
      if ((isNum(l) && isNum(r)) || (is(l, 'string') && is(r, 'string'))) return 'bool';
      return bad();
    case 'in':
      if (r === 'cidr') { if (!is(l, 'string')) bad(); return 'bool'; }
      if (r === 'array' || r === 'any') {
        if (n.r.t === 'arr') for (const it of n.r.items) { const t = typeOf(it); if (!(t === l || t === 'any' || l === 'any' || (isNum(t) && isNum(l)))) bad(); }
        return 'bool';
      }
      return bad();
    case 'matches':
      if (!is(l, 'string') || !is(r, 'string')) bad();
      if (n.r.t === 'lit') compileRegex(n.r.v as string);
      return 'bool';
    case 'contains': case 'startsWith': case 'endsWith': if (!is(l, 'string') || !is(r, 'string')) bad(); return 'bool';
    case '+':
      if (is(l, 'string') && is(r, 'string') && (l === 'string' || r === 'string')) return 'string';
      if (isNum(l) && isNum(r)) return l === 'int' && r === 'int' ? 'int' : l === 'any' || r === 'any' ? 'any' : 'float';
      return bad();
    case '-': case '*':
      if (!isNum(l) || !isNum(r)) bad();
      return l === 'int' && r === 'int' ? 'int' : l === 'any' || r === 'any' ? 'any' : 'float';
    case '/': case '**': if (!isNum(l) || !isNum(r)) bad(); return 'float';
    case '%': if (!is(l, 'int') || !is(r, 'int')) bad(); return 'int';
  }
  throw new FilterError(`unknown operator ${n.op}`);
}

function compileRegex(src: string): RegExp {
  try {
    return new RegExp(src);
  } catch (e) {
    throw new FilterError(`invalid regular expression ${JSON.stringify(src)}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------------------------
type Ev = (b: Batch, i: number) => Val;

/** Thrown while evaluating (e.g. an address that is no IP): upstream logs it and drops the record. */
class EvalError extends Error {}

function parseCidr(s: string): Cidr {
  const m = /^(.*)\/(\d{1,3})$/.exec(s);
  const ip = m ? parseIp(m[1]!) : undefined;
  const bits = m ? Number(m[2]) : NaN;
  if (!ip || bits > (ip.v6 ? 128 : 32)) throw new FilterError(`invalid CIDR ${JSON.stringify(s)}`);
  const width = ip.v6 ? 128 : 32;
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(width - bits);
  return { v6: ip.v6, net: ip.n & mask, bits };
}

/** An IPv4 or IPv6 address as a number; IPv4-mapped IPv6 addresses count as IPv4 (as Go's net.IP). */
export function parseIp(s: string): { v6: boolean; n: bigint } | undefined {
  const v4 = (t: string): bigint | undefined => {
    const p = t.split('.');
    if (p.length !== 4 || !p.every((x) => /^(0|[1-9][0-9]{0,2})$/.test(x) && Number(x) <= 255)) return undefined;
    return p.reduce((a, x) => (a << 8n) | BigInt(x), 0n);
  };
  const a = v4(s);
  if (a !== undefined) return { v6: false, n: a };
  if (!s.includes(':') || s.includes('%')) return undefined;
  let head = s;
  let tail4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail4 = v4(s.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const parts = (x: string) => (x === '' ? [] : x.split(':'));
  const hi = parts(dbl[0]!);
  const lo = dbl.length === 2 ? parts(dbl[1]!) : [];
  const missing = 8 - hi.length - lo.length;
  if ((dbl.length === 2 && missing < 1) || (dbl.length === 1 && missing !== 0)) return undefined;
  const groups = [...hi, ...new Array<string>(dbl.length === 2 ? missing : 0).fill('0'), ...lo];
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  let n = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  if (tail4 !== undefined) n = (n & ~0xffffffffn) | tail4;
  if (n >> 32n === 0xffffn) return { v6: false, n: n & 0xffffffffn };
  return { v6: true, n };
}

function cidrContains(list: Cidr[], ipText: string): boolean {
  const ip = parseIp(ipText);
  if (!ip) throw new EvalError(`parsing IP address "${ipText}": invalid format`);
  for (const c of list) {
    if (c.v6 !== ip.v6) continue;
    const width = ip.v6 ? 128 : 32;
    const mask = c.bits === 0 ? 0n : ((1n << BigInt(c.bits)) - 1n) << BigInt(width - c.bits);
    if ((ip.n & mask) === c.net) return true;
  }
  return false;
}

const toNum = (v: Val): number => (typeof v === 'bigint' ? Number(v) : (v as number));
const isInt = (v: Val): v is number | bigint => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));

/** == as expr-lang: numbers by value whatever their type, everything else strictly. */
function equal(a: Val, b: Val): boolean {
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return a == b; // eslint-disable-line eqeqeq
  return a === b;
}

function less(a: Val, b: Val): number {
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  const x = a as number | bigint; const y = b as number | bigint;
  return x < y ? -1 : x > y ? 1 : 0;
}

function intArith(op: string, a: number | bigint, b: number | bigint): number | bigint {
  const x = BigInt(a); const y = BigInt(b);
  let r: bigint;
  switch (op) {
    case '+': r = x + y; break;
    case '-': r = x - y; break;
    case '*': r = x * y; break;
    default: // %
      if (y === 0n) throw new EvalError('integer divide by zero');
      r = x % y;
  }
  return intValue(r);
}

function fieldReader(f: Field, ty: Ty): Ev {
  const get = f.get;
  switch (ty) {
    case 'int': return (b, i) => { const v = get(b, i); return typeof v === 'bigint' || typeof v === 'number' ? v : 0; };
    case 'float': return (b, i) => Number(get(b, i) ?? 0);
    case 'bool': return (b, i) => Boolean(get(b, i));
    default: return (b, i) => { const v = get(b, i); return v === undefined || v === null ? '' : Buffer.isBuffer(v) ? v.toString('hex') : String(v); };
  }
}

function compile(n: Node): Ev {
  switch (n.t) {
    case 'lit': { const v = n.v; return () => v; }
    case 'field': return fieldReader(n.f, n.ty);
    case 'var': return compile(n.value);
    case 'arr': { const items = n.items.map(compile); return (b, i) => items.map((x) => x(b, i)); }
    case 'cond': { const c = compile(n.c); const a = compile(n.a); const e = compile(n.b); return (b, i) => (c(b, i) ? a(b, i) : e(b, i)); }
    case 'un': {
      const x = compile(n.x);
      if (n.op === 'not') return (b, i) => !x(b, i);
      if (n.op === '+') return x;
      return (b, i) => { const v = x(b, i) as number | bigint; return typeof v === 'bigint' ? intValue(-v) : -v; };
    }
    case 'call': return compileCall(n);
    case 'bin': return compileBin(n);
  }
}

function compileCall(n: Extract<Node, { t: 'call' }>): Ev {
  const args = n.args.map(compile);
  const a0 = args[0]!;
  switch (n.fn) {
    case 'len': return (b, i) => { const v = a0(b, i); return typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : (v as Val[]).length; };
    case 'cidr': {
      if (n.args.every((x) => x.t === 'lit')) { const list = n.args.map((x) => parseCidr((x as { v: string }).v)); return () => list; }
      return (b, i) => args.map((x) => { try { return parseCidr(x(b, i) as string); } catch (e) { throw new EvalError((e as Error).message); } });
    }
    case 'lower': return (b, i) => (a0(b, i) as string).toLowerCase();
    case 'upper': return (b, i) => (a0(b, i) as string).toUpperCase();
    case 'trim': return (b, i) => (a0(b, i) as string).trim();
    case 'string': return (b, i) => { const v = a0(b, i); return typeof v === 'string' ? v : String(v); };
    case 'int': return (b, i) => {
      const v = a0(b, i);
      if (typeof v === 'bigint') return v;
      if (typeof v === 'string') { if (!/^[+-]?\d+$/.test(v.trim())) throw new EvalError(`int(${JSON.stringify(v)})`); return intValue(BigInt(v.trim())); }
      return Math.trunc(Number(v));
    };
    case 'float': return (b, i) => { const v = a0(b, i); const x = Number(v); if (typeof v === 'string' && Number.isNaN(x)) throw new EvalError(`float(${JSON.stringify(v)})`); return x; };
    case 'abs': return (b, i) => { const v = a0(b, i) as number | bigint; return typeof v === 'bigint' ? (v < 0n ? -v : v) : Math.abs(v); };
  }
  throw new FilterError(`unknown function ${n.fn}`);
}

function compileBin(n: Extract<Node, { t: 'bin' }>): Ev {
  const l = compile(n.l);
  const r = compile(n.r);
  const neg = n.op.startsWith('not ');
  const op = neg ? n.op.slice(4) : n.op;
  const wrap = (f: Ev): Ev => (neg ? (b, i) => !f(b, i) : f);
  switch (op) {
    case 'and': return (b, i) => Boolean(l(b, i)) && Boolean(r(b, i));
    case 'or': return (b, i) => Boolean(l(b, i)) || Boolean(r(b, i));
    case '==': return (b, i) => equal(l(b, i), r(b, i));
    case '!=': return (b, i) => !equal(l(b, i), r(b, i));
    case '<': return (b, i) => less(l(b, i), r(b, i)) < 0;
    case '<=': return (b, i) => less(l(b, i), r(b, i)) <= 0;
    case '>': return (b, i) => less(l(b, i), r(b, i)) > 0;
    case '>=': return (b, i) => less(l(b, i), r(b, i)) >= 0;
    case 'in': return wrap((b, i) => {
      const x = l(b, i); const list = r(b, i) as Val[];
      if (list.length > 0 && typeof list[0] === 'object' && list[0] !== null && 'bits' in (list[0] as object)) return cidrContains(list as unknown as Cidr[], x as string);
      for (const y of list) if (equal(x, y)) return true;
      return false;
    });
    case 'matches': {
      if (n.r.t === 'lit') { const re = compileRegex(n.r.v as string); return wrap((b, i) => re.test(l(b, i) as string)); }
      const cache = new Map<string, RegExp>();
      return wrap((b, i) => {
        const src = r(b, i) as string;
        let re = cache.get(src);
        if (!re) { try { re = new RegExp(src); } catch (e) { throw new EvalError((e as Error).message); } cache.set(src, re); }
        return re.test(l(b, i) as string);
      });
    }
    case 'contains': return wrap((b, i) => (l(b, i) as string).includes(r(b, i) as string));
    case 'startsWith': return wrap((b, i) => (l(b, i) as string).startsWith(r(b, i) as string));
    case 'endsWith': return wrap((b, i) => (l(b, i) as string).endsWith(r(b, i) as string));
    case '+': return (b, i) => {
      const x = l(b, i); const y = r(b, i);
      if (typeof x === 'string' || typeof y === 'string') return String(x) + String(y);
      return isInt(x) && isInt(y) ? intArith('+', x, y) : toNum(x) + toNum(y);
    };
    case '-': case '*': case '%': return (b, i) => {
      const x = l(b, i) as number | bigint; const y = r(b, i) as number | bigint;
      if (isInt(x) && isInt(y)) return intArith(op, x, y);
      return op === '-' ? toNum(x) - toNum(y) : toNum(x) * toNum(y);
    };
    case '/': return (b, i) => toNum(l(b, i)) / toNum(r(b, i));
    case '**': return (b, i) => toNum(l(b, i)) ** toNum(r(b, i));
  }
  throw new FilterError(`unknown operator ${n.op}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Predicate tree
// ---------------------------------------------------------------------------------------------------------------
function fieldsOf(n: Node, out = new Set<Field>()): Set<Field> {
  switch (n.t) {
    case 'field': out.add(n.f); break;
    case 'var': fieldsOf(n.value, out); break;
    case 'arr': for (const x of n.items) fieldsOf(x, out); break;
    case 'un': fieldsOf(n.x, out); break;
    case 'bin': fieldsOf(n.l, out); fieldsOf(n.r, out); break;
    case 'call': for (const x of n.args) fieldsOf(x, out); break;
    case 'cond': fieldsOf(n.c, out); fieldsOf(n.a, out); fieldsOf(n.b, out); break;
    default: break;
  }
  return out;
}

const deref = (n: Node): Node => (n.t === 'var' ? deref(n.value) : n);
const FLIP: Record<string, CmpOp> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/** `field OP literal` as a cmp leaf when the literal's type is the field's own (ints with int fields, ...). */
function cmpLeaf(fieldNode: Node, op: CmpOp, litNode: Node, test: (b: Batch, i: number) => boolean): Predicate | undefined {
  const f = deref(fieldNode);
  const lit = deref(litNode);
  if (f.t !== 'field' || lit.t !== 'lit') return undefined;
  const v = lit.v;
  if (f.ty === 'int' && isInt(v as Val) && typeof v !== 'boolean') return { kind: 'cmp', field: f.f, op, value: BigInt(v as number | bigint), test };
  if (f.ty === 'string' && typeof v === 'string') return { kind: 'cmp', field: f.f, op, value: v, test };
  if (f.ty === 'bool' && typeof v === 'boolean' && (op === '==' || op === '!=')) return { kind: 'cmp', field: f.f, op, value: v, test };
  return undefined;
}

function guarded(ev: Ev): (b: Batch, i: number) => boolean {
  return (b, i) => {
    try {
      return Boolean(ev(b, i));
    } catch (e) {
      if (e instanceof EvalError) return false; // upstream logs the error and drops the record
      throw e;
    }
  };
}

function toPredicate(n: Node, text: string): Predicate {
  const d = deref(n);
  if (d.t === 'lit' && typeof d.v === 'boolean') return { kind: 'const', value: d.v };
  if (d.t === 'bin' && (d.op === 'and' || d.op === 'or')) return { kind: d.op, args: [toPredicate(d.l, text), toPredicate(d.r, text)] };
  if (d.t === 'un' && d.op === 'not') return { kind: 'not', arg: toPredicate(d.x, text) };
  const test = guarded(compile(d));
  if (d.t === 'bin' && FLIP[d.op]) {
    const leaf = cmpLeaf(d.l, d.op as CmpOp, d.r, test) ?? cmpLeaf(d.r, FLIP[d.op]!, d.l, test);
    if (leaf) return leaf;
  }
  const rx = /^(not )?matches$/.exec(d.t === 'bin' ? d.op : '');
  if (d.t === 'bin' && rx) {
    const f = deref(d.l);
    const lit = deref(d.r);
    if (f.t === 'field' && f.ty === 'string' && lit.t === 'lit' && typeof lit.v === 'string') {
      const p = literalRegexPredicate(f.f, lit.v, fieldReader(f.f, 'string'));
      if (p) return rx[1] ? { kind: 'not', arg: p } : p;
    }
  }
  const m = /^(not )?(startsWith|endsWith|contains)$/.exec(d.t === 'bin' ? d.op : '');
  if (d.t === 'bin' && m) {
    const f = deref(d.l);
    const lit = deref(d.r);
    if (f.t === 'field' && f.ty === 'string' && lit.t === 'lit' && typeof lit.v === 'string') {
      const leaf: Predicate = { kind: 'strmatch', field: f.f, op: m[2] as 'startsWith', value: lit.v, test: guarded(compile({ ...d, op: m[2]! })) };
      return m[1] ? { kind: 'not', arg: leaf } : leaf;
    }
  }
  if (d.t === 'bin' && (d.op === 'in' || d.op === 'not in')) {
    const list = deref(d.r);
    if (list.t === 'arr') {
      const leaves = list.items.map((it) => cmpLeaf(d.l, '==', it, guarded(compile({ t: 'bin', op: '==', l: d.l, r: it }))));
      if (leaves.every((x) => x)) {
        const any: Predicate = leaves.length === 0 ? { kind: 'const', value: false } : { kind: 'or', args: leaves as Predicate[] };
        return d.op === 'in' ? any : { kind: 'not', arg: any };
      }
    }
  }
  const fields = [...fieldsOf(d)];
  if (fields.length === 0) return { kind: 'const', value: test(undefined as unknown as Batch, 0) };
  return { kind: 'opaque', fields, what: text, test };
}

/** Compile an expression for `ds`: its Predicate tree (every node with its JS evaluation). */
export function compileExpr(ds: DataSource, text: string): Predicate {
  try {
    const ast = new Parser(tokenize(text), ds).parseProgram();
    const ty = typeOf(ast);
    if (ty !== 'bool' && ty !== 'any') throw new FilterError(`expected bool, but got ${ty}`);
    return toPredicate(ast, text);
  } catch (e) {
    if (e instanceof FilterError) throw new FilterError(`invalid filter expression ${JSON.stringify(text)} for data source ${ds.name}: ${e.message}`);
    throw e;
  }
}

/**
 * "-E" values: one expression for every data source, or "ds:expr;ds2:expr" (a ";" followed by a data source's
 * name and ":" starts the next one, so expressions may hold "let x = …;" and ":" of their own).
 */
export function exprsPerDataSource(value: string, dsNames: string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (value.trim() === '') return out;
  const names = [...dsNames].sort((a, b) => b.length - a.length).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const head = new RegExp(`^\\s*(${names.join('|')})\\s*:(?!:)`);
  if (names.length === 0 || !head.test(value)) {
    for (const n of dsNames) out.set(n, value);
    return out;
  }
  const split = new RegExp(`;(?=\\s*(?:${names.join('|')})\\s*:(?!:))`);
  for (const part of value.split(split)) {
    const m = head.exec(part)!;
    const prev = out.get(m[1]!);
    const expr = part.slice(m[0].length);
    out.set(m[1]!, prev === undefined ? expr : `(${prev}) and (${expr})`);
  }
  return out;
}
