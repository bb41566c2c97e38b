// A run on an ig daemon (what gadgetctl does): params go to the daemon, which runs the pipeline and filters;
// batches come back as packets, decoded into data sources and batches that the same views read.
import { GadgetClient, type RunHandle } from '../service/client.js';
import { LogLevel } from '../service/consts.js';
import type { DataSource } from '../datasource/index.js';
import type { RunGadgetOptions } from './api.js';
import { fullKey, optionParams, resolveParam } from './options.js';
import type { RunDriver } from './run.js';

export function runRemote(image: string, opts: RunGadgetOptions, pausers: Map<DataSource, (p: boolean) => boolean>): RunDriver {
  const r = typeof opts.remote === 'string' ? { address: opts.remote } : opts.remote!;
  let handle: RunHandle | undefined;
  let client: GadgetClient | undefined;
  let stopReq = false;
  let settle!: (err?: unknown) => void;
  const ended = new Promise<void>((resolve, reject) => { settle = (err) => (err === undefined ? resolve() : reject(err)); });
  ended.catch(() => undefined); // also reported through start() or `finished`
  return {
    ended,
    stop() {
      stopReq = true;
      handle?.stop();
    },
    async start(sink) {
      let onReady!: () => void;
      const ready = new Promise<void>((resolve) => { onReady = resolve; });
      let done: Promise<void>;
      try {
        client = new GadgetClient({ address: r.address, tls: 'tls' in r ? r.tls : undefined, connectTimeoutSec: 'connectTimeoutSec' in r ? r.connectTimeoutSec : undefined });
        const info = await client.getGadgetInfo(image);
        const values: Record<string, string> = {};
        for (const [name, value] of optionParams(opts)) {
          if (name === 'host' && !info.params.some((p) => p.key === 'host')) continue;
          values[fullKey(resolveParam(info.params, name, image))] = value;
        }
        if (stopReq) throw new Error(`${image}: stopped before it started`);
        handle = client.run({ imageName: image, paramValues: values, timeoutMs: opts.timeoutMs, logLevel: opts.verbose ? LogLevel.Debug : LogLevel.Info }, {
          onInfo: () => undefined,
          onDataSources: (dss) => {
            for (const ds of dss) {
              sink.views(ds);
              // One stream carries every data source: pausing any pauses the stream.
              pausers.set(ds, (p) => { handle?.pause(p); return true; });
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
        });
        done = handle.done;
      } catch (e) {
        client?.close();
        settle(e);
        throw e;
      }
      done.then(() => { client?.close(); settle(); }, (e) => { client?.close(); settle(e); });
      await Promise.race([ready, done]);
    },
  };
}
