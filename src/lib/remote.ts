// A run on an ig daemon (what gadgetctl does): params go to the daemon, which runs the pipeline and filters;
// batches come back as packets, decoded into data sources and batches that the same views read.
import { GadgetClient, type RunHandle } from '../service/client.js';
import { LogLevel } from '../service/consts.js';
import type { DataSource } from '../datasource/index.js';
import type { RunGadgetOptions } from './api.js';
import { fullKey, optionParams, resolveParam } from './options.js';
import { DriverBase, type RunDriver, type RunSink } from './driver.js';

class RemoteDriver extends DriverBase {
  private handle: RunHandle | undefined;
  private client: GadgetClient | undefined;

  constructor(image: string, private readonly opts: RunGadgetOptions, private readonly pausers: Map<DataSource, (p: boolean) => boolean>) {
    super(image);
  }

  protected halt(): void {
    this.handle?.stop();
  }

  async start(sink: RunSink): Promise<void> {
    const { image, opts } = this;
    const r = typeof opts.remote === 'string' ? { address: opts.remote } : opts.remote!;
    let onReady!: () => void;
    const ready = new Promise<void>((resolve) => { onReady = resolve; });
    let done: Promise<void>;
    try {
      const client = (this.client = new GadgetClient({ address: r.address, tls: 'tls' in r ? r.tls : undefined, connectTimeoutSec: 'connectTimeoutSec' in r ? r.connectTimeoutSec : undefined }));
      const info = await client.getGadgetInfo(image);
      const values: Record<string, string> = {};
      for (const [name, value] of optionParams(opts)) {
        if (name === 'host' && !info.params.some((p) => p.key === 'host')) continue;
        values[fullKey(resolveParam(info.params, name, image))] = value;
      }
      this.throwIfStopped();
      const handle = (this.handle = client.run({ imageName: image, paramValues: values, timeoutMs: opts.timeoutMs, logLevel: opts.verbose ? LogLevel.Debug : LogLevel.Info }, {
        onInfo: () => undefined,
        onDataSources: (dss) => {
          for (const ds of dss) {
            sink.views(ds);
            // One stream carries every data source: pausing any pauses the stream.
            this.pausers.set(ds, (p) => { handle.pause(p); return true; });
          }
          onReady();
        },
        onBatch: (ds, b) => sink.push(b, sink.views(ds)),
        onLog: (level, msg) => {
          if (level <= LogLevel.Error) sink.log.error(msg);
          else if (level === LogLevel.Warn) sink.log.warn(msg);
          else if (level === LogLevel.Info) sink.log.info(msg);
          else sink.log.debug(msg);
        },
        onLost: (n) => sink.lost('', n, 'daemon dropped'),
      }));
      done = handle.done;
    } catch (e) {
      this.client?.close();
      this.failed(e);
    }
    this.follow(done, () => this.client?.close());
    await Promise.race([ready, done]);
  }
}

export function runRemote(image: string, opts: RunGadgetOptions, pausers: Map<DataSource, (p: boolean) => boolean>): RunDriver {
  return new RemoteDriver(image, opts, pausers);
}
