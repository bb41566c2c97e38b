// Params: string-valued options described once, shown as CLI flags, type-checked when set.

export type TypeHint = 'bool' | 'string' | 'int' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint' | 'uint8' | 'uint16'
  | 'uint32' | 'uint64' | 'float32' | 'float64' | 'duration' | 'ip' | 'strings' | '';

export interface ParamDesc {
  key: string;
  alias?: string;               // one-letter short flag
  alternativeKey?: string;      // hidden long alias
  title?: string;
  description?: string;
  defaultValue?: string;
  typeHint?: TypeHint;
  possibleValues?: string[];
  isMandatory?: boolean;
  valueHint?: string;
  tags?: string[];
  /** Fully qualified prefix, e.g. "operator.oci.ebpf." */
  prefix?: string;
  /** Extra validation; return an error message or undefined. */
  validate?: (value: string) => string | undefined;
  /** Max bytes for string params written into a char array. */
  maxLength?: number;
}

export class ParamError extends Error {}

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int8: [-128n, 127n], int16: [-32768n, 32767n], int32: [-2147483648n, 2147483647n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n], int: [-(2n ** 63n), 2n ** 63n - 1n],
  uint8: [0n, 255n], uint16: [0n, 65535n], uint32: [0n, 4294967295n], uint64: [0n, 2n ** 64n - 1n], uint: [0n, 2n ** 64n - 1n],
};

/** The longest duration a timer can wait (2^31-1 ms). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Parse a Go-style duration ("1s", "500ms", "1m30s", "2h") or a bare number of seconds; returns milliseconds. */
export function parseDuration(v: string): number {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== s.length || s.length === 0) throw new ParamError(`invalid duration "${v}"`);
  return total;
}

export function validateParamValue(p: ParamDesc, value: string): void {
  const name = `--${p.key}`;
  if (p.possibleValues && p.possibleValues.length > 0 && !p.possibleValues.includes(value)) {
    throw new ParamError(`invalid value "${value}" for ${name}: must be one of ${p.possibleValues.join(', ')}`);
  }
  const hint = p.typeHint ?? '';
  if (hint === 'bool') {
    if (!['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False'].includes(value)) {
      throw new ParamError(`invalid value "${value}" for ${name}: expected true or false`);
    }
  } else if (hint in INT_RANGES) {
    if (!/^-?\d+$/.test(value.trim())) throw new ParamError(`invalid value "${value}" for ${name}: expected ${hint === 'int' || hint === 'uint' ? 'an integer' : `a ${hint}`}`);
    const n = BigInt(value.trim());
    const [lo, hi] = INT_RANGES[hint]!;
    if (n < lo || n > hi) throw new ParamError(`invalid value "${value}" for ${name}: out of range for ${hint} (${lo}..${hi})`);
  } else if (hint === 'float32' || hint === 'float64') {
    if (value.trim() === '' || Number.isNaN(Number(value))) throw new ParamError(`invalid value "${value}" for ${name}: expected a number`);
  } else if (hint === 'duration') {
    let ms: number;
    try { ms = parseDuration(value); } catch { throw new ParamError(`invalid value "${value}" for ${name}: expected a duration like 500ms or 2s (a bare number is seconds)`); }
    // Durations end up in timers, which cannot wait longer (a longer one fires at once).
    if (ms > MAX_DURATION_MS) throw new ParamError(`invalid value "${value}" for ${name}: longer than ${MAX_DURATION_MS}ms (about 24.8 days)`);
  } else if (hint === 'ip') {
    if (value !== '' && !isIp(value)) throw new ParamError(`invalid value "${value}" for ${name}: expected an IP address`);
  }
  if (p.maxLength !== undefined && Buffer.byteLength(value) > p.maxLength) {
    throw new ParamError(`invalid value "${value}" for ${name}: longer than ${p.maxLength} bytes`);
  }
  const msg = p.validate?.(value);
  if (msg) throw new ParamError(`invalid value "${value}" for ${name}: ${msg}`);
}

function isIp(v: string): boolean {
  return /^(\d{1,3})(\.\d{1,3}){3}$/.test(v) && v.split('.').every((x) => Number(x) <= 255) || /^[0-9a-fA-F:]+$/.test(v) && v.includes(':');
}

export function parseBool(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 't', 'TRUE', 'True'].includes(v);
}

/** The set of params of one run, with their values. */
export class ParamSet {
  private readonly descs = new Map<string, ParamDesc>();
  private readonly values = new Map<string, string>();

  add(p: ParamDesc): void {
    const fq = (p.prefix ?? '') + p.key;
    this.descs.set(fq, p);
  }

  all(): ParamDesc[] {
    return [...this.descs.values()];
  }

  /** Set by fully-qualified key or by bare key (first match). Validates. */
  set(key: string, value: string): void {
    const p = this.find(key);
    if (!p) throw new ParamError(`unknown param "${key}"`);
    validateParamValue(p, value);
    this.values.set((p.prefix ?? '') + p.key, value);
  }

  find(key: string): ParamDesc | undefined {
    return this.descs.get(key) ?? [...this.descs.values()].find((p) => p.key === key);
  }

  /** The value set by the user, else the param's default. */
  get(key: string): string | undefined {
    const p = this.find(key);
    if (!p) return undefined;
    const fq = (p.prefix ?? '') + p.key;
    return this.values.has(fq) ? this.values.get(fq) : p.defaultValue;
  }

  /** The values that were set (fully-qualified key → value), e.g. for a recording. */
  setValues(): Record<string, string> {
    return Object.fromEntries(this.values);
  }

  isSet(key: string): boolean {
    const p = this.find(key);
    return !!p && this.values.has((p.prefix ?? '') + p.key);
  }

  checkMandatory(): void {
    for (const p of this.descs.values()) {
      if (p.isMandatory && !this.values.has((p.prefix ?? '') + p.key) && !p.defaultValue) {
        throw new ParamError(`missing required flag --${p.key}`);
      }
    }
  }
}
