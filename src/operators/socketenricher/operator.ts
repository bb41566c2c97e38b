// SocketEnricher (priority 10): which process owns the socket on (network namespace, protocol, local port).
//
// Upstream loads eBPF programs (kprobes/fentry on socket calls, a socket iterator at start) that keep the
// `gadget_sockets` map current. This kernel has none of those hooks: sockets that exist at start come from
// /proc (table.ts), rescanned every second and, for a lookup that misses, at once for its namespace; sockets
// created during the run are added by the socket tracker (tracker.ts, an eBPF program on syscall tracepoints
// and tp_btf/net_dev_queue) the moment they are bound, connected, accepted or first send.
// It serves two kinds of consumers:
//
//  1. gadgets that declare `gadget_sockets` (include/gadget/sockets-map.h: trace_dns, trace_sni,
//     trace_tcpdrop, trace_tcpretrans): a BPF hash map with the gadget's own key/value layout (read from its
//     BTF) is created, kept in sync with the table, and offered under the name
//     `gadget_sockets` (the loader uses it in place of the gadget's declaration), so the programs'
//     gadget_socket_lookup() finds the owner in the kernel. `ipv6only` cannot be read from /proc and is
//     left 0 (an IPv4 packet may match a dual-stack IPv6 socket on its port);
//  2. data sources with a network-namespace id (`gadget_netns_id`) and an l4 endpoint but no process struct
//     (no `gadget_process`): they get hidden derived fields, computed when shown,
//        socket.pid   pid of the owning process (0 when unknown)
//        socket.comm  its command name
//        socket.uid   uid the kernel records for the socket (the uid column of /proc/net/*, `ss -e`)
//     named `socket.*` rather than `proc.*` because they describe the socket's owner now, not the process
//     that caused the event. The local endpoint is the one named `src`, else the first l4 endpoint.
import type { DataOperator, OperatorInstance } from '../../gadget/operator.js';
import type { GadgetContext } from '../../gadget/context.js';
import type { HostFacts } from '../../gadget/host-facts.js';
import { FieldFlag, Kind, type Batch, type DataSource, type Field } from '../../datasource/index.js';
import type { LayoutField } from '../../bpf/btf/model.js';
import { BpfMap } from '../../bpf/map.js';
import { MapFlags, MapType } from '../../bpf/constants.js';
import type { DeclaredMap } from '../../gadget/offers.js';
import { SocketTable, type SocketEntry } from './table.js';
import { SocketTracker } from './tracker.js';

/** The offered name (include/gadget/sockets-map.h). */
const SOCKETS_MAP = 'gadget_sockets';
const GADGET_MAX_SOCKETS = 16384;
const REFRESH_MS = 1000;
/** a namespace is rescanned at most this often because of lookups that miss */
const MISS_RESCAN_MS = 200;
/** namespaces not looked up for this long are no longer refreshed (fields mode) */
const IDLE_NETNS_MS = 10_000;

interface Target { ds: DataSource; netns: Field; port: Field; proto?: Field; version?: Field }

/** The data source's netns field and local l4 endpoint, when it needs socket fields. */
export function socketTarget(ds: DataSource): Target | undefined {
  if (ds.fields.some((f) => f.typeNames().includes('gadget_process'))) return undefined;
  const netns = ds.fields.find((f) => f.typeNames().includes('gadget_netns_id'));
  const eps = ds.fields.filter((f) => f.typeNames().includes('gadget_l4endpoint_t'));
  const ep = eps.find((f) => f.name === 'src') ?? eps[0];
  if (!netns || !ep) return undefined;
  const port = ds.getField(`${ep.fullName}.port`);
  if (!port) return undefined;
  return { ds, netns, port, proto: ds.getField(`${ep.fullName}.proto_raw`), version: ds.getField(`${ep.fullName}.version`) };
}

/** Table access with on-demand rescans of a namespace whose lookup missed. */
export class SocketResolver {
  private readonly recent = new Map<number, number>();

  constructor(readonly table: SocketTable, private readonly now: () => number = Date.now) {}

  lookup(netns: number, proto: number, port: number, version: number): SocketEntry | undefined {
    if (!netns || !port) return undefined;
    const t = this.now();
    this.recent.set(netns, t);
    let e = this.table.lookup(netns, proto, port, version);
    if (!e && t - this.table.lastScanned(netns) >= MISS_RESCAN_MS) {
      try { this.table.scan([netns]); } catch { /* /proc unreadable: no answer */ }
      e = this.table.lookup(netns, proto, port, version);
    }
    return e;
  }

  /** Namespaces looked up recently (what a periodic refresh should cover when there is no BPF map). */
  recentNetns(): number[] {
    const t = this.now();
    for (const [ns, at] of this.recent) if (t - at > IDLE_NETNS_MS) this.recent.delete(ns);
    return [...this.recent.keys()];
  }
}

/** What the socket.* fields show of a socket's entry (also the recorded answer, host fact `socket`). */
interface SocketAnswer { pid: number; comm: string; uid: number }

