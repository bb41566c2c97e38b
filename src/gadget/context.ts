// GadgetContext: one run of one gadget. It owns the data sources, params and operator instances, and
// drives the lifecycle: prepare (instantiate, collect params) → preStart → start → wait → stop (reverse).
import { DataSource, type DataSourceType } from '../datasource/index.js';
import type { DataOperator, OperatorInstance } from './operator.js';
import { ParamSet, type ParamDesc } from './params.js';
import type { GadgetMetadata } from './metadata.js';
import { Logger } from './logger.js';
import { OfferedNames } from './offers.js';
import { NetnsTargets } from './netns.js';
import { MountTargets } from './mounts.js';
import { RenderConsumers } from './render-consumers.js';
import { FrameConsumers } from './frame-consumers.js';
import { AggregateConsumers } from './aggregate-consumers.js';
import { HostFacts } from './host-facts.js';
import type { RecordedRows, RecordSink, ReplayFeed } from './recording.js';
import { compareNames } from '../format/compare.js';

export class GadgetError extends Error {
  constructor(message: string, readonly details?: string) { super(message); }
}

/** One layer of the image's manifest: image operators are chosen by its media type. */
export interface ImageLayer {
  mediaType: string;
  digest: string;
  data: Buffer;
}

export interface GadgetImageInfo {
  reference: string;
  digest: string;
  ebpf: Buffer | null;
  wasm: Buffer | null;
  /** Every layer in manifest order (the run assembly dispatches them by media type). */
  layers?: ImageLayer[];
  annotations: Record<string, string>;
}

export class GadgetContext {
  readonly dataSources = new Map<string, DataSource>();
  readonly params = new ParamSet();
  /** Maps and variables offered by name to the gadget's program (see offers.ts). */
  readonly offers = new OfferedNames();
  /** Network namespaces socket programs run in, and the ones that come and go (see netns.ts). */
  readonly netns = new NetnsTargets();
  /** Whose files uprobes attach to: the host's and/or selected containers', as they come and go (see mounts.ts). */
  readonly mounts = new MountTargets();
  /** Outputs that render a data source on its reader's thread (see render-consumers.ts). */
  readonly renderConsumers = new RenderConsumers();
  /** Per-key aggregators that may count a data source's records on its reader's thread (aggregate-consumers.ts). */
  readonly aggregateConsumers = new AggregateConsumers();
  /** Batch-frame writers that may encode a data source's records on its reader's thread (frame-consumers.ts). */
  readonly frameConsumers = new FrameConsumers();
  readonly instances: { op: string; priority: number; inst: OperatorInstance }[] = [];
  /** The daemon's instance id and name of this run ('' for a plain `ig run`): bpfstats attributes programs by it. */
  instance: { id: string; name: string } = { id: '', name: '' };
  /** Answers from the host (clock offset, names, executables, containers); recorded or replayed (host-facts.ts). */
  facts: HostFacts = HostFacts.live();
  /** `ig run --record`: where the record-reading operators hand raw batches (recording.ts). */
  recording: RecordSink | undefined;
  /** `ig replay`: the record-reading operators emit these recorded batches instead of reading the kernel. */
  replay: ReplayFeed | undefined;
  private replayClaimed = false;
  /** replay: operators that build batches in JS (statistics) get their recorded rows here, by data source name. */
  readonly replayRows = new Map<string, (rows: RecordedRows) => void>();
  /** replay: the feed, handed once to the operator that drives it (the eBPF operator, else a statistics operator). */
  claimReplay(): ReplayFeed | undefined {
    if (!this.replay || this.replayClaimed) return undefined;
    this.replayClaimed = true;
    return this.replay;
  }
  /** What the run watches, in words, from the operator that selects containers (for a note after silence). */
  watching: string | undefined;
  private readonly abort = new AbortController();
  private startedResolve!: () => void;
  /** Resolves once every operator's start has run (a replay feeds batches only then, as readers would). */
  readonly whenStarted = new Promise<void>((r) => { this.startedResolve = r; });
  private started: OperatorInstance[] = [];
  private doneReason: string | undefined;
  private failure: Error | undefined;

