// Client-side output of a remote run: the data sources come from the field tables the daemon sends; the same cli
// operator as `ig run` renders them (columns, json, yaml, --fields), so both commands print alike.
import { GadgetContext, type GadgetImageInfo } from '../../gadget/context.js';
import { parseMetadata } from '../../gadget/metadata.js';
import { Logger } from '../../gadget/logger.js';
import type { OperatorInstance } from '../../gadget/operator.js';
import type { ParamDesc } from '../../gadget/params.js';
import { cliOperator, stdoutSink, type Sink } from '../../operators/cli/operator.js';
import type { Batch, DataSource } from '../../datasource/index.js';
import type { ApiGadgetInfo, ApiParam } from '../../service/proto.js';
import { dataSourceFromDescription } from '../../service/wire.js';
import { receivedLayout } from '../../datasource/codec.js';
import { FrameRenderer } from '../../service/frame-render.js';
import { perDataSource } from '../../operators/perds.js';
import { selectFields } from '../../operators/cli/fields.js';
import { columnFor, fitColumnsToWidth, headerLine } from '../../operators/cli/columns.js';

/** stdout through the JS renderers (the reader-thread JSON path needs a local ring buffer). */
const clientSink: Sink = { write: (s) => stdoutSink.write(s), get isTTY() { return stdoutSink.isTTY; } };

/** gadgetctl's stdout for natively rendered lines: fd 1 whenever nothing written before is still pending there. */
function stdoutFd(): number { return process.stdout.writableLength === 0 ? 1 : -1; }

function fromApiParam(p: ApiParam): ParamDesc {
  return {
    key: p.key, description: p.description || undefined, defaultValue: p.defaultValue || undefined,
    typeHint: (p.typeHint || '') as ParamDesc['typeHint'], title: p.title || undefined, alias: p.alias || undefined,
    tags: p.tags, valueHint: p.valueHint || undefined, possibleValues: p.possibleValues?.length ? p.possibleValues : undefined,
    isMandatory: p.isMandatory || undefined, prefix: p.prefix || undefined, alternativeKey: p.alternativeKey || undefined,
  };
}

async function clientContext(info: ApiGadgetInfo, dataSources: DataSource[], log: Logger, sink: Sink): Promise<{ ctx: GadgetContext; cli?: OperatorInstance }> {
  const image: GadgetImageInfo = { reference: info.imageName, digest: '', ebpf: null, wasm: null, annotations: info.annotations ?? {} };
  const ctx = new GadgetContext(image, parseMetadata(info.metadata ?? null, `${info.imageName}: gadget.yaml`), log);
  for (const ds of dataSources) ctx.dataSources.set(ds.name, ds);
  await ctx.instantiate([], [cliOperator(sink)]);
  return { ctx, cli: ctx.instances.find((i) => i.op === 'cli')?.inst };
}

/** The params a remote gadget offers (the daemon's) plus the client's output params. */
export async function remoteParams(info: ApiGadgetInfo, log: Logger): Promise<{ server: ParamDesc[]; client: ParamDesc[] }> {
  const { ctx } = await clientContext(info, info.dataSources.map((t) => dataSourceFromDescription(t)), log, clientSink);
  return { server: info.params.map(fromApiParam), client: ctx.params.all() };
}

interface Shown { ds: DataSource; mode: string }

/** The data sources the cli prints (as it decides: -o per data source, else each one's default mode). */
function shownOutputs(ctx: GadgetContext): { shown: Shown[]; fields: Map<string, string> } {
  const dss = [...ctx.dataSources.values()];
  const names = dss.map((d) => d.name);
  const outputs = perDataSource(ctx.params.isSet('operator.cli.output') ? ctx.params.get('operator.cli.output') ?? '' : '', names, ',');
  const fields = perDataSource(ctx.params.get('operator.cli.fields') ?? '', names, ';');
  const shown: Shown[] = [];
  for (const ds of dss) {
    if (!ds.referenced) continue;
    const mode = outputs.get(ds.name) ?? ds.annotations.get('cli.default-output-mode') ?? 'columns';
    if (mode !== 'none') shown.push({ ds, mode });
  }
  return { shown, fields };
}

