// Network namespaces a gadget's socket programs run in, as a typed channel between operators: the operator
// that knows containers (LocalManager) says which namespaces match and announces the ones that come and go;
// the loader attaches socket filters there. Neither knows the other.

/** A namespace path (`/proc/<pid>/ns/net`), or null for ig's own. */
export type NetnsPath = string | null;

export class NetnsTargets {
  #paths: NetnsPath[] | undefined;
  readonly #onAdd = new Set<(path: string) => void>();
  readonly #onRemove = new Set<(inode: number) => void>();

  /** The namespaces to attach in at start; ig's own when no operator said otherwise. */
  get paths(): NetnsPath[] { return this.#paths ?? [null]; }
  set paths(p: NetnsPath[]) { this.#paths = [...p]; }

  /** A matching container started in the namespace at `path`. */
  add(path: string): void { for (const f of [...this.#onAdd]) f(path); }
  /** No matching container is left in the namespace with this inode. */
  remove(inode: number): void { for (const f of [...this.#onRemove]) f(inode); }

  /** Follow additions; returns the function that stops following. */
  onAdd(f: (path: string) => void): () => void { this.#onAdd.add(f); return () => { this.#onAdd.delete(f); }; }
  onRemove(f: (inode: number) => void): () => void { this.#onRemove.add(f); return () => { this.#onRemove.delete(f); }; }
}
