// The file systems a gadget's uprobes resolve their libraries in, as a typed channel between operators: the
// operator that knows containers (LocalManager, KubeManager) says whether the host is traced and which selected
// containers are running, and announces the ones that come and go; the eBPF loader attaches each uprobe to the
// library as each of them sees it (through /proc/<pid>/root). Neither knows the other.

/** A selected container, seen through the root of its init process. */
export interface MountTarget {
  /** Stable identity of the container for this run (runtime/id). */
  key: string;
  /** For messages: the container's name. */
  name: string;
  /** A process in the container's mount namespace (its init): its /proc/<pid>/root is the container's root. */
  pid: number;
}

export class MountTargets {
  #host = true;
  readonly #live = new Map<string, MountTarget>();
  readonly #onAdd = new Set<(t: MountTarget) => void>();
  readonly #onRemove = new Set<(key: string) => void>();

  /** Whether the host's own files are probed: yes unless a container operator selected containers only. */
  get host(): boolean { return this.#host; }
  /** The selected containers running now (the set follows add/remove, so a late follower misses none). */
  get containers(): MountTarget[] { return [...this.#live.values()]; }

  /** Set by the container operator at start: the host (--host) or not, and the selected containers running. */
  select(host: boolean, containers: MountTarget[]): void {
    this.#host = host;
    this.#live.clear();
    for (const c of containers) this.#live.set(c.key, c);
  }

  /** A selected container started (or became selected). */
  add(t: MountTarget): void {
    if (this.#live.has(t.key) || t.pid <= 0) return;
    this.#live.set(t.key, t);
    for (const f of [...this.#onAdd]) f(t);
  }

  /** A container went away (or is no longer selected). */
  remove(key: string): void {
    if (!this.#live.delete(key)) return;
    for (const f of [...this.#onRemove]) f(key);
  }

  /** Follow additions and removals; each returns the function that stops following. */
  onAdd(f: (t: MountTarget) => void): () => void { this.#onAdd.add(f); return () => { this.#onAdd.delete(f); }; }
  onRemove(f: (key: string) => void): () => void { this.#onRemove.add(f); return () => { this.#onRemove.delete(f); }; }
}