/**
 * The one data source the cli prints as JSON lines or columns, when exactly one is printed (the cli's own rule for
 * its native renderer: several would need their lines interleaved by batch), with its --fields selection; or why
 * there is none.
 */
function nativeTarget(shown: Shown[], fields: Map<string, string>, native: boolean): { ds: DataSource; mode: 'json' | 'columns'; fields?: string } | { reason: string } {
  if (!native) return { reason: 'native rendering is off for this renderer' };
  if (process.env['IG_NATIVE_RENDER'] === '0') return { reason: 'IG_NATIVE_RENDER=0' };
  if (shown.length !== 1) return { reason: 'several data sources are printed' };
  const only = shown[0]!;
  if (only.ds.type !== 'single') return { reason: 'an array data source' };
  if (only.mode !== 'json' && only.mode !== 'columns') return { reason: `${only.mode} output` };
  return { ds: only.ds, mode: only.mode, fields: fields.get(only.ds.name) };
}

/** The header line (and its newline) each data source printed as columns starts with, as the cli prints it. */
function columnHeaders(shown: Shown[], fields: Map<string, string>, sink: Sink): Map<DataSource, string> {
  const out = new Map<DataSource, string>();
  for (const { ds, mode } of shown) {
    if (mode !== 'columns' || ds.type !== 'single') continue; // an array's table is printed whole each time
    const selected = selectFields(ds, fields.get(ds.name));
    if (selected.length === 1 && selected[0]!.annotation('content-type') === 'text/plain') continue;
    const cols = selected.map((f, k) => columnFor(ds, f, k === selected.length - 1));
    fitColumnsToWidth(cols, sink.isTTY ? sink.width : undefined);
    out.set(ds, headerLine(cols) + '\n');
  }
  return out;
}

/** Renders one remote run; values are the client-side params (operator.cli.*) the user set. */
export class RemoteRenderer {
  private ctx?: GadgetContext;
  private cli?: OperatorInstance;
  /** Data sources rendered from their frames' bytes (FrameRenderer) instead of through the cli's subscribers. */
  private frames = new Map<DataSource, FrameRenderer>();
  /**
   * A rebuild (a later field table) makes new column renderers, which would print their header again: the names
   * of data sources whose header is out, each shown columns data source's header text, and the data source whose
   * batch the cli's renderers are printing (their writes come through `jsSink`).
   */
  private readonly headed = new Set<string>();
  private headers = new Map<DataSource, string>();
  private emitting: DataSource | undefined;
  private readonly jsSink: Sink;

  /**
   * `native`: render -o json / -o columns from the batch frames' bytes when it can (false: always through JS).
   * `directFd`: the fd `sink` writes to, when natively rendered lines may be written to it directly (-1: not now);
   * gadgetctl's stdout by default.
   */
  constructor(private readonly values: Map<string, string>, private readonly log: Logger, private readonly sink: Sink = clientSink, private readonly native = true,
    private readonly directFd: (() => number) | undefined = sink === clientSink ? stdoutFd : undefined) {
    const self = this;
    this.jsSink = { write: (s) => this.writeJs(s), get isTTY() { return self.sink.isTTY; }, get width() { return self.sink.width; } };
  }

  /** A write of the cli's JS renderers: a header already printed for the data source being emitted is left out. */
  private writeJs(s: string | Buffer): void {
    const ds = this.emitting;
    const h = ds && typeof s === 'string' ? this.headers.get(ds) : undefined;
    if (h !== undefined && (s as string).startsWith(h)) {
      if (this.headed.has(ds!.name)) {
        s = (s as string).slice(h.length);
        if (!s) return;
      } else {
        this.headed.add(ds!.name);
      }
    }
    this.sink.write(s);
  }

  /** Records rendered natively and in JS so far, for data sources with a frame renderer. */
  get frameStats(): { native: number; js: number } {
    let native = 0, js = 0;
    for (const fr of this.frames.values()) { native += fr.nativeRecords; js += fr.jsRecords; }
    return { native, js };
  }

