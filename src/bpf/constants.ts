// Kernel ABI numbers ig uses, in one place (uapi/linux/bpf.h, perf_event.h, errno.h). Everything else names them.

/** enum bpf_map_type. */
export const MapType = {
  Unspec: 0, Hash: 1, Array: 2, ProgArray: 3, PerfEventArray: 4, PercpuHash: 5, PercpuArray: 6,
  StackTrace: 7, CgroupArray: 8, LruHash: 9, LruPercpuHash: 10, LpmTrie: 11, ArrayOfMaps: 12,
  HashOfMaps: 13, Devmap: 14, Sockmap: 15, Cpumap: 16, Xskmap: 17, Sockhash: 18, CgroupStorage: 19,
  ReuseportSockarray: 20, PercpuCgroupStorage: 21, Queue: 22, Stack: 23, SkStorage: 24,
  DevmapHash: 25, StructOps: 26, Ringbuf: 27, InodeStorage: 28, TaskStorage: 29, BloomFilter: 30,
  UserRingbuf: 31, CgrpStorage: 32, Arena: 33,
} as const;

/** enum bpf_prog_type values the loader meets most. */
export const ProgType = {
  SocketFilter: 1, Kprobe: 2, SchedCls: 3, SchedAct: 4, Tracepoint: 5, Xdp: 6, PerfEvent: 7,
  RawTracepoint: 17, Tracing: 26,
} as const;

/** Map creation flags (BPF_F_NO_PREALLOC: hash entries allocated on insert, not all up front). */
export const MapFlags = { NoPrealloc: 1 } as const;

/** Flags for map update (BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK). */
export const UpdateFlags = { Any: 0, NoExist: 1, Exist: 2, Lock: 4 } as const;

/** perf_event_open types and the software counters (no PMU in VMs: sample with cpu-clock). */
export const PerfType = { Hardware: 0, Software: 1, Tracepoint: 2 } as const;
export const PerfSwConfig = { CpuClock: 0, TaskClock: 1 } as const;

/** enum bpf_func_id values used by programs ig assembles itself. */
export const BpfFunc = { TailCall: 12 } as const;

/** BPF_PSEUDO_MAP_FD: an ld_imm64 whose immediate is a map fd. */
export const BPF_PSEUDO_MAP_FD = 1;

/** offsetof(struct __sk_buff, cb[0]). */
export const SKB_CB0_OFFSET = 48;

/** errno values ig branches on. */
export const Errno = { ENOENT: 2, EPIPE: 32, EOPNOTSUPP: 95, ENOTSUPP: 524 } as const;
