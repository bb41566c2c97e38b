// Host facts: what operators learn from the host rather than from records (the boot-clock offset, user and group
// names, executables, the container a mount namespace belongs to). A live run asks the host. A recorded run asks
// the host too and hands every answer that differs from the last one given for that key to the recording, in
// order with the batches it belongs to. A replay answers from the recording instead, so enrichment reads the
// recording's world, not the replaying machine's.
//
// Operators ask through `ctx.facts.ask(kind, key, live)`; only the ones whose answers depend on the host do.

/** Where a recording run's answers go (src/record's writer). */
export interface FactLog {
  fact(kind: string, key: string, value: unknown): void;
}

export type FactsMode = 'live' | 'record' | 'replay';

/** What the answers of kinds that only the recording machine's kernel maps and files can give are (messages). */
const ONLY_RECORDED: Record<string, string> = {
  kstack: 'kernel stack', ustack: 'user stack', socket: 'socket owner',
  // the recorded cluster's API server (a recording made on a cluster node): KubeIPResolver's and KubeNameResolver's
  'k8s-pod-ip': 'pod of an address', 'k8s-svc-ip': 'service of an address', 'k8s-pod-name': 'pod of a name',
};

/**
 * A replay needs an answer the recording does not hold and that nothing but the recording machine could give (a
 * stack's symbols, a socket's owner): the recorded run did not show or filter on that field. Printing it empty
 * would be wrong, so the replay ends with this one line.
 */
export class MissingFactError extends Error {
  constructor(kind: string, key: string, field: string) {
    super(`the recording has no ${ONLY_RECORDED[kind] ?? kind} for field ${field} (${kind} ${key}): the recorded run did not show it; replay without ${field} (e.g. --fields), or record a run that shows it`);
  }
}

export class HostFacts {
  /** record: the last answer given per kind/key (JSON), so an unchanged answer is not logged again. */
  private readonly logged = new Map<string, string>();
  /** replay: the answers of the recording up to where it is replayed. */
  private readonly known = new Map<string, unknown>();
  private readonly listeners: ((kind: string, key: string, changed: boolean) => void)[] = [];

  private constructor(readonly mode: FactsMode, private readonly log?: FactLog) {}

  static live(): HostFacts { return new HostFacts('live'); }
  static record(log: FactLog): HostFacts { return new HostFacts('record', log); }
  static replay(): HostFacts { return new HostFacts('replay'); }

  /**
   * The answer for (kind, key): from the host (live, record) or from the recording (replay; `missing` when the
   * recording never gave one, e.g. a field the recorded run did not show). With `field` (the field that needs it),
   * a replay throws MissingFactError instead for the kinds only the recording machine can answer.
   */
  ask<T>(kind: string, key: string, live: () => T, missing: T, field?: string): T {
    if (this.mode === 'live') return live();
    const id = `${kind}\0${key}`;
    if (this.mode === 'replay') {
      if (this.known.has(id)) return this.known.get(id) as T;
      // Answers only the recording machine had (kstack, ustack, socket): none recorded is an error, not ''.
      if (field !== undefined && kind in ONLY_RECORDED) throw new MissingFactError(kind, key, field);
      return missing;
    }
    const v = live();
    const text = encodeFact(v);
    if (this.logged.get(id) !== text) {
      this.logged.set(id, text);
      this.log!.fact(kind, key, v);
    }
    return v;
  }

  /** record: a fact that is no answer to a question (a container that started), for the recording's table. */
  note(kind: string, key: string, value: unknown): void {
    if (this.mode === 'record') this.log!.fact(kind, key, value);
  }

  /** replay: the recording says this (in stream order). */
  set(kind: string, key: string, value: unknown): void {
    const id = `${kind}\0${key}`;
    const changed = this.known.has(id) && (this.listeners.length === 0 || encodeFact(this.known.get(id)) !== encodeFact(value));
    this.known.set(id, value);
    for (const l of this.listeners) l(kind, key, changed);
  }

  /** replay: every answer of `kind` known so far, as [key, value]. */
  knownOf(kind: string): [string, unknown][] {
    const prefix = `${kind}\0`;
    const out: [string, unknown][] = [];
    for (const [id, v] of this.known) if (id.startsWith(prefix)) out.push([id.slice(prefix.length), v]);
    return out;
  }

  /**
   * replay: called for every fact the recording states; `changed`: it replaces a different earlier answer to the
   * same question (caches built on that answer are stale).
   */
  onSet(fn: (kind: string, key: string, changed: boolean) => void): void { this.listeners.push(fn); }
}

// Facts hold JSON values plus bigints (mount namespace ids are u64): a bigint is written as {"$bigint":"123"}.
export function encodeFact(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? { $bigint: x.toString() } : x)) ?? 'null';
}

export function decodeFact(text: string): unknown {
  return JSON.parse(text, (_k, x) => (x && typeof x === 'object' && typeof x.$bigint === 'string' && Object.keys(x).length === 1 ? BigInt(x.$bigint) : x));
}
