// cli (priority 10000): renders every data source on stdout as columns, json, jsonpretty, yaml or none.
import { writeSync } from 'node:fs';
import { yaml } from '../../format/yaml-lazy.js';
import type { DataOperator } from '../../gadget/operator.js';
import { GadgetError, type GadgetContext } from '../../gadget/context.js';
import type { Batch, DataSource, Field } from '../../datasource/index.js';
import { perDataSource } from '../perds.js';
import type { ReaderOutput } from '../../bpf/reader.js';
import { Errno } from '../../bpf/constants.js';
import { makeJsonEncoder, jsonFields, jsonSkipped } from './json.js';
import { compileNativePlan, compileNativeColumns, type NativePlan } from './native-plan.js';
import { columnFor, fitColumnsToWidth, headerLine, rowLine, type Column } from './columns.js';
import { selectFields } from './fields.js';
import { pcapngRenderer } from './pcapng.js';

export const OUTPUT_MODES = ['columns', 'json', 'jsonpretty', 'yaml', 'none'];

/**
 * Where output goes. A Buffer handed to write() is only valid during the call (it is reused): a sink that keeps
 * it must copy it.
 */
export interface Sink {
  write(s: string | Buffer): void;
  isTTY: boolean;
  /** Terminal columns when the sink is a terminal. */
  width?: number;
}