  /**
   * (Re)build the output for these data sources (all that the run has announced so far). The consumers of an
   * earlier build are dropped from the data sources first: this renderer owns their consumers.
   */
  async setup(info: ApiGadgetInfo, dataSources: DataSource[]): Promise<void> {
    await this.stop();
    for (const ds of dataSources) ds.clearSubscribers();
    // The cli's log lines of its setup are held: its reason for rendering JSON or columns in JS ("output is not
    // stdout") is not what happens here, where received frames are rendered natively; what does is said below.
    let held: string[] | undefined = [];
    const log = new Logger(this.log.level, (line) => { if (held) held.push(line); else this.relay(line); });
    const { ctx, cli } = await clientContext(info, dataSources, log, this.jsSink);
    for (const [k, v] of this.values) ctx.params.set(k, v);
    try {
      await cli?.preStart?.(ctx);
    } finally {
      for (const line of held) if (!/ rendered in JS \(output is not stdout\)\n?$/.test(line)) this.relay(line);
      held = undefined;
    }
    this.ctx = ctx;
    this.cli = cli;
    this.frames = new Map();
    const { shown, fields } = shownOutputs(ctx);
    this.headers = columnHeaders(shown, fields, this.sink);
    const t = nativeTarget(shown, fields, this.native);
    let why = 'reason' in t ? t.reason : '';
    if (!('reason' in t)) {
      const rl = receivedLayout(t.ds);
      const fr = rl ? FrameRenderer.create(t.ds, rl, t.mode, t.fields, this.sink) : { reason: 'not a received data source' };
      if (fr instanceof FrameRenderer) {
        fr.directFd = this.directFd;
        fr.headerDone = this.headed.has(t.ds.name);
        this.frames.set(t.ds, fr);
      } else {
        why = fr.reason;
      }
    }
    for (const { ds, mode } of shown) {
      if (mode !== 'json' && mode !== 'columns') continue;
      const what = mode === 'json' ? 'JSON' : mode;
      const fr = this.frames.get(ds);
      if (fr) this.log.debug(`${ds.name}: ${what} rendered natively from the received batch frames${fr.directFd ? ', straight to stdout' : ''}${fr.pieces ? ` (${fr.pieces} values as pieces${fr.delta ? ', lines from the last line' : ''})` : ''}`);
      else this.log.debug(`${ds.name}: ${what} rendered in JS (${why})`);
    }
  }

  /** A line the client context logged, to this renderer's logger at its level. */
  private relay(line: string): void {
    const m = /^(ERROR|WARN|INFO|DEBUG): ([\s\S]*?)\n?$/.exec(line);
    if (!m) { this.log.info(line.replace(/\n$/, '')); return; }
    const level = m[1]!.toLowerCase() as 'error' | 'warn' | 'info' | 'debug';
    this.log[level](m[2]!);
  }

  onBatch(ds: DataSource, b: Batch): void {
    const fr = this.frames.get(ds);
    if (fr) {
      fr.renderBatch(b);
      if (fr.headerDone) this.headed.add(ds.name);
      return;
    }
    this.emitting = ds;
    try { ds.emit(b); } finally { this.emitting = undefined; }
  }

  /**
   * A batch frame as bytes: rendered natively when this data source has a frame renderer, dropped undecoded when
   * nothing consumes it (-o none, a data source not printed) (true), else false (decode it).
   */
  onFrame(ds: DataSource, frame: Buffer, start: number, end: number, decode: () => Batch): boolean {
    const fr = this.frames.get(ds);
    if (!fr) return !ds.hasSubscribers;
    fr.renderFrame(frame, start, end, decode);
    if (fr.headerDone) this.headed.add(ds.name);
    return true;
  }

  async stop(): Promise<void> {
    if (this.ctx && this.cli) await this.cli.stop?.(this.ctx);
    this.ctx = undefined;
    this.cli = undefined;
  }
}
