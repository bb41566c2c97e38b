// SPDX-License-Identifier: GPL-2.0
/*
 * traceloop: a syscall flight recorder for containers.
 *
 * raw_tracepoint/sys_enter saves the syscall number, arguments and, for
 * syscalls taking a path, the path string, per thread; raw_tracepoint/
 * sys_exit completes the record with the return value and duration and
 * writes it into a per-mount-namespace ring of RING_SIZE slots inside the
 * `syscalls` LRU hash (key: mount namespace + slot). Nothing is sent while
 * the gadget runs: user space dumps the map once, when it stops
 * (GADGET_MAPITER with map-fetch-interval 0) and sorts by time, giving
 * the last RING_SIZE syscalls of every traced container. User space also
 * decodes the arguments (names and types from the kernel's syscall
 * tracepoint formats) and the return value.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/mntns.h>
#include <gadget/types.h>

/* Slots per mount namespace (power of two). */
#define RING_SIZE 2048
#define MAX_CONTAINERS 64
#define PARAM_LEN 64

#if defined(__TARGET_ARCH_x86)
#define NR_exit 60
#define NR_exit_group 231
#define NR_execve 59
#define NR_execveat 322
#elif defined(__TARGET_ARCH_arm64)
#define NR_exit 93
#define NR_exit_group 94
#define NR_execve 221
#define NR_execveat 281
#endif

struct syscall_key {
	gadget_mntns_id mntns_id;
	/* Position in this mount namespace's ring. */
	__u32 slot;
	__u32 __pad;
};

struct syscall_record {
	gadget_timestamp timestamp_raw;
	/* Per mount namespace sequence number (order of completion). */
	__u64 seq;
	__u32 cpu;
	gadget_pid pid;
	gadget_tid tid;
	gadget_comm comm[TASK_COMM_LEN];
	gadget_syscall syscall_raw;
	__u64 args[6];
	/* Path argument for the syscalls that take one (open, stat...). */
	char param[PARAM_LEN];
	/* Return value (negative errno on failure); user space adds `ret`. */
	__s64 ret_raw;
	gadget_duration duration_raw;
	/* False for syscalls that do not return (exit, successful execve). */
	bool completed;
};

/* Last records of each traced mount namespace. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RING_SIZE * MAX_CONTAINERS);
	__type(key, struct syscall_key);
	__type(value, struct syscall_record);
} syscalls SEC(".maps");

GADGET_MAPITER(traceloop, syscalls);

/* Next sequence number per mount namespace. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_CONTAINERS * 4);
	__type(key, gadget_mntns_id);
	__type(value, __u64);
} seqs SEC(".maps");

/* Syscalls in flight, per thread. */
struct pending {
	struct syscall_record rec;
	gadget_mntns_id mntns_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
} scratch SEC(".maps");

/* Index of the path argument of syscall `nr`, or -1. */
static __always_inline int path_arg(long nr)
{
#if defined(__TARGET_ARCH_x86)
	switch (nr) {
	case 2:   /* open */
	case 4:   /* stat */
	case 6:   /* lstat */
	case 21:  /* access */
	case 59:  /* execve */
	case 76:  /* truncate */
	case 80:  /* chdir */
	case 82:  /* rename */
	case 83:  /* mkdir */
	case 84:  /* rmdir */
	case 85:  /* creat */
	case 86:  /* link */
	case 87:  /* unlink */
	case 89:  /* readlink */
	case 90:  /* chmod */
	case 92:  /* chown */
	case 161: /* chroot */
	case 165: /* mount: source */
	case 166: /* umount2 */
		return 0;
	case 257: /* openat */
	case 258: /* mkdirat */
	case 259: /* mknodat */
	case 260: /* fchownat */
	case 262: /* newfstatat */
	case 263: /* unlinkat */
	case 264: /* renameat */
	case 267: /* readlinkat */
	case 268: /* fchmodat */
	case 269: /* faccessat */
	case 322: /* execveat */
	case 332: /* statx */
	case 437: /* openat2 */
	case 439: /* faccessat2 */
		return 1;
	}
#elif defined(__TARGET_ARCH_arm64)
	switch (nr) {
	case 56:  /* openat */
	case 33:  /* mknodat */
	case 34:  /* mkdirat */
	case 35:  /* unlinkat */
	case 48:  /* faccessat */
	case 79:  /* newfstatat */
	case 78:  /* readlinkat */
	case 291: /* statx */
	case 281: /* execveat */
		return 1;
	case 221: /* execve */
	case 49:  /* chdir */
		return 0;
	}
#endif
	return -1;
}

