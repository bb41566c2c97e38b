// A DataSource is a named, typed stream of record batches with a field schema. Subscribers see every
// batch in ascending priority order (stable); a batch whose live records drop to zero stops there.
import { Batch } from './batch.js';
import { Field, FieldFlag, type FieldInit, type Storage } from './field.js';
import { TEMPLATES } from './templates.js';
import { Kind } from './kinds.js';
import type { Predicate } from './predicate.js';

export type DataSourceType = 'single' | 'array';
export type Subscriber = (b: Batch) => void;

/** A producer's brake: while paused it hands over no batch and what it cannot hold is lost where it is counted. */
export interface FlowControl {
  pause(paused: boolean): void;
}

export interface SubscribeOptions {
  /** A native render plan reproduces what this subscriber does to the output (e.g. the timestamp rewrite). */
  nativeEquivalent?: boolean;
  /**
   * The subscriber only drops the records that do not match this predicate: a render consumer that evaluates
   * the data source's predicates (predicates()) stands in for it.
   */
  predicate?: Predicate;
  /**
   * The subscriber keeps no reference to the batch, its buffer or a view of it once it returns: when every
   * subscriber says so, the producer may reuse the batch's memory right after emit() (a native reader's batch goes
   * back to its pool instead of waiting for a GC). A subscriber that says nothing is assumed to keep batches.
   */
  releasesBatch?: boolean;
}

export interface FieldConfig {
  annotations?: Record<string, string>;
  tags?: string[];
}

export interface DataSourceConfig {
  annotations?: Record<string, string>;
  fields?: Record<string, FieldConfig>;
}

export class DataSource {
  readonly fields: Field[] = [];
  readonly annotations = new Map<string, string>();
  readonly tags: string[] = [];
  /** Size of the static struct at the start of every record. */
  staticSize = 0;
  private columnCount = 0;
  private readonly subs: { prio: number; seq: number; fn: Subscriber; nativeEquivalent: boolean; predicate?: Predicate; releasesBatch: boolean }[] = [];
  private seq = 0;
  private lostHandlers: ((n: number, cause: string) => void)[] = [];
  private flow?: FlowControl;
  referenced = true;

  constructor(
    readonly name: string,
    readonly type: DataSourceType,
    private readonly config: DataSourceConfig = {},
  ) {
    for (const [k, v] of Object.entries(config.annotations ?? {})) this.annotations.set(k, String(v));
  }

  /**
   * Add a field, then apply its template and the gadget.yaml config for its full name (upstream order). `asIs`:
   * the annotations and flags are final already (a field table received from elsewhere), apply nothing.
   */
  addField(init: Omit<FieldInit, 'storage'> & { storage?: Storage }, opts: { asIs?: boolean } = {}): Field {
    let storage = init.storage;
    if (!storage) {
      storage = (init.flags ?? 0) & FieldFlag.Empty ? { type: 'empty' } : { type: 'column', column: this.columnCount++ };
    }
    const f = new Field({ ...init, storage });
    if (this.fields.some((x) => x.fullName === f.fullName)) {
      throw new Error(`data source ${this.name}: field ${f.fullName} already exists`);
    }
    f.index = this.fields.length;
    if (init.order === undefined) f.order = f.index;
    if (!opts.asIs) this.applyConfig(f);
    this.fields.push(f);
    return f;
  }

  private applyConfig(f: Field): void {
    const own = f.annotations.get('template');
    if (own) applyTemplate(f, own);
    const cfg = this.config.fields?.[f.fullName];
    if (cfg) {
      for (const t of cfg.tags ?? []) if (!f.tags.includes(t)) f.tags.push(t);
      const tpl = cfg.annotations?.['template'];
      if (tpl) applyTemplate(f, tpl);
      for (const [k, v] of Object.entries(cfg.annotations ?? {})) f.annotations.set(k, String(v));
    }
    if (f.annotations.get('columns.hidden') === 'true') f.setHidden(true);
    else if (f.annotations.get('columns.hidden') === 'false') f.setHidden(false);
  }

  getField(name: string): Field | undefined {
    const exact = this.fields.find((f) => f.fullName === name);
    if (exact) return exact;
    const lower = name.toLowerCase();
    return this.fields.find((f) => f.fullName.toLowerCase() === lower);
  }

  subscribe(fn: Subscriber, prio: number, opts: SubscribeOptions = {}): void {
    this.subs.push({ prio, seq: this.seq++, fn, nativeEquivalent: opts.nativeEquivalent === true, predicate: opts.predicate, releasesBatch: opts.releasesBatch === true });
    this.subs.sort((a, b) => a.prio - b.prio || a.seq - b.seq);
  }

  /** Whether anything subscribed (a receiver with none need not decode this data source's batches). */
  get hasSubscribers(): boolean { return this.subs.length > 0; }

  /**
   * Drop every subscriber and lost-event handler: for the owner of a data source received from elsewhere that
   * rebuilds all of its consumers (gadgetctl's output when a later field table arrives), so that the consumers
   * of the earlier build do not print its batches a second time.
   */
  clearSubscribers(): void {
    this.subs.length = 0;
    this.lostHandlers.length = 0;
  }

  /**
   * True when a native render plan can stand in for every subscriber (nothing else needs the records in JS);
   * `except`: a subscriber whose work a native consumer does instead (a metrics aggregator); `withPredicates`:
   * the consumer also evaluates every predicate of predicates(), so filter subscribers count too.
   */
  onlyNativeEquivalentSubscribers(except?: Subscriber, withPredicates = false): boolean {
    return this.subs.every((s) => s.nativeEquivalent || (except !== undefined && s.fn === except) || (withPredicates && s.predicate !== undefined));
  }

  /** True when no subscriber keeps a batch once emit() has returned (SubscribeOptions.releasesBatch). */
  releasesBatches(): boolean {
    return this.subs.every((s) => s.releasesBatch);
  }

  /** The predicates of filtering subscribers, in the order they run. */
  predicates(): Predicate[] {
    return this.subs.flatMap((s) => (s.predicate ? [s.predicate] : []));
  }

  emit(b: Batch): void {
    for (const s of this.subs) {
      if (b.liveCount === 0 && this.type === 'single') return;
      s.fn(b);
    }
  }

  /** Set by the producer that can hold batches back (a ring or perf reader). */
  setFlowControl(flow: FlowControl | undefined): void {
    this.flow = flow;
  }

  /**
   * A consumer that cannot keep up asks the producer to stop (true) or resume (false) delivering batches.
   * Returns false when the producer cannot pause (the consumer must then drop and count what it cannot hold).
   */
  pauseProducer(paused: boolean): boolean {
    if (!this.flow) return false;
    this.flow.pause(paused);
    return true;
  }

  onLost(fn: (n: number, cause: string) => void): void {
    this.lostHandlers.push(fn);
  }

  reportLost(n: number, cause: string): void {
    for (const h of this.lostHandlers) h(n, cause);
  }

  newBatch(count: number): Batch {
    return Batch.empty(this, count);
  }
}

function applyTemplate(f: Field, name: string): void {
  const t = TEMPLATES[name];
  if (!t) return;
  for (const [k, v] of Object.entries(t)) f.annotations.set(k, v);
}

export { Kind };
