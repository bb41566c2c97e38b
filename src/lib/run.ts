// runGadget: a gadget run as an async iterable of events. The run is the same pipeline as `ig run` (every data
// operator but the cli output), ending in a collector at the cli's priority that hands batches to an EventQueue.
import { prepareGadget } from '../runtime/assemble.js';
import { defaultDataOperators } from '../runtime/operators.js';
import { Logger, type LogLevel } from '../gadget/logger.js';
import type { GadgetContext } from '../gadget/context.js';
import type { DataOperator } from '../gadget/operator.js';
import type { Batch, DataSource } from '../datasource/index.js';
import type { EventBatch, GadgetRun, RunGadget, RunGadgetOptions } from './api.js';
import { EventQueue } from './event-queue.js';
import { viewClass, viewFields, type EventView, type ViewClass } from './views.js';
import { fieldList, fullKey, optionParams, resolveParam } from './options.js';
import { runRemote } from './remote.js';
import { replayPrepare } from './replay.js';
import { DriverBase, type RunDriver, type RunSink } from './driver.js';

export type { RunDriver, RunSink } from './driver.js';

const DEFAULT_MAX_BUFFERED = 8 << 20;

class Run implements GadgetRun<EventView> {
  readonly finished: Promise<void>;
  readonly started: Promise<void>;
  dataSources: string[] = [];
  private readonly queue: EventQueue;
  private readonly driver: RunDriver;
  private stopping = false;
  private iterated = false;
  private aborted: unknown;
  private readonly viewsByDs = new Map<DataSource, ViewClass>();

  constructor(readonly image: string, opts: RunGadgetOptions) {
    const paused = new Map<DataSource, (p: boolean) => boolean>();
    this.queue = new EventQueue({ pause: (ds, p) => paused.get(ds)?.(p) ?? ds.pauseProducer(p) }, opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED, opts.onLost);
    const onLog = opts.onLog;
    const log = new Logger(opts.verbose ? 'debug' : 'warn', onLog ? (s) => {
      const m = /^(WARN|ERROR|INFO|DEBUG): ([\s\S]*?)\n?$/.exec(s);
      const level = (m ? (m[1] === 'WARN' ? 'warn' : m[1]!.toLowerCase()) : 'info') as LogLevel;
      onLog(level, m ? m[2]! : s);
    } : undefined);
    const fields = fieldList(opts.fields);
    const sink: RunSink = {
      views: (ds) => {
        let V = this.viewsByDs.get(ds);
        if (!V) {
          V = viewClass(ds, viewFields(ds, fields));
          this.viewsByDs.set(ds, V);
          if (!this.dataSources.includes(ds.name)) this.dataSources.push(ds.name);
        }
        return V;
      },
      push: (b, V) => this.queue.push(b, V),
      lost: (ds, n, cause) => this.queue.addLost(ds, n, cause),
      log,
    };
    this.driver = opts.remote !== undefined ? runRemote(image, opts, paused)
      : opts.recording !== undefined ? localDriver(image, opts, replayPrepare(opts.recording, opts.speed))
        : localDriver(image, opts);
    if (opts.signal?.aborted) {
      // Aborted before it began: nothing is started at all.
      this.aborted = opts.signal.reason;
      this.started = Promise.reject(this.aborted);
      this.finished = Promise.reject(this.aborted);
    } else {
      const onAbort = () => { this.aborted = opts.signal!.reason; this.queue.clear(); this.driver.stop(); };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.started = this.driver.start(sink);
      this.finished = this.started.then(() => this.driver.ended, (e) => this.driver.ended.then(() => { throw e; }))
        .then(() => {
          if (this.aborted !== undefined) throw this.aborted;
        })
        .finally(() => opts.signal?.removeEventListener('abort', onAbort));
    }
    // Nobody may wait on `started`: its rejection is the iteration's error too.
    this.started.catch(() => undefined);
    this.finished.then(() => this.queue.end(), (e) => this.queue.end(e ?? new Error('run failed')));
    this.finished.catch(() => undefined);
  }

  get lost(): number { return this.queue.lost; }

  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.queue.clear();
      this.driver.stop();
    }
    try { await this.finished; } catch (e) {
      // stop() reports nothing about how the run went (finished does); an abort is the caller's own doing.
      void e;
    }
  }

  private claim(): void {
    if (this.iterated) throw new Error('a gadget run can be iterated once');
    this.iterated = true;
  }

  [Symbol.asyncIterator](): AsyncIterator<EventView> {
    this.claim();
    const q = this.queue;
    return {
      next: () => q.next(),
      return: async () => { await this.stop(); return { value: undefined, done: true }; },
    };
  }

  batches(): AsyncIterable<EventBatch<EventView>> {
    this.claim();
    const q = this.queue;
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => q.nextBatch(),
        return: async () => { await this.stop(); return { value: undefined, done: true }; },
      }),
    };
  }
}

/** `ig run`'s data operators without its output (the cli), plus the library's own (its collector). */
export function libraryOperators(...extra: DataOperator[]): DataOperator[] {
  return [...defaultDataOperators().filter((o) => o.name !== 'cli'), ...extra];
}

/** How a driver gets its context: the image from the store, or a recording (replay.ts). */
export type Prepare = (operators: DataOperator[], log: Logger) => Promise<GadgetContext>;

/** The pipeline of `ig run` (or of a recording) in this process, with a collector where the cli output would be. */
class LocalDriver extends DriverBase {
  private ctx: GadgetContext | undefined;

  constructor(image: string, private readonly opts: RunGadgetOptions, private readonly prepare: Prepare) {
    super(image);
  }

  protected halt(): void {
    this.ctx?.done('stopped');
  }

  async start(sink: RunSink): Promise<void> {
    const { image, opts } = this;
    let started = false;
    let onStarted!: () => void;
    const startedP = new Promise<void>((resolve) => { onStarted = resolve; });
    const collector: DataOperator = {
      name: 'library',
      priority: 10000,
      instantiate: (c) => ({
        name: 'library',
        preStart() {
          for (const ds of c.dataSources.values()) {
            if (!ds.referenced) continue;
            const View = sink.views(ds);
            ds.subscribe((b) => sink.push(b, View), 10000);
            ds.onLost((n, cause) => sink.lost(ds.name, n, cause));
          }
        },
        start() { started = true; onStarted(); },
      }),
    };
    let runP: Promise<void>;
    try {
      const operators = libraryOperators(collector);
      const ctx = (this.ctx = await this.prepare(operators, sink.log));
      for (const [name, value] of optionParams(opts)) {
        // --host on a gadget without containers is no error for `ig run` either: it sees the host anyway.
        if (name === 'host' && !ctx.params.all().some((p) => p.key === 'host')) continue;
        ctx.params.set(fullKey(resolveParam(ctx.params.all(), name, image)), value);
      }
      this.throwIfStopped();
      runP = ctx.run({ timeoutMs: opts.timeoutMs });
    } catch (e) {
      this.failed(e);
    }
    this.follow(runP);
    // Either every operator started, or the run failed (or was stopped) while starting.
    await Promise.race([startedP, runP.then(() => { if (!started) throw new Error(`${image}: the run ended before it started`); })]);
  }
}

function localDriver(image: string, opts: RunGadgetOptions, prepare: Prepare = (operators, log) => prepareGadget(image, { log, operators, image: { pull: opts.pull ?? 'missing' } })): RunDriver {
  return new LocalDriver(image, opts, prepare);
}

export const runGadget: RunGadget = ((image: string, options: RunGadgetOptions = {}) => new Run(image, options)) as unknown as RunGadget;
