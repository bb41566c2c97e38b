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

/** stdout through the JS renderers (the reader-thread JSON path needs a local ring buffer). */
const clientSink: Sink = { write: (s) => stdoutSink.write(s), get isTTY() { return stdoutSink.isTTY; } };

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

/** Renders one remote run; values are the client-side params (operator.cli.*) the user set. */
export class RemoteRenderer {
  private ctx?: GadgetContext;
  private cli?: OperatorInstance;

  constructor(private readonly values: Map<string, string>, private readonly log: Logger, private readonly sink: Sink = clientSink) {}

  /** (Re)build the output for these data sources (all that the run has announced so far). */
  async setup(info: ApiGadgetInfo, dataSources: DataSource[]): Promise<void> {
    await this.stop();
    const { ctx, cli } = await clientContext(info, dataSources, this.log, this.sink);
    for (const [k, v] of this.values) ctx.params.set(k, v);
    await cli?.preStart?.(ctx);
    this.ctx = ctx;
    this.cli = cli;
  }

  onBatch(ds: DataSource, b: Batch): void {
    ds.emit(b);
  }

  async stop(): Promise<void> {
    if (this.ctx && this.cli) await this.cli.stop?.(this.ctx);
    this.ctx = undefined;
    this.cli = undefined;
  }
}
