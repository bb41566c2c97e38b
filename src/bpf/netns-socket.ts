// A packet socket (AF_PACKET, SOCK_RAW, ETH_P_ALL) created inside a network namespace, the carrier of socket
// filter programs for that namespace. Closing it detaches what is attached to it.
import { native } from './native.js';
import type { Program } from './program.js';

export class NetnsSocket {
  #fd: number;

  private constructor(fd: number, readonly netnsPath: string | null) { this.#fd = fd; }

  /** Open a packet socket in the namespace at `netnsPath` (null: ig's own), bound to `ifindex` (0: all). */
  static openPacket(netnsPath: string | null, ifindex = 0): NetnsSocket {
    return new NetnsSocket(native.openPacketSocket(netnsPath, ifindex), netnsPath);
  }

  get fd(): number {
    if (this.#fd < 0) throw new Error(`packet socket in ${this.netnsPath ?? 'ig\'s network namespace'} is closed`);
    return this.#fd;
  }

  get closed(): boolean { return this.#fd < 0; }

  /** SO_ATTACH_BPF of a loaded program; the socket keeps it until closed. */
  attach(prog: Program): void {
    native.attachSocketFilterFd(this.fd, prog.fd);
  }

  close(): void {
    if (this.#fd >= 0) native.closeFd(this.#fd);
    this.#fd = -1;
  }
}