/** Text lines encoded as UTF-8 into one growing, reused buffer. */
export class LineBuffer {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  reset(): void { this.pos = 0; }
  line(s: string): void {
    const need = s.length * 3 + 1;
    if (this.pos + need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    // utf8Write skips buf.write()'s encoding lookup: measurable at one call per event.
    this.pos += (this.buf as unknown as { utf8Write(s: string, offset: number): number }).utf8Write(s, this.pos);
    this.buf[this.pos++] = 0x0a;
  }
  view(): Buffer { return this.buf.subarray(0, this.pos); }

  /** The live records of a batch as JSON lines (replacing what the buffer held); returns the bytes. */
  batch(enc: (b: Batch, i: number) => string, b: Batch): Buffer {
    this.reset();
    for (let k = 0; k < b.liveCount; k++) this.line(enc(b, b.live[k]!));
    return this.view();
  }
}

/** stdout: a synchronous write of the bytes when nothing is queued (files, pipes); else a queued copy. */
export const stdoutSink: Sink = {
  write: (s) => {
    if (typeof s === 'string') { process.stdout.write(s); return; }
    let off = 0;
    if (process.stdout.writableLength === 0) {
      try {
        while (off < s.length) off += writeSync(1, s, off, s.length - off);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN') throw e;
      }
    }
    process.stdout.write(Buffer.from(s.subarray(off)));
  },
  get isTTY() { return Boolean(process.stdout.isTTY); },
  get width() { return process.stdout.isTTY ? process.stdout.columns : undefined; },
};

/**
 * One JSON line as a YAML value. YAML reads JSON, and with intAsBigInt a u64 such as a mount namespace id or
 * 18446744073709551615 stays exact (JSON.parse would round it to a double).
 */
function yamlValue(json: string): unknown {
  return yaml().parseDocument(json, { intAsBigInt: true }).toJS();
}

/**
 * YAML 1.1 rules for what needs quotes: a timestamp, "yes", "no" or "on" printed bare would be read back as a
 * date or a boolean by 1.1 readers (Go's yaml.v2, PyYAML).
 */
function yamlText(v: unknown): string {
  return yaml().stringify(v, { version: '1.1' });
}

const CLEAR_SCREEN = '\x1b[H\x1b[2J';

/**
 * Pre-rendered text (fields annotated `content-type: text/plain`, e.g. histograms): printed as is, one record
 * after the other; on a terminal the screen is cleared first when the data source asks for it.
 */
function textRenderer(ds: DataSource, fields: Field[], sink: Sink): (b: Batch) => void {
  const clear = ds.annotations.get('cli.clear-screen-before') === 'true';
  return (b) => {
    let s = clear && sink.isTTY ? CLEAR_SCREEN : '';
    for (let k = 0; k < b.liveCount; k++) {
      for (const f of fields) {
        const v = f.get(b, b.live[k]!);
        const t = v === undefined || v === null ? '' : String(v);
        s += t.endsWith('\n') ? t : t + '\n';
      }
    }
    sink.write(s);
  };
}

const isText = (f: Field) => f.annotation('content-type') === 'text/plain';

/** Output policy of the reader-thread renderer: stdout, and a 4 ms linger instead of 1 ms. */
const RENDER_FD = 1;
// Rendering threads linger 4 ms after a poll instead of 1: under a storm that halves their wake-ups and
// context switches (~15% of their CPU) for output that is 3 ms later; the 8 MiB ring holds ~30 ms of it.
const RENDER_LINGER_US = 4000;
// ... and, while records keep coming (a linger found some), up to 16 ms: an exec storm (200-2,000 records/s) is then
// read in one wake-up per 16 ms instead of ~1 per record (1.2 wake-ups per exec at 200 execs/s with 4 ms), for lines
// at most 16 ms later; the thread halves it again when a linger's records fill a quarter of the ring.
const RENDER_LINGER_MAX_US = 16000;

/**
 * Lines with a native plan (JSON, or columns rows): the cli offers the data source's reader a render consumer,
 * so the reader's thread filters and renders the records and this renderer only sees those the plan missed on.
 * It renders them like the JS path, writes them through the reader (in order with the thread's lines) and fills
 * the plan's memos. Until a reader takes the consumer (or if none does) it writes to the sink.
 */
function nativeLineRenderer(ctx: GadgetContext, ds: DataSource, line: (b: Batch, i: number) => string, sink: Sink, np: NativePlan, onStdoutClosed: () => void, header?: string): Renderer {
  const lines = new LineBuffer();
  let out: ReaderOutput | undefined;
  // The filter's memos need the answer for the records the filter drops too: filled before it runs (9000).
  if (np.filterMemos) ds.subscribe((b) => np.fillFilter(b), 8999, { nativeEquivalent: true });
  ctx.renderConsumers.offer(ds, {
    plan: np.plan, outFd: RENDER_FD, lingerUs: RENDER_LINGER_US, lingerMaxUs: RENDER_LINGER_MAX_US, maxLatencyMs: 1, filters: true,
    // The header goes out through the reader before its thread starts: its rows cannot precede it.
    preamble: header !== undefined ? Buffer.from(header + '\n', 'utf8') : undefined,
    attached: (o) => { out = o; },
    refresh: (b) => np.fill(b, true),
    // A memo miss stays on the reader thread: JS only computes the missing fragments, the thread renders the line.
    memoRequests: true,
    missed: (b) => np.fillMissed(b),
    outputFailed: (errno, message) => {
      // A reader that went away (`ig run ... | head`) ends the run quietly, as on the JS path.
      if (errno === Errno.EPIPE) { onStdoutClosed(); ctx.done('stdout closed'); return; }
      ctx.log.error(`${ds.name}: cannot write output: ${message}`);
      ctx.done('error');
    },
  });
  let headerDone = false;
  const render: Renderer = (b) => {
    if (!out && !headerDone && header !== undefined) { headerDone = true; sink.write(header + '\n'); }
    const bytes = lines.batch(line, b);
    if (!out) { sink.write(bytes); return; }
    out.write(bytes);
    np.fill(b);
  };
  // No reader took the consumer by the time the run starts (rows come through JS): the header is printed here.
  if (header !== undefined) render.begin = () => { if (!out && !headerDone) { headerDone = true; sink.write(header + '\n'); } };
  return render;
}

/**
 * What JSON output (json, jsonpretty, yaml) shows: the --fields selection, else every referenced field; json.skip
 * fields never (upstream's formatter checks it before any selection).
 */
function jsonFieldList(ds: DataSource, fieldsSpec: string | undefined): Field[] {
  return fieldsSpec ? selectFields(ds, fieldsSpec).filter((f) => !jsonSkipped(f)) : jsonFields(ds);
}

/**
 * The native form of a JSON or columns renderer of `ds` (with the data source's filters), or why there is none.
 * Columns: the header is printed by JS at start (begin), rows by the plan.
 */
function nativeRenderer(ctx: GadgetContext, ds: DataSource, mode: string, fieldsSpec: string | undefined, sink: Sink, onStdoutClosed: () => void): { np: NativePlan; render: Renderer } | { reason: string } {
  const preds = ds.predicates();
  if (mode === 'json') {
    const list = jsonFieldList(ds, fieldsSpec);
    // every field may be read by an op (a joined string's length and count), shown or not
    const np = compileNativePlan(list, preds, ds.fields);
    if ('reason' in np) return np;
    return { np, render: nativeLineRenderer(ctx, ds, makeJsonEncoder(list, 0), sink, np, onStdoutClosed) };
  }
  const selected = selectFields(ds, fieldsSpec);
  if (selected.length === 1 && isText(selected[0]!)) return { reason: 'a text/plain column' };
  const cols: Column[] = selected.map((f, k) => columnFor(ds, f, k === selected.length - 1));
  fitColumnsToWidth(cols, sink.isTTY ? sink.width : undefined);
  const np = compileNativeColumns(cols, preds, ds.fields);
  if ('reason' in np) return np;
  return { np, render: nativeLineRenderer(ctx, ds, (b, i) => rowLine(cols, b, i), sink, np, onStdoutClosed, headerLine(cols)) };
}

/** Renders batches; `begin` (if any) prints what comes before the first batch. */
export type Renderer = ((b: Batch) => void) & { begin?: () => void };

export function makeRenderer(ds: DataSource, mode: string, fieldsSpec: string | undefined, sink: Sink): Renderer | undefined {
  const isArray = ds.type === 'array';
  const clear = ds.annotations.get('cli.clear-screen-before') === 'true';
  switch (mode) {
    case 'none': return undefined;
    // packets as a pcap-ng stream (data sources that annotate pcap.payload etc., e.g. tcpdump)
    case 'pcap-ng': return pcapngRenderer(ds, sink);
    // advise: text records of advisors (network policies, seccomp profiles), printed as they are
    case 'histogram': case 'advise': {
      // Custom modes print the string value of fields; rendered data sources mark theirs as text/plain.
      const text = ds.fields.filter((f) => isText(f) && !f.unreferenced);
      return textRenderer(ds, text.length > 0 ? text : selectFields(ds, fieldsSpec), sink);
    }
    case 'json': case 'jsonpretty': case 'yaml': {
      const fields = jsonFieldList(ds, fieldsSpec);
      const pretty = mode === 'jsonpretty' ? 2 : 0;
      const enc = makeJsonEncoder(fields, pretty);
      if (mode === 'yaml') {
        return (b) => {
          let s = '';
          const docs = [...b.indices()].map((i) => yamlValue(enc(b, i)));
          if (isArray) s = `---\n${yamlText(docs)}`;
          else for (const d of docs) s += `---\n${yamlText(d)}`;
          sink.write(s);
        };
      }
      if (isArray) {
        return (b) => {
          const items: string[] = [];
          for (let k = 0; k < b.liveCount; k++) items.push(enc(b, b.live[k]!));
          sink.write(pretty ? `[\n${items.map((x) => '  ' + x.replace(/\n/g, '\n  ')).join(',\n')}\n]\n` : `[${items.join(',')}]\n`);
        };
      }
      if (mode === 'json') {
        // Each line is encoded into one reused buffer and the batch written at once: flattening one rope of a
        // whole batch (hundreds of pieces per line) cost more than building it.
        const lines = new LineBuffer();
        return (b) => sink.write(lines.batch(enc, b));
      }
      return (b) => {
        let s = '';
        for (let k = 0; k < b.liveCount; k++) s += enc(b, b.live[k]!) + '\n';
        sink.write(s);
      };
    }
    case 'columns': {
      const selected = selectFields(ds, fieldsSpec);
      // A single text/plain column (rendered metrics) reads better as the text itself than as a table cell.
      if (selected.length === 1 && isText(selected[0]!)) return textRenderer(ds, selected, sink);
      const cols = selected.map((f, k) => columnFor(ds, f, k === selected.length - 1));
      fitColumnsToWidth(cols, sink.isTTY ? sink.width : undefined);
      const header = headerLine(cols);
      let printedHeader = false;
      const render: Renderer = (b) => {
        let s = '';
        if (isArray) {
          if (clear && sink.isTTY) s += CLEAR_SCREEN;
          else if (printedHeader) s += '\n';
          s += header + '\n';
        } else if (!printedHeader) {
          s += header + '\n';
        }
        printedHeader = true;
        for (let k = 0; k < b.liveCount; k++) s += rowLine(cols, b, b.live[k]!) + '\n';
        sink.write(s);
      };
      // A stream's header goes out when the run starts (as upstream): a run that matches nothing yet shows
      // what it will print instead of an empty screen.
      if (!isArray) render.begin = () => { if (!printedHeader) { printedHeader = true; sink.write(header + '\n'); } };
      return render;
    }
    default: return undefined;
  }
}

/**
 * "ds:value" parts must name a data source of this gadget: "-o nosuchds:json" would otherwise be taken as a
 * mode for every data source and print nothing. `plain(v)` says whether a whole part is a value as it is.
 */
export function checkTargets(spec: string, names: string[], sep: string, flag: string, plain: (v: string) => boolean): void {
  if (spec === '') return;
  for (const part of spec.split(sep)) {
    const i = part.indexOf(':');
    if (i <= 0 || plain(part)) continue;
    const ds = part.slice(0, i);
    if (!names.includes(ds)) {
      throw new GadgetError(`invalid ${flag} "${spec}": this gadget has no data source "${ds}" (data sources: ${names.join(', ') || 'none'})`);
    }
  }
}

/** Seconds of silence on a terminal before ig says what it watches (IG_QUIET_NOTE_MS overrides; 0: never). */
const quietNoteMs = Number(process.env['IG_QUIET_NOTE_MS'] ?? 5000);

/**
 * Shown fields whose values a kernel map keeps (Derivation.kernelText, e.g. the process enricher's exe tracker)
 * start it now, before the gadget attaches, as the native plan does when it compiles: both paths then see the same
 * processes recorded.
 */
function startKernelSources(fields: Field[]): void {
  for (const f of fields) if (f.derivation?.kind === 'computed') f.derivation.kernelText?.mapFds();
}

export function cliOperator(sink: Sink = stdoutSink): DataOperator {
  return {
    name: 'cli',
    priority: 10000,
    instantiate(ctx: GadgetContext) {
      // Instantiated even without data sources yet: a WASM module may add them at start, and -o/--fields must
      // be the same flags on every gadget.
      const modes = new Set<string>(OUTPUT_MODES);
      const plans: NativePlan[] = [];
      const begins: (() => void)[] = [];
      // Rows written since the start (native JSON lines bypass this sink, so they never trigger the note).
      let rows = false;
      let streams = 0;
      let quietTimer: NodeJS.Timeout | undefined;
      const rowsSink: Sink = { write: (s) => { rows = true; sink.write(s); }, get isTTY() { return sink.isTTY; }, get width() { return sink.width; } };
      for (const ds of ctx.dataSources.values()) for (const m of (ds.annotations.get('cli.supported-output-modes') ?? '').split(',')) if (m) modes.add(m);
      let stdoutClosed = false;
      return {
        name: 'cli',
        params: () => [
          { key: 'output', alias: 'o', prefix: 'operator.cli.', defaultValue: 'columns', description: `Output mode: ${[...modes].join(', ')}; ds:mode,ds2:mode for several data sources`,
            validate: (v) => v.split(',').every((p) => modes.has(p.includes(':') ? p.slice(p.indexOf(':') + 1) : p)) ? undefined : `must be one of ${[...modes].join(', ')}` },
          { key: 'fields', prefix: 'operator.cli.', defaultValue: '', description: 'Fields to show: a,b,c replaces the default columns; +a,-b adds and removes; ds:list;ds2:list for several data sources' },
        ],
        preStart() {
          const dss = [...ctx.dataSources.values()];
          const names = dss.map((d) => d.name);
          // Only what the user asked for: otherwise each data source's cli.default-output-mode (else columns).
          const outputSpec = ctx.params.isSet('operator.cli.output') ? ctx.params.get('operator.cli.output') ?? '' : '';
          const fieldsSpec = ctx.params.get('operator.cli.fields') ?? '';
          checkTargets(outputSpec, names, ',', '-o', (m) => modes.has(m));
          checkTargets(fieldsSpec, names, ';', '--fields', () => false);
          const outputs = perDataSource(outputSpec, names, ',');
          const fields = perDataSource(fieldsSpec, names, ';');
          const shown: { ds: DataSource; mode: string }[] = [];
          for (const ds of dss) {
            if (!ds.referenced) continue;
            const mode = outputs.get(ds.name) ?? ds.annotations.get('cli.default-output-mode') ?? 'columns';
            const supported = ds.annotations.get('cli.supported-output-modes');
            if (supported && !supported.split(',').includes(mode) && !OUTPUT_MODES.includes(mode)) {
              ctx.log.warn(`data source ${ds.name} does not support output mode ${mode}; skipped`);
              continue;
            }
            // Once the reader of stdout went away (`| head`) the run ends quietly: what the kernel dropped
            // meanwhile concerns nobody.
            ds.onLost((n, cause) => { if (!stdoutClosed) ctx.log.warn(`${ds.name}: lost ${n} events (${cause})`); });
            if (mode !== 'none') shown.push({ ds, mode });
          }
          // One data source printed as JSON lines or columns on stdout: the reader's thread may filter and render
          // it (native plan). With several, their lines would interleave from different threads.
          const only = shown.length === 1 ? shown[0]! : undefined;
          const nativeOk = (only?.mode === 'json' || only?.mode === 'columns') && sink === stdoutSink && only.ds.type === 'single' && process.env['IG_NATIVE_RENDER'] !== '0';
          for (const { ds, mode } of shown) {
            const what = mode === 'json' ? 'JSON' : mode;
            if (nativeOk) {
              const native = nativeRenderer(ctx, ds, mode, fields.get(ds.name), sink, () => { stdoutClosed = true; });
              if (!('reason' in native)) {
                plans.push(native.np);
                ds.subscribe(native.render, 10000, { nativeEquivalent: true });
                if (native.render.begin) begins.push(native.render.begin);
                if (ds.type === 'single') streams++;
                continue;
              }
              ctx.log.debug(`${ds.name}: ${what} rendered in JS (${native.reason})`);
            } else if (mode === 'json' || mode === 'columns') {
              ctx.log.debug(`${ds.name}: ${what} rendered in JS (${shown.length > 1 ? 'several data sources are printed' : sink !== stdoutSink ? 'output is not stdout' : ds.type === 'array' ? 'an array data source' : 'IG_NATIVE_RENDER=0'})`);
            } else {
              ctx.log.debug(`${ds.name}: ${mode} output, rendered in JS`);
            }
            const r = makeRenderer(ds, mode, fields.get(ds.name), rowsSink);
            if (r) ds.subscribe(r, 10000);
            if (r) startKernelSources(mode === 'columns' ? selectFields(ds, fields.get(ds.name)) : jsonFields(ds));
            if (r?.begin) begins.push(r.begin);
            if (ds.type === 'single') streams++;
          }
        },
        start() {
          for (const b of begins.splice(0)) b();
          rows = false;
          // A person at a terminal who sees nothing for a while should learn what is being watched, once.
          if (streams > 0 && quietNoteMs > 0 && process.stderr.isTTY) {
            quietTimer = setTimeout(() => {
              if (rows || ctx.signal.aborted || plans.some((p) => p.plan.lines() > 0)) return;
              const watched = ctx.watching;
              ctx.log.notice(`no events in ${quietNoteMs / 1000}s: watching ${watched ?? 'the whole host'}; events appear as they happen (Ctrl-C to stop)`);
            }, quietNoteMs);
            quietTimer.unref();
          }
        },
        stop() {
          if (quietTimer) clearTimeout(quietTimer);
          for (const p of plans.splice(0)) p.dispose();
        },
      };
    },
  };
}