const answerOf = (e: SocketEntry | undefined): SocketAnswer | null => (e ? { pid: e.owner?.pid ?? 0, comm: e.owner?.comm ?? '', uid: e.uid } : null);

/**
 * Add socket.pid/comm/uid to a target data source. With `facts` recording or replaying, each answer is a host
 * fact (`socket`, key netns/proto/port/version): a replay shows the recorded machine's sockets at that moment.
 */
export function addSocketFields(t: Target, resolver: SocketResolver, facts?: HostFacts): boolean {
  const { ds } = t;
  if (ds.getField('socket')) return false;
  const gNetns = t.netns.get;
  const gPort = t.port.get;
  const gProto = t.proto?.get;
  const gVersion = t.version?.get;
  const viaFacts = facts && facts.mode !== 'live' ? facts : undefined;
  let lastB: Batch | undefined; let lastI = -1; let last: SocketAnswer | null = null;
  const entry = (b: Batch, i: number): SocketAnswer | null => {
    if (b === lastB && i === lastI) return last;
    lastB = b; lastI = i;
    const netns = Number(gNetns(b, i)); const proto = gProto ? Number(gProto(b, i)) : 6;
    const port = Number(gPort(b, i)); const version = gVersion ? Number(gVersion(b, i)) : 0;
    const live = () => answerOf(resolver.lookup(netns, proto, port, version));
    // A replay whose recording never answered this socket fails naming the field (MissingFactError), not 0/''.
    last = viaFacts ? viaFacts.ask('socket', `${netns}/${proto}/${port}/${version}`, live, null, 'socket.pid/comm/uid') : live();
    return last;
  };
  const parent = ds.addField({ name: 'socket', kind: Kind.Invalid, flags: FieldFlag.Empty, annotations: { 'columns.hidden': 'true' }, tags: ['src:socketenricher'] });
  const sub = (name: string, kind: number, description: string, pick: (e: SocketAnswer) => string | number) => {
    const empty = kind === Kind.String ? '' : 0;
    ds.addField({ name, parent, kind, tags: ['src:socketenricher'], annotations: { 'columns.hidden': 'true', description },
      storage: { type: 'derived', compute: (b, i) => { const e = entry(b, i); return e ? pick(e) : empty; } } });
  };
  sub('pid', Kind.Uint32, 'PID of the process owning the socket (from /proc)', (e) => e.pid);
  sub('comm', Kind.String, 'Command of the process owning the socket (from /proc)', (e) => e.comm);
  sub('uid', Kind.Uint32, 'Owner uid of the socket as the kernel records it', (e) => e.uid);
  return true;
}

/** Byte layout of the gadget's gadget_socket_key / gadget_socket_value (from its BTF). */
interface MapLayout { keySize: number; valueSize: number; key: Map<string, LayoutField>; value: Map<string, LayoutField> }

function mapLayout(m: DeclaredMap): MapLayout | undefined {
  if (!m.key || !m.value || !m.keySize || !m.valueSize) return undefined;
  const byName = (l: NonNullable<DeclaredMap['key']>) => new Map(l.fields.filter((f) => !f.parentFullName).map((f) => [f.name, f]));
  return { keySize: m.keySize, valueSize: m.valueSize, key: byName(m.key), value: byName(m.value) };
}

function put(buf: Buffer, f: LayoutField | undefined, v: number | bigint | string): void {
  if (!f) return;
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'latin1').subarray(0, Math.max(0, f.size - 1));
    b.copy(buf, f.offset);
    return;
  }
  switch (f.size) {
    case 1: buf.writeUInt8(Number(v) & 0xff, f.offset); break;
    case 2: buf.writeUInt16LE(Number(v) & 0xffff, f.offset); break;
    case 4: buf.writeUInt32LE(Number(v) >>> 0, f.offset); break;
    case 8: buf.writeBigUInt64LE(BigInt(v), f.offset); break;
    default:
  }
}

/** Encode one table entry as the gadget's key and value. */
export function encodeEntry(l: MapLayout, e: SocketEntry): { key: Buffer; value: Buffer } {
  const key = Buffer.alloc(l.keySize);
  put(key, l.key.get('netns'), e.netns);
  put(key, l.key.get('family'), e.family);
  put(key, l.key.get('proto'), e.proto);
  put(key, l.key.get('port'), e.port);
  const value = Buffer.alloc(l.valueSize);
  const o = e.owner;
  if (o) {
    put(value, l.value.get('mntns'), o.mntns);
    put(value, l.value.get('pid_tgid'), (BigInt(o.pid) << 32n) | BigInt(o.pid));
    put(value, l.value.get('uid_gid'), (BigInt(o.gid) << 32n) | BigInt(o.uid));
    put(value, l.value.get('task'), o.comm);
    put(value, l.value.get('ptask'), o.pcomm);
    put(value, l.value.get('ppid'), o.ppid);
    put(value, l.value.get('ptid'), o.ppid);
    // optional members of gadget_socket_value, when the gadget's value has them
    put(value, l.value.get('cwd'), o.cwd);
    put(value, l.value.get('exepath'), o.exepath);
  } else {
    put(value, l.value.get('uid_gid'), e.uid);
  }
  return { key, value };
}