static __always_inline void store(struct pending *p)
{
	struct syscall_key key = {};
	__u64 *seqp, init = 0, seq;

	seqp = bpf_map_lookup_elem(&seqs, &p->mntns_id);
	if (!seqp) {
		bpf_map_update_elem(&seqs, &p->mntns_id, &init, BPF_NOEXIST);
		seqp = bpf_map_lookup_elem(&seqs, &p->mntns_id);
		if (!seqp)
			return;
	}
	seq = __sync_fetch_and_add(seqp, 1);

	p->rec.seq = seq;
	key.mntns_id = p->mntns_id;
	key.slot = seq & (RING_SIZE - 1);
	bpf_map_update_elem(&syscalls, &key, &p->rec, BPF_ANY);
}

/*
 * --syscall-filters (upstream's name): the WASM module (program.c) puts the chosen syscall numbers in
 * syscall_filters (at most 16) and sets syscall_enable_filters[0]; then only those syscalls are recorded.
 */
#define SYSCALL_FILTERS 16
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSCALL_FILTERS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, bool);
} syscall_filters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, bool);
} syscall_enable_filters SEC(".maps");

static __always_inline bool syscall_filtered_out(__u64 nr)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&syscall_enable_filters, &zero) &&
	       !bpf_map_lookup_elem(&syscall_filters, &nr);
}

/* raw sys_enter arguments: (struct pt_regs *regs, long id) */
SEC("raw_tracepoint/sys_enter")
int ig_traceloop_e(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long nr = (long)ctx->args[1];
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, zero = 0;
	struct pending *p;
	int arg;

	if (gadget_should_discard_data_current())
		return 0;
	if (syscall_filtered_out((__u64)nr))
		return 0;

	p = bpf_map_lookup_elem(&scratch, &zero);
	if (!p)
		return 0;

	p->mntns_id = gadget_get_current_mntns_id();
	p->rec.timestamp_raw = bpf_ktime_get_boot_ns();
	p->rec.seq = 0;
	p->rec.cpu = bpf_get_smp_processor_id();
	p->rec.pid = pid_tgid >> 32;
	p->rec.tid = tid;
	bpf_get_current_comm(p->rec.comm, sizeof(p->rec.comm));
	p->rec.syscall_raw = nr;
	p->rec.args[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	p->rec.args[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	p->rec.args[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
	p->rec.args[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
	p->rec.args[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
	p->rec.args[5] = PT_REGS_PARM6_CORE_SYSCALL(regs);
	p->rec.ret_raw = 0;
	p->rec.duration_raw = 0;
	p->rec.completed = false;

	p->rec.param[0] = '\0';
	arg = path_arg(nr);
	if (arg >= 0 && arg < 6) {
		const char *s = (const char *)p->rec.args[arg & 7];

		if (bpf_probe_read_user_str(p->rec.param, sizeof(p->rec.param),
					    s) < 0)
			p->rec.param[0] = '\0';
	}

	/* These do not come back through sys_exit: record them now. */
	if (nr == NR_exit || nr == NR_exit_group) {
		store(p);
		return 0;
	}

	bpf_map_update_elem(&inflight, &tid, p, BPF_ANY);
	return 0;
}

/* raw sys_exit arguments: (struct pt_regs *regs, long ret) */
SEC("raw_tracepoint/sys_exit")
int ig_traceloop_x(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p;

	p = bpf_map_lookup_elem(&inflight, &tid);
	if (!p)
		return 0;

	p->rec.ret_raw = (long)ctx->args[1];
	p->rec.duration_raw = bpf_ktime_get_boot_ns() - p->rec.timestamp_raw;
	p->rec.completed = true;
	store(p);
	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}

/*
 * A successful execve from a non-leader thread returns in the leader, so
 * the caller's entry would stay behind: record it here as not completed.
 */
SEC("tracepoint/sched/sched_process_exec")
int ig_traceloop_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 old = ctx->old_pid;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p;

	if (old == tid)
		return 0;
	p = bpf_map_lookup_elem(&inflight, &old);
	if (!p)
		return 0;
	store(p);
	bpf_map_delete_elem(&inflight, &old);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
