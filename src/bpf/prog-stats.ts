// Every eBPF program on the machine, by kernel id, with its run-time statistics (the bpfstats gadget).
// RunTimeStats owns the BPF_ENABLE_STATS fd: the kernel counts run time and run count of every program only
// while at least one such fd is open (sysctl kernel.bpf_stats_enabled is the other switch), so close() it.
import { native } from './native.js';

export interface ProgramStats {
  id: number;
  /** enum bpf_prog_type */
  type: number;
  /** The kernel's copy of the name: at most 15 characters. */
  name: string;
  runTimeNs: number;
  runCnt: number;
  mapIds: number[];
}

export class RunTimeStats {
  #fd: number;

  private constructor(fd: number) { this.#fd = fd; }

  /** Start counting (throws with the errno when the kernel refuses, e.g. without CAP_SYS_ADMIN). */
  static enable(): RunTimeStats {
    return new RunTimeStats(native.enableRunTimeStats());
  }

  get closed(): boolean { return this.#fd < 0; }

  /** Stop counting (unless someone else keeps it on). Idempotent. */
  close(): void {
    if (this.#fd >= 0) native.closeFd(this.#fd);
    this.#fd = -1;
  }
}

/** Every program loaded now, in id order (programs that go away while we walk are skipped). */
export function listPrograms(): ProgramStats[] {
  const out: ProgramStats[] = [];
  for (let id = native.progNextId(0); id !== 0; id = native.progNextId(id)) {
    const p = native.progInfo(id);
    if (p) out.push(p);
  }
  return out;
}

/** The bytes the kernel charges for map `id` (fdinfo `memlock`), or undefined when it went away. */
export function mapMemlock(id: number): number | undefined {
  const m = native.mapMemlock(id);
  return m < 0 ? undefined : m;
}

/** The kernel id of the program behind `fd` (an fd this process holds). */
export function programIdOfFd(fd: number): number {
  return native.progIdOfFd(fd);
}

/** bpf_prog_type names as bpftool prints them, by value (bpfstats' progType). */
const PROG_TYPE_NAMES = [
  'unspec', 'socket_filter', 'kprobe', 'sched_cls', 'sched_act', 'tracepoint', 'xdp', 'perf_event', 'cgroup_skb',
  'cgroup_sock', 'lwt_in', 'lwt_out', 'lwt_xmit', 'sock_ops', 'sk_skb', 'cgroup_device', 'sk_msg', 'raw_tracepoint',
  'cgroup_sock_addr', 'lwt_seg6local', 'lirc_mode2', 'sk_reuseport', 'flow_dissector', 'cgroup_sysctl',
  'raw_tracepoint_writable', 'cgroup_sockopt', 'tracing', 'struct_ops', 'ext', 'lsm', 'sk_lookup', 'syscall',
  'netfilter',
];

export function progTypeName(type: number): string {
  return PROG_TYPE_NAMES[type] ?? `type ${type}`;
}
