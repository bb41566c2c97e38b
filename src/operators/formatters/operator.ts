// formatters (priority 0): turn typed raw fields (BTF typedef names) into readable ones. Converted fields are
// derived: computed only when an output, filter or sort reads them. Timestamps are rewritten in place to
// wall-clock ns, as upstream does, so every later consumer sees the same clock.
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import { Batch, DataSource, Field, Kind, readU64 } from '../../datasource/index.js';
import { errnoName, fileFlags, fileMode, TimestampFormatter, humanBytes, humanDuration, signalName, syscallName, targetName } from '../../format/index.js';
import { bootToWallOffsetNs } from './boottime.js';

type Conv = { kind: string; template?: string; fmt: (v: number) => string };

const NUMERIC: Record<string, Conv> = {
  gadget_errno: { kind: 'errno', template: 'errorString', fmt: errnoName },
  gadget_signal: { kind: 'signal', fmt: signalName },
  gadget_syscall: { kind: 'syscall', template: 'syscall', fmt: syscallName },
  gadget_bytes: { kind: 'bytes', template: 'bytes', fmt: humanBytes },
  gadget_duration: { kind: 'duration', template: 'duration', fmt: humanDuration },
  gadget_file_mode: { kind: 'file_mode', fmt: fileMode },
  gadget_file_flags: { kind: 'file_flags', fmt: fileFlags },
};

function addSibling(ds: DataSource, raw: Field, name: string, kind: number, compute: (b: Batch, i: number) => unknown, annotations: Record<string, string>): Field | undefined {
  const fullName = raw.parent ? `${raw.parent.fullName}.${name}` : name;
  if (ds.getField(fullName)?.fullName === fullName) return undefined;
  const f = ds.addField({
    name, parent: raw.parent, kind, order: raw.order, annotations,
    tags: ['src:formatters'],
    storage: { type: 'derived', compute: compute as never },
  });
  raw.setHidden(true);
  return f;
}

function wireTimestamp(ds: DataSource, raw: Field, bootOffset: () => bigint): ((b: Batch) => void) | undefined {
  const name = targetName(raw, 'timestamp') ?? (raw.name === 'timestamp' ? undefined : 'timestamp');
  if (raw.storage.type !== 'static' || raw.kind !== Kind.Uint64) return undefined;
  const offs = raw.storage.offs;
  const format = raw.annotation('formatters.timestamp.format');
  const off = bootOffset();
  raw.derivation = { kind: 'wallclock-ns', offsetNs: off };
  if (name) {
    const tf = new TimestampFormatter();
    const text = addSibling(ds, raw, name, Kind.String, (b, i) => {
      const o = b.offs[i]! + offs;
      const lo = b.buf.readUInt32LE(o);
      const hi = b.buf.readUInt32LE(o + 4);
      if (lo === 0 && hi === 0) return '';
      return format === 'unix' ? String(readU64(b.buf, o)) : tf.format(hi, lo);
    }, { template: 'timestamp', description: raw.annotation('description') ?? 'Timestamp' });
    if (text && format !== 'unix') text.derivation = { kind: 'wallclock-text', input: raw, offsetNs: off };
  }
  // In-place boot → wall clock, with 32-bit halves and a carry: no BigInt per record.
  const offLo = Number(off & 0xffffffffn);
  const offHi = Number(off >> 32n);
  return (b) => {
    const buf = b.buf;
    for (let k = 0; k < b.liveCount; k++) {
      const o = b.offs[b.live[k]!]! + offs;
      const lo = buf.readUInt32LE(o);
      const hi = buf.readUInt32LE(o + 4);
      if (lo === 0 && hi === 0) continue;
      const nlo = lo + offLo;
      buf.writeUInt32LE(nlo >>> 0, o);
      buf.writeUInt32LE((hi + offHi + (nlo > 0xffffffff ? 1 : 0)) >>> 0, o + 4);
    }
  };
}

/**
 * A char array holding several NUL-separated strings (exec arguments): shown joined by
 * `formatters.strings.separator`, up to the length in the field named by `formatters.strings.length`
 * (else the record's length). Our annotation: upstream does this in the gadget's WASM module.
 */
function wireJoinedStrings(ds: DataSource, f: Field, sep: string): void {
  if (f.storage.type !== 'static') return;
  const { offs, size } = f.storage;
  const lenField = f.annotation('formatters.strings.length');
  const getLen = lenField ? ds.getField(lenField)?.get : undefined;
  f.override((b, i) => {
    const start = b.offs[i]! + offs;
    let n = getLen ? Number(getLen(b, i)) : b.lens[i]! - offs;
    if (!(n >= 0) || n > size) n = size;
    const parts = b.buf.toString('utf8', start, start + n).split('\0');
    while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    return parts.join(sep);
  });
}

/** Add the converted fields to `ds`; returns the in-place rewriters to subscribe at priority 0. */
export function installFormatters(ds: DataSource, bootOffset: () => bigint = bootToWallOffsetNs): ((b: Batch) => void)[] {
  const rewriters: ((b: Batch) => void)[] = [];
  for (const raw of [...ds.fields]) {
    if (raw.unreferenced || raw.isEmpty) continue;
    const sep = raw.annotation('formatters.strings.separator');
    if (sep !== undefined) wireJoinedStrings(ds, raw, sep);
    const types = raw.typeNames();
    if (types.includes('gadget_timestamp')) {
      const w = wireTimestamp(ds, raw, bootOffset);
      if (w) rewriters.push(w);
      continue;
    }
    for (const t of types) {
      const conv = NUMERIC[t];
      if (!conv) continue;
      const name = targetName(raw, conv.kind);
      if (!name) break;
      const get = raw.get;
      const ann: Record<string, string> = {};
      if (conv.template) ann['template'] = conv.template;
      const d = raw.annotation('description');
      if (d) ann['description'] = d;
      for (const k of ['columns.width', 'columns.alignment']) { const v = raw.annotation(k); if (v && !conv.template) ann[k] = v; }
      // Values repeat (flags, modes, errnos): remember the last one.
      let lastV = NaN;
      let lastS = '';
      const f = addSibling(ds, raw, name, Kind.String, (b, i) => {
        const v = Number(get(b, i) ?? 0);
        if (v !== lastV) { lastV = v; lastS = conv.fmt(v); }
        return lastS;
      }, ann);
      // The text follows from the raw value alone.
      if (f) f.derivation = { kind: 'computed', inputs: [raw] };
      break;
    }
  }
  return rewriters;
}

export const formattersOperator: DataOperator = {
  name: 'formatters',
  priority: 0,
  instantiate(ctx: GadgetContext): OperatorInstance | null {
    const dss = [...ctx.dataSources.values()];
    if (dss.length === 0) return null;
    // Fields are added now so that --fields, --filter and --sort can name them.
    // A replay rewrites timestamps with the recorded run's offset (the boot clock of another boot, maybe another host).
    const bootOffset = () => BigInt(ctx.facts.ask('clock', 'boot-to-wall-ns', () => String(bootToWallOffsetNs()), '0'));
    const subs = dss.map((ds) => ({ ds, rewriters: installFormatters(ds, bootOffset) }));
    return {
      name: 'formatters',
      preStart() {
        // A native render plan adds the clock offset itself (Derivation wallclock-*).
        for (const { ds, rewriters } of subs) for (const r of rewriters) ds.subscribe(r, 0, { nativeEquivalent: true, releasesBatch: true });
      },
    };
  },
};