class SocketEnricherInstance implements OperatorInstance {
  readonly name = 'SocketEnricher';
  private readonly table = new SocketTable();
  private readonly resolver = new SocketResolver(this.table);
  private timer?: NodeJS.Timeout;
  private map?: BpfMap;
  private layout?: MapLayout;
  /** what the BPF map holds: key (hex) → value (hex) */
  private inMap = new Map<string, string>();
  private tracker?: SocketTracker;
  /** keys the tracker added that the last /proc scan did not find (removed when the next one does not either) */
  private unseen = new Set<string>();

  private readonly replay: boolean;

  constructor(ctx: GadgetContext, targets: Target[]) {
    for (const t of targets) addSocketFields(t, this.resolver, ctx.facts);
    // A replay asks no host: socket answers come from the recording, and the gadget's own lookups in
    // gadget_sockets happened in the kernel while recording (their results are in the records).
    this.replay = ctx.facts.mode === 'replay';
    const declared = this.replay ? undefined : ctx.offers.declaredMap(SOCKETS_MAP);
    if (declared) {
      this.layout = mapLayout(declared);
      if (!this.layout) ctx.log.warn('socket enricher: the gadget declares gadget_sockets without BTF key/value types; its socket lookups will find nothing');
    }
  }

  preStart(ctx: GadgetContext): void {
    if (!this.layout) return;
    // BPF_F_NO_PREALLOC: entries are allocated as sockets appear. With the optional cwd/exepath members
    // (2 × 256 bytes in include/gadget/types.h) a preallocated 16384-entry map would pin ~10 MB up front.
    this.map = BpfMap.create({
      type: MapType.Hash, keySize: this.layout.keySize, valueSize: this.layout.valueSize, maxEntries: GADGET_MAX_SOCKETS,
      name: SOCKETS_MAP, flags: MapFlags.NoPrealloc,
    });
    this.refresh();
    try {
      this.tracker = SocketTracker.start(this.map);
    } catch (e) {
      // /proc scans alone still find sockets, up to a second late
      ctx.log.debug(`socket enricher: no socket tracker, sockets created during the run are found by /proc scans only: ${(e as Error).message}`);
    }
    ctx.offers.offerMap(SOCKETS_MAP, this.map, this.name);
  }

  start(ctx: GadgetContext): void {
    if (this.replay) return;
    this.timer = setInterval(() => {
      try { this.refresh(); } catch (e) { ctx.log.debug(`socket enricher: ${(e as Error).message}`); }
    }, REFRESH_MS);
    this.timer.unref();
  }

  private refresh(): void {
    if (!this.map) {
      const ns = this.resolver.recentNetns();
      if (ns.length) this.table.scan(ns);
      return;
    }
    this.table.scan();
    this.syncMap();
  }

  /** Make the BPF map hold exactly the table (entries that went away stay for the table's grace period). */
  private syncMap(): void {
    const map = this.map!;
    const want = new Map<string, string>();
    for (const e of this.table.all()) {
      const { key, value } = encodeEntry(this.layout!, e);
      const k = key.toString('hex');
      const v = value.toString('hex');
      want.set(k, v);
      if (this.inMap.get(k) === v) continue;
      // a full map (E2BIG) leaves the newest sockets out until others close, as upstream's does
      try { map.update(key, value); this.inMap.set(k, v); } catch { /* full */ }
    }
    for (const k of this.inMap.keys()) {
      if (want.has(k)) continue;
      map.delete(Buffer.from(k, 'hex')); // false when already gone
      this.inMap.delete(k);
    }
    if (this.tracker) this.collectTracked(want);
  }

  /**
   * Entries the tracker added for sockets that have closed: UDP has no close hook, so an entry that two /proc
   * scans in a row do not find goes (one miss may be a socket created after the scan).
   */
  private collectTracked(want: Map<string, string>): void {
    const map = this.map!;
    const unseen = new Set<string>();
    // keys first: deleting during a GET_NEXT_KEY walk would restart it
    for (const key of [...map.keys()]) {
      const k = key.toString('hex');
      if (want.has(k)) continue;
      if (this.unseen.has(k)) map.delete(key);
      else unseen.add(k);
    }
    this.unseen = unseen;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  postStop(ctx: GadgetContext): void {
    this.tracker?.close();
    this.tracker = undefined;
    if (this.map) {
      ctx.offers.withdrawMap(SOCKETS_MAP);
      this.map.close();
      this.map = undefined;
    }
  }
}

export const socketEnricherOperator: DataOperator = {
  name: 'SocketEnricher',
  priority: 10,
  instantiate(ctx) {
    const targets = [...ctx.dataSources.values()].map(socketTarget).filter((t): t is Target => !!t);
    const wantsMap = ctx.offers.declaredMap(SOCKETS_MAP) !== undefined;
    if (!wantsMap && targets.length === 0) return null;
    return new SocketEnricherInstance(ctx, targets);
  },
};
