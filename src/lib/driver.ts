// Where a library run's batches come from (a pipeline in this process, a recording, a daemon): the contract and the
// lifecycle every driver shares (ended settles once, stop() at any time, a stop before the start fails the start).
import type { Logger } from '../gadget/logger.js';
import type { Batch, DataSource } from '../datasource/index.js';
import type { ViewClass } from './views.js';

/** Where a run's batches come from: a local pipeline or a daemon; started once, stopped at most once. */
export interface RunDriver {
  /** Resolves once events flow (kernel objects attached), rejects when the start failed. */
  start(sink: RunSink): Promise<void>;
  /** Resolves when the run has ended and everything is released. */
  readonly ended: Promise<void>;
  stop(): void;
}

export interface RunSink {
  views(ds: DataSource): ViewClass;
  push(b: Batch, View: ViewClass): void;
  lost(dataSource: string, count: number, cause: string): void;
  log: Logger;
}

export abstract class DriverBase implements RunDriver {
  readonly ended: Promise<void>;
  /** stop() was called (maybe before start() got far enough to stop anything). */
  protected stopRequested = false;
  private settleEnded!: (err?: unknown) => void;

  constructor(protected readonly image: string) {
    this.ended = new Promise<void>((resolve, reject) => { this.settleEnded = (err) => (err === undefined ? resolve() : reject(err)); });
    this.ended.catch(() => undefined); // also reported through start() or the run's `finished`
  }

  abstract start(sink: RunSink): Promise<void>;

  /** Stop what has started so far (the start checks stopRequested for what has not). */
  protected abstract halt(): void;

  stop(): void {
    this.stopRequested = true;
    this.halt();
  }

  /** Between preparing and starting: a run stopped meanwhile does not start. */
  protected throwIfStopped(): void {
    if (this.stopRequested) throw new Error(`${this.image}: stopped before it started`);
  }

  /** The start failed: the run has ended with that error too. */
  protected failed(e: unknown): never {
    this.settleEnded(e);
    throw e;
  }

  /** The run is under way: it has ended when `running` settles (after `cleanup`). */
  protected follow(running: Promise<void>, cleanup: () => void = () => undefined): void {
    running.then(() => { cleanup(); this.settleEnded(); }, (e: unknown) => { cleanup(); this.settleEnded(e ?? new Error('run failed')); });
  }
}
