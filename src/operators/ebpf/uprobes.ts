// Uprobes as upstream attaches them: each `uprobe/<lib>:<sym>` program goes on the library as every selected
// container sees it (its root through /proc/<pid>/root of its init process), and on the host's with --host, one
// link per distinct file (device + inode): containers that share a file share its link, which goes when its last
// user does. Containers that start while the gadget runs get their links then (ctx.mounts announces them).
// A library or symbol a container (or the host) lacks skips that probe there with a warning.
import { existsSync } from 'node:fs';
import type { BpfObject } from '../../bpf/object.js';
import type { Link } from '../../bpf/link.js';
import { Errno } from '../../bpf/constants.js';
import type { Logger } from '../../gadget/logger.js';
import { fileIdentity, resolveLibrary } from './libs.js';

export interface UprobeProgram {
  name: string;
  retprobe: boolean;
  /** library name ("libc") or absolute path, as in the section */
  lib: string;
  sym: string;
  /** the section's target, for messages ("libc:malloc") */
  target: string;
}

/** The host's target key (containers use runtime/id). */
export const HOST = 'host';

interface Attached {
  /** undefined: the symbol is missing in this file (warned once; nothing to detach) */
  link: Link | undefined;
  users: Set<string>;
  path: string;
}

export class ContainerUprobes {
  /** by program and file: `<prog>\0<dev>:<ino>` */
  readonly #files = new Map<string, Attached>();
  /** the file keys each target uses */
  readonly #byTarget = new Map<string, string[]>();

  constructor(
    private readonly obj: BpfObject,
    private readonly progs: UprobeProgram[],
    private readonly log: Logger,
    private readonly gadget: string,
  ) {}

  /** Links in the kernel now (one per program and distinct file with its symbol). */
  get linkCount(): number {
    let n = 0;
    for (const a of this.#files.values()) if (a.link) n++;
    return n;
  }

  /**
   * Attach every program for `key` (HOST, or a container's runtime/id) whose files are seen from `root`
   * ('' = the host, else /proc/<pid>/root). Errors other than a missing library or symbol are thrown
   * (for the host: the run fails; the caller decides for containers).
   */
  add(key: string, label: string, root: string): void {
    if (this.#byTarget.has(key)) return;
    if (root && !existsSync(root)) {
      // the container exited before we looked: nothing of it to probe (and no library to warn about)
      this.log.debug(`uprobes: container ${label} is gone (${root})`);
      return;
    }
    const used: string[] = [];
    this.#byTarget.set(key, used);
    const where = key === HOST ? 'on this host' : `in container ${label}`;
    for (const p of this.progs) {
      const kind = p.retprobe ? 'uretprobe' : 'uprobe';
      const path = resolveLibrary(p.lib, root);
      if (!path) {
        this.log.warn(`gadget ${this.gadget}: program ${p.name}: library ${p.lib} not found ${where}; ${kind} ${p.target} skipped`);
        continue;
      }
      let id: string;
      try {
        id = fileIdentity(root, path);
      } catch (e) {
        // the container exited while we looked: nothing of it to probe
        this.log.debug(`uprobe ${p.name}: ${path}: ${(e as Error).message}`);
        continue;
      }
      const fileKey = `${p.name}\0${id}`;
      const known = this.#files.get(fileKey);
      if (known) {
        known.users.add(key);
        used.push(fileKey);
        this.log.debug(`uprobe ${p.name}: ${path} (${id}) ${known.link ? 'already attached' : 'lacks the symbol'}, shared ${where}`);
        continue;
      }
      let link: Link | undefined;
      try {
        link = this.obj.attachUprobe(p.name, { binaryPath: path, func: p.sym, retprobe: p.retprobe });
        this.log.debug(`uprobe ${p.name}: attached to ${path} (${id}) ${where}`);
      } catch (e) {
        if ((e as { errno?: number }).errno !== Errno.ENOENT) throw e;
        this.log.warn(`gadget ${this.gadget}: program ${p.name}: symbol ${p.sym} not found in ${path}${key === HOST ? '' : ` (container ${label})`}; ${kind} skipped`);
      }
      this.#files.set(fileKey, { link, users: new Set([key]), path });
      used.push(fileKey);
    }
  }

  /** The target went away: release the links no other target shares. */
  remove(key: string): void {
    const used = this.#byTarget.get(key);
    if (!used) return;
    this.#byTarget.delete(key);
    for (const fk of used) {
      const a = this.#files.get(fk);
      if (!a) continue;
      a.users.delete(key);
      if (a.users.size > 0) continue;
      this.#files.delete(fk);
      if (!a.link || a.link.destroyed) continue;
      // An already destroyed link (the object closed first) has nothing left to release.
      try { a.link.destroy(); } catch (e) { this.log.debug(`uprobe: detaching ${a.path}: ${(e as Error).message}`); }
      this.log.debug(`uprobe ${fk.slice(0, fk.indexOf('\0'))}: detached from ${a.path} (${fk.slice(fk.indexOf('\0') + 1)})`);
    }
  }

  /** Release every link (the object's close would too; this keeps the bookkeeping honest). */
  close(): void {
    for (const key of [...this.#byTarget.keys()]) this.remove(key);
  }
}