  constructor(
    readonly image: GadgetImageInfo,
    readonly metadata: GadgetMetadata,
    readonly log: Logger = new Logger(),
  ) {}

  get name(): string { return this.metadata.name || this.image.reference; }
  get signal(): AbortSignal { return this.abort.signal; }

  addDataSource(name: string, type: DataSourceType): DataSource {
    if (this.dataSources.has(name)) throw new GadgetError(`gadget ${this.name}: data source ${name} is declared twice`);
    const ds = new DataSource(name, type, this.metadata.datasources[name] ?? {});
    this.dataSources.set(name, ds);
    return ds;
  }

  /** Register params; defaults from gadget.yaml paramDefaults (fully-qualified, lower-cased) win over built-in ones. */
  addParams(params: ParamDesc[]): void {
    for (const p of params) {
      const fq = ((p.prefix ?? '') + p.key).toLowerCase();
      const d = this.metadata.paramDefaults[fq] ?? this.metadata.paramDefaults[p.key.toLowerCase()];
      this.params.add(d !== undefined ? { ...p, defaultValue: d } : p);
    }
  }

  /**
   * Instantiate operators: the image operators first (they declare the data sources), then the data operators
   * in (priority, name) order; each sees the data sources made before it.
   */
  async instantiate(imageOperators: OperatorInstance[], ops: DataOperator[]): Promise<void> {
    for (const inst of imageOperators) {
      this.instances.push({ op: inst.name, priority: -1000, inst });
      this.addParams(inst.params?.() ?? []);
    }
    const sorted = [...ops].sort((a, b) => a.priority - b.priority || compareNames(a.name, b.name));
    for (const op of sorted) {
      this.addParams(op.globalParams?.() ?? []);
      const inst = await op.instantiate(this);
      if (!inst) continue;
      this.instances.push({ op: op.name, priority: op.priority, inst });
      this.addParams(inst.params?.() ?? []);
    }
  }

  /** Ask the run to end (timeout, signal, gadget finished). */
  done(reason = 'done'): void {
    if (this.doneReason) return;
    this.doneReason = reason;
    this.abort.abort(reason);
  }

  /**
   * End the run because of an error an operator met while events flow (where nothing can throw to run()):
   * run() stops everything, then rethrows the first such error.
   */
  fail(err: Error): void {
    this.failure ??= err;
    this.done('error');
  }

  /** Run the lifecycle. Resolves after everything is stopped; rethrows a start failure after cleanup. */
  async run(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.params.checkMandatory();
    let timer: NodeJS.Timeout | undefined;
    let failed = false;
    try {
      // Every instance whose preStart ran is stopped, even if a later one fails: preStart may own kernel objects.
      for (const { inst } of this.instances) {
        this.started.push(inst);
        await inst.preStart?.(this);
      }
      for (const { inst } of this.instances) await inst.start?.(this);
      this.startedResolve();
      if (opts.timeoutMs && opts.timeoutMs > 0) timer = setTimeout(() => this.done('timeout'), opts.timeoutMs);
      if (!this.signal.aborted) {
        await new Promise<void>((resolve) => this.signal.addEventListener('abort', () => resolve(), { once: true }));
      }
      if (this.failure) throw this.failure;
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      // A failed start: whoever waits for the start must not wait for ever (they see the run stopping).
      this.startedResolve();
      if (timer) clearTimeout(timer);
      try {
        await this.stopAll();
      } catch (e) {
        // A failure while cleaning up after a failed start must not hide why the start failed.
        if (!failed) throw e;
        this.log.debug(`while stopping: ${(e as Error).message}`);
      }
    }
  }

  private async stopAll(): Promise<void> {
    const rev = [...this.started].reverse();
    this.started = [];
    let firstErr: unknown;
    for (const inst of rev) {
      try { await inst.stop?.(this); } catch (e) { firstErr ??= e; }
    }
    for (const inst of rev) {
      try { await inst.postStop?.(this); } catch (e) { firstErr ??= e; }
    }
    if (firstErr) throw firstErr;
  }
}
