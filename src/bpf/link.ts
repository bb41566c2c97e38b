// An attached program. Destroying the link detaches it (for TC: removes the filter, and the clsact
// qdisc if ig created it and no other ig filter uses it). The addon finaliser is a safety net only.
import { native } from './native.js';
import type { LinkHandle } from './native-api.js';

export class Link {
  #handle: LinkHandle | null;
  #onDestroy: ((link: Link) => void) | undefined;

  /** `description` names the program and target, for messages. */
  constructor(handle: LinkHandle, readonly description: string, onDestroy?: (link: Link) => void) {
    this.#handle = handle;
    this.#onDestroy = onDestroy;
  }

  get destroyed(): boolean {
    return this.#handle === null;
  }

  /**
   * Everything an iterator link's program writes in one walk (BpfObject.attachIter): a new iterator is opened,
   * read to EOF (`chunk` bytes per read, 0 = 64 KiB) and closed. `netns`: the network namespace a tcp/udp/unix
   * iterator walks (a /proc/<pid>/ns/net path; null = ig's own). Throws with `.errno` if the kernel fails a read.
   */
  readIterator(netns: string | null = null, chunk = 0): Buffer {
    if (!this.#handle) throw new Error(`${this.description}: link destroyed`);
    return native.iterRead(this.#handle, netns, chunk);
  }

  /** Detach. Idempotent. */
  destroy(): void {
    const h = this.#handle;
    if (!h) return;
    this.#handle = null;
    try {
      native.linkDestroy(h);
    } finally {
      const cb = this.#onDestroy;
      this.#onDestroy = undefined;
      cb?.(this);
    }
  }

  toString(): string {
    return `Link(${this.description}${this.destroyed ? ', destroyed' : ''})`;
  }
}
