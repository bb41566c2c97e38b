// The library's public types. Self-contained (no imports from the rest of ig), so that the declarations a
// consumer compiles against are these few lines and nothing of ig's internals.

/**
 * Event types by gadget image name. Empty here; `ig types IMAGE -o FILE` writes a declaration file that adds the
 * image's events (module augmentation), after which `runGadget('trace_open', …)` yields typed events.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface -- filled by generated declaration files
export interface GadgetEvents {}

/** What every event has besides its gadget's fields. */
export interface EventBase<DS extends string = string> {
  /** The data source the event came from (most gadgets have one, e.g. trace_open's `open`). */
  readonly $ds: DS;
  /**
   * The event as a plain object of the same shape, ready for JSON.stringify: u64 values beyond 2^53 (bigint in
   * the getters) become their exact decimal text, bytes become hex, as `-o json` prints them.
   */
  toJSON(): Record<string, unknown>;
}

/** An event of a gadget without generated types: any field, of unknown type. */
export type GadgetEvent = EventBase & { readonly [field: string]: unknown };

/** Why events were lost, with how many. */
export interface LostEvents {
  /** Data source name. */
  dataSource: string;
  count: number;
  /** 'ring buffer full' (the kernel could not reserve: the consumer was slower than the gadget), 'perf buffer full',
   * 'daemon dropped' (a remote daemon's buffer for this client overflowed), 'queue full' (a source that cannot be
   * paused). */
  cause: string;
}

export interface RunGadgetOptions {
  /**
   * Gadget and operator params, as `ig run` takes them: by flag name (`failed`, `host`, `containername`), short
   * flag (`c`, `F`) or full key (`operator.LocalManager.host`). Values are strings; numbers and booleans are
   * converted.
   */
  params?: Record<string, string | number | boolean>;
  /** `--host`: events of the host as well as of containers. */
  host?: boolean;
  /** `--filter` / `-F`: field==value, !=, <, >, <=, >=, ~ (regex), !~; commas mean "and". */
  filter?: string;
  /** `--filter-expr` / `-E`: an expression (`proc.comm in ['cat','ls'] and proc.pid > 1`). */
  filterExpr?: string;
  /** `--fields`: the fields events expose (`proc.comm,fname`); default: every field `-o json` prints. */
  fields?: string | string[];
  /** `--containername` / `-c`: only these containers (comma list or array; `!` excludes). */
  containers?: string | string[];
  /** `--k8s-podname`. */
  pods?: string | string[];
  /** `--k8s-namespace`. */
  namespaces?: string | string[];
  /** `--k8s-selector` / `-l`: pod labels (key=value,...). */
  selector?: string;
  /** `--timeout`: stop after this many milliseconds (0 or absent: until stopped). */
  timeoutMs?: number;
  /** Cancel the run: everything is detached, then the iteration throws the signal's reason (an AbortError). */
  signal?: AbortSignal;
  /**
   * Run on an ig daemon (`gadgetctl`-style): `tcp://host:port` or `unix:///path`. The daemon applies params and
   * filters; this process only receives events.
   */
  remote?: string | { address: string; tls?: { key?: string; cert?: string; serverCa?: string; serverName?: string }; connectTimeoutSec?: number };
  /**
   * Replay a recording (`ig run IMAGE --record FILE`) instead of running the gadget: the same pipeline (params,
   * filters, fields) over the recorded events; nothing is loaded into the kernel, no privileges are needed. A
   * slow consumer pauses the replay: nothing is lost. The image argument names the events' types.
   */
  recording?: string;
  /** Replay speed: 0 (default) as fast as possible, 1 as recorded, 2 twice as fast. */
  speed?: number;
  /**
   * Bytes of undelivered events this process holds at most (default 8 MiB). Beyond it the source is paused: the
   * kernel ring fills and the gadget counts what it could not write (reported through `lost` / `onLost`).
   */
  maxBufferedBytes?: number;
  /** Called for every report of lost events (also summed in `GadgetRun.lost`). */
  onLost?(lost: LostEvents): void;
  /** Diagnostics of the run (warnings by default, `debug` with verbose). Default: written to stderr. */
  onLog?(level: 'error' | 'warn' | 'info' | 'debug', message: string): void;
  /** Log debug messages too (as `ig run -v`). */
  verbose?: boolean;
  /** Image pull policy (`--pull`): default 'missing'. */
  pull?: 'always' | 'missing' | 'never';
}

/** A batch of events: iterate it synchronously (the fastest way to consume a storm). */
export interface EventBatch<E> extends Iterable<E> {
  readonly dataSource: string;
  readonly length: number;
  /** The i-th event of the batch (0 ≤ i < length). */
  at(i: number): E;
}

/**
 * A running gadget. Iterate it with `for await`; leaving the loop (`break`, `return`, an exception) stops the run
 * and detaches every kernel object before the loop statement completes.
 */
export interface GadgetRun<E> extends AsyncIterable<E> {
  /**
   * Resolves once the gadget is attached (locally: every program loaded and attached, so events from now on are
   * seen; remotely: the daemon has prepared the run); rejects when the start failed.
   */
  readonly started: Promise<void>;
  /** Events lost so far (all causes). */
  readonly lost: number;
  /** The data source names, once the run has started. */
  readonly dataSources: readonly string[];
  /** Iterate whole batches instead of single events (one per ring buffer batch, or per interval of a topper). */
  batches(): AsyncIterable<EventBatch<E>>;
  /** Stop the run and wait until everything is detached. Idempotent. */
  stop(): Promise<void>;
  /** Resolves when the run has ended and everything is detached; rejects with the reason a run failed. */
  readonly finished: Promise<void>;
}

export interface RunGadget {
  <K extends keyof GadgetEvents>(image: K, options?: RunGadgetOptions): GadgetRun<GadgetEvents[K]>;
  <E = GadgetEvent>(image: string, options?: RunGadgetOptions): GadgetRun<E>;
}
