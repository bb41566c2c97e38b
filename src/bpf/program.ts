// A BPF program that ig assembles and loads itself (not part of an ELF object), by fd. One owner, one close().
import { Link } from './link.js';
import { native } from './native.js';

export class Program {
  #fd: number;

  private constructor(fd: number, readonly name: string) { this.#fd = fd; }

  /**
   * bpf_prog_load of raw instructions (8 bytes each, struct bpf_insn). A rejection throws an Error with `.errno`
   * and `.log` (the verifier log).
   */
  static loadRaw(type: number, insns: Buffer, name: string, license = 'GPL'): Program {
    return new Program(native.progLoadRaw(type, insns, name, license), name);
  }

  get fd(): number {
    if (this.#fd < 0) throw new Error(`program ${this.name} is closed`);
    return this.#fd;
  }

  get closed(): boolean { return this.#fd < 0; }

  /** Attach as a TC filter (the program must be SCHED_CLS); destroying the link removes the filter. */
  attachTc(ifindex: number, egress: boolean): Link {
    return new Link(native.attachTcFd(this.fd, ifindex, egress, this.name), `${this.name} on tc ${egress ? 'egress' : 'ingress'} of ifindex ${ifindex}`);
  }

  /** Close our fd (a socket it is attached to keeps the program). Idempotent. */
  close(): void {
    if (this.#fd >= 0) native.closeFd(this.#fd);
    this.#fd = -1;
  }
}
