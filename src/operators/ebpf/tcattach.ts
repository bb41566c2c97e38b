// TC programs attach behind per-namespace dispatchers (tcdispatch.ts): to --iface when it is given, else as
// upstream does: to the host end of each selected container's veth pair,
// following containers that start later (ctx.netns announces them) and detaching from those that stop. On the
// host end ingress and egress are swapped: what the container sends arrives on the host end, so a
// classifier/ingress program (the container's ingress) goes on the host end's egress and vice versa.
// Containers in the host's network namespace have no veth of their own and are skipped, as upstream does.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { BpfObject } from '../../bpf/object.js';
import type { Link } from '../../bpf/link.js';
import { TcDispatch } from './tcdispatch.js';

/**
 * `dispatch`: behind a dispatcher (upstream's classifier/<dir>/<name> sections). Others (tc/ingress, tcx/...)
 * attach directly: libbpf gives them a TCX expected attach type, which the kernel refuses to tail-call into
 * from a plain SCHED_CLS dispatcher; they see no skb->cb[0] namespace.
 */
export interface TcProgram { name: string; egress: boolean; dispatch: boolean }

interface HostEnd { ifindex: number; name: string }

function ownNetnsInode(): number {
  return Number(statSync('/proc/self/ns/net').ino);
}

/** Host-side interfaces by ifindex (ig's network namespace), read now. */
function hostInterfaces(): Map<number, string> {
  const out = new Map<number, string>();
  for (const n of readdirSync('/sys/class/net')) {
    try { out.set(Number(readFileSync(`/sys/class/net/${n}/ifindex`, 'utf8')), n); } catch { /* went away meanwhile */ }
  }
  return out;
}

/**
 * The host ends of the veth pairs of the network namespace at `netnsPath`: inside it each veth names its peer's
 * ifindex (`ip -j link`: link_index, with link_netnsid set when the peer is in another namespace); the host
 * interface with that index whose own peer (iflink) is the container's end is the match.
 */
export function hostEndsOf(netnsPath: string): HostEnd[] {
  const r = spawnSync('nsenter', [`--net=${netnsPath}`, 'ip', '-j', 'link', 'show'], { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0) throw new Error(`listing the interfaces of ${netnsPath}: ${r.error?.message ?? r.stderr.trim()}`);
  const links = JSON.parse(r.stdout || '[]') as { ifindex: number; ifname: string; link_index?: number; link_netnsid?: number }[];
  const host = hostInterfaces();
  const out: HostEnd[] = [];
  for (const l of links) {
    if (l.link_index === undefined || l.link_netnsid === undefined) continue;
    const name = host.get(l.link_index);
    if (!name) continue;
    let peer = -1;
    try { peer = Number(readFileSync(`/sys/class/net/${name}/iflink`, 'utf8')); } catch { /* gone */ }
    if (peer === l.ifindex) out.push({ ifindex: l.link_index, name });
  }
  return out;
}

/** The TC attachments of one object: to an interface, or to container network namespaces (by inode). */
export class ContainerTc {
  private readonly byNetns = new Map<number, Link[]>();
  private readonly hostNs = ownNetnsInode();
  private readonly dispatch: { prog: TcProgram; d?: TcDispatch }[] = [];

  constructor(private readonly obj: BpfObject, progs: TcProgram[], private readonly log: { debug(m: string): void; warn(m: string): void }) {
    try {
      for (const p of progs) this.dispatch.push({ prog: p, d: p.dispatch ? new TcDispatch(obj.progFd(p.name), p.name) : undefined });
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private attachOne(prog: TcProgram, d: TcDispatch | undefined, netns: number, ifindex: number, egress: boolean): Link {
    return d ? d.attach(netns, ifindex, egress) : this.obj.attachTc(prog.name, ifindex, egress);
  }

  /** Attach to an interface of ig's own namespace (--iface), directions as the sections say. */
  addInterface(ifindex: number): void {
    const links: Link[] = this.byNetns.get(this.hostNs) ?? [];
    this.byNetns.set(this.hostNs, links);
    for (const { prog, d } of this.dispatch) links.push(this.attachOne(prog, d, this.hostNs, ifindex, prog.egress));
  }

  /** Attach to the host ends of the namespace's veths (nothing for ig's own namespace). */
  add(netnsPath: string): void {
    let ino: number;
    try { ino = Number(statSync(netnsPath).ino); } catch { return; /* the container is already gone */ }
    if (ino === this.hostNs || this.byNetns.has(ino)) return;
    const links: Link[] = [];
    this.byNetns.set(ino, links);
    for (const end of hostEndsOf(netnsPath)) {
      // swapped: see the top
      for (const { prog, d } of this.dispatch) links.push(this.attachOne(prog, d, ino, end.ifindex, !prog.egress));
      this.log.debug(`TC programs attached to ${end.name} (host end of a veth of ${readlinkSafe(netnsPath)})`);
    }
    if (links.length === 0) this.log.warn(`TC: no veth interface found in network namespace ${readlinkSafe(netnsPath)}; its packets are not seen`);
  }

  remove(netnsInode: number): void {
    const links = this.byNetns.get(netnsInode);
    if (!links) return;
    this.byNetns.delete(netnsInode);
    for (const l of links) {
      // the interface may be gone with the container: its filters went with it
      try { l.destroy(); } catch (e) { this.log.debug(`TC detach: ${(e as Error).message}`); }
    }
    for (const { d } of this.dispatch) d?.forget(netnsInode);
  }

  get attachedNamespaces(): number { return this.byNetns.size; }

  /** Detach everything and release the dispatchers. */
  close(): void {
    for (const ino of [...this.byNetns.keys()]) this.remove(ino);
    for (const { d } of this.dispatch.splice(0)) d?.close();
  }
}

function readlinkSafe(p: string): string {
  try { return readlinkSync(p); } catch { return p; }
}
