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

/**
 * The one data source the cli prints as JSON lines or columns, when exactly one is printed (the cli's own rule for
 * its native renderer: several would need their lines interleaved by batch), with its --fields selection.
 */
function nativeTarget(ctx: GadgetContext): { ds: DataSource; mode: 'json' | 'columns'; fields?: string } | undefined {
  if (process.env['IG_NATIVE_RENDER'] === '0') return undefined;
  const dss = [...ctx.dataSources.values()];
  const names = dss.map((d) => d.name);
  const outputs = perDataSource(ctx.params.isSet('operator.cli.output') ? ctx.params.get('operator.cli.output') ?? '' : '', names, ',');
  const fields = perDataSource(ctx.params.get('operator.cli.fields') ?? '', names, ';');
  const shown: { ds: DataSource; mode: string }[] = [];
  for (const ds of dss) {
    if (!ds.referenced) continue;
    const mode = outputs.get(ds.name) ?? ds.annotations.get('cli.default-output-mode') ?? 'columns';
    if (mode !== 'none') shown.push({ ds, mode });
  }
  const only = shown.length === 1 ? shown[0]! : undefined;
  if (!only || only.ds.type !== 'single' || (only.mode !== 'json' && only.mode !== 'columns')) return undefined;
  const supported = only.ds.annotations.get('cli.supported-output-modes');
  if (supported && !supported.split(',').includes(only.mode) && only.mode !== 'json' && only.mode !== 'columns') return undefined;
  return { ds: only.ds, mode: only.mode, fields: fields.get(only.ds.name) };
}

/** Renders one remote run; values are the client-side params (operator.cli.*) the user set. */
export class RemoteRenderer {
  private ctx?: GadgetContext;
  private cli?: OperatorInstance;
  /** Data sources rendered from their frames' bytes (FrameRenderer) instead of through the cli's subscribers. */
  private frames = new Map<DataSource, FrameRenderer>();

  /**
   * `native`: render -o json / -o columns from the batch frames' bytes when it can (false: always through JS).
   * `directFd`: the fd `sink` writes to, when natively rendered lines may be written to it directly (-1: not now);
   * gadgetctl's stdout by default.
   */
  constructor(private readonly values: Map<string, string>, private readonly log: Logger, private readonly sink: Sink = clientSink, private readonly native = true,
    private readonly directFd: (() => number) | undefined = sink === clientSink ? stdoutFd : undefined) {}

  /** Records rendered natively and in JS so far, for data sources with a frame renderer. */
  get frameStats(): { native: number; js: number } {
    let native = 0, js = 0;
    for (const fr of this.frames.values()) { native += fr.nativeRecords; js += fr.jsRecords; }
    return { native, js };
  }

  /** (Re)build the output for these data sources (all that the run has announced so far). */
  async setup(info: ApiGadgetInfo, dataSources: DataSource[]): Promise<void> {
    await this.stop();
    const { ctx, cli } = await clientContext(info, dataSources, this.log, this.sink);
    for (const [k, v] of this.values) ctx.params.set(k, v);
    await cli?.preStart?.(ctx);
    this.ctx = ctx;
    this.cli = cli;
    this.frames = new Map();
    const t = this.native ? nativeTarget(ctx) : undefined;
    const rl = t && receivedLayout(t.ds);
    if (t && rl) {
      const fr = FrameRenderer.create(t.ds, rl, t.mode, t.fields, this.sink);
      if (fr instanceof FrameRenderer) {
        fr.directFd = this.directFd;
        this.frames.set(t.ds, fr);
        this.log.debug(`${t.ds.name}: ${t.mode} rendered from the received batches by the native render plan`);
      }
      else this.log.debug(`${t.ds.name}: ${t.mode} rendered in JS (${fr.reason})`);
    }
  }

  onBatch(ds: DataSource, b: Batch): void {
    const fr = this.frames.get(ds);
    if (fr) fr.renderBatch(b); else ds.emit(b);
  }

  /** A batch frame as bytes: rendered natively when this data source has a frame renderer (true), else false. */
  onFrame(ds: DataSource, frame: Buffer, start: number, end: number, decode: () => Batch): boolean {
    const fr = this.frames.get(ds);
    if (!fr) return false;
    fr.renderFrame(frame, start, end, decode);
    return true;
  }

  async stop(): Promise<void> {
    if (this.ctx && this.cli) await this.cli.stop?.(this.ctx);
    this.ctx = undefined;
    this.cli = undefined;
  }
}
