// SPDX-License-Identifier: Apache-2.0
/*
 * The process enricher's own eBPF program: it records the executable of every process that execs (or forks)
 * while ig runs, in `ig_exe_by_pid` (tgid → the executable for the last two command names the process had), so
 * that `<proc>.exe` of a process that lived a millisecond needs no /proc read (by then /proc has nothing to
 * say). The path is the one /proc/<pid>/exe shows, walked from the file's dentry up to the root: only processes
 * in ig's own mount namespace are recorded (`host_mntns`), where that walk and readlink(/proc/<pid>/exe) give the
 * same text; the others are left to /proc as before.
 *
 * Two slots per process because records are read a few milliseconds after they were made: a child's events
 * from before its exec (with the parent's command name) may be rendered after the exec changed the entry. The
 * reader picks the slot whose command name is the record's.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/types.h>
#include <gadget/filesystem.h>

/* A slot's path; longer paths are stored empty (the reader asks /proc then). Keep in sync with exe-tracker.ts. */
#define IG_EXE_MAX 240
#define IG_COMM_LEN 16

struct ig_exe_slot {
	char comm[IG_COMM_LEN];
	char exe[IG_EXE_MAX];
};

struct ig_exe_entry {
	struct ig_exe_slot slot[2]; /* [0]: now, [1]: before the last exec */
};

/* 4096 processes (2 MiB): entries are read within milliseconds of the events that need them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ig_exe_entry);
} ig_exe_by_pid SEC(".maps");

/* the entry is larger than the BPF stack allows */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ig_exe_entry);
} ig_exe_scratch SEC(".maps");

/* ig's mount namespace (set before load). */
const volatile __u64 host_mntns = 0;

static __always_inline bool in_host_mntns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == host_mntns;
}

/* slot <- (comm of task, path of its mm's exe_file); false when the path is unknown or too long */
static __always_inline bool fill_slot(struct ig_exe_slot *s, struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	long n;

	BPF_CORE_READ_STR_INTO(&s->comm, task, comm);
	s->exe[0] = '\0';
	if (!exe)
		return false;
	n = gadget_read_file_path(exe, s->exe, sizeof(s->exe));
	if (n <= 0 || n >= IG_EXE_MAX) {
		/* truncated or unreadable: empty tells the reader to ask /proc */
		s->exe[0] = '\0';
		return false;
	}
	return true;
}

/* (struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("raw_tracepoint/sched_process_exec")
int ig_exe_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct ig_exe_entry *e, *old;
	__u32 zero = 0, tgid;

	tgid = BPF_CORE_READ(task, tgid);
	if (!in_host_mntns(task)) {
		/* moved to another mount namespace (unshare -m, a container's init): what it runs now is
		 * /proc's to say, not the entry its fork left */
		bpf_map_delete_elem(&ig_exe_by_pid, &tgid);
		return 0;
	}
	e = bpf_map_lookup_elem(&ig_exe_scratch, &zero);
	if (!e)
		return 0;
	old = bpf_map_lookup_elem(&ig_exe_by_pid, &tgid);
	if (old)
		__builtin_memcpy(&e->slot[1], &old->slot[0], sizeof(e->slot[1]));
	else
		__builtin_memset(&e->slot[1], 0, sizeof(e->slot[1]));
	fill_slot(&e->slot[0], task);
	bpf_map_update_elem(&ig_exe_by_pid, &tgid, e, BPF_ANY);
	return 0;
}

/* A new process runs its parent's executable until it execs. Threads share their process's entry. */
SEC("tp_btf/sched_process_fork")
int ig_exe_fork(u64 *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx[0];
	struct task_struct *child = (struct task_struct *)ctx[1];
	struct ig_exe_entry *e, *pe;
	__u32 zero = 0, ptgid, ctgid;

	ptgid = BPF_CORE_READ(parent, tgid);
	ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid || !in_host_mntns(child))
		return 0;
	e = bpf_map_lookup_elem(&ig_exe_scratch, &zero);
	if (!e)
		return 0;
	pe = bpf_map_lookup_elem(&ig_exe_by_pid, &ptgid);
	if (pe) {
		__builtin_memcpy(&e->slot[0], &pe->slot[0], sizeof(e->slot[0]));
		/* the child's command name is the forking thread's */
		BPF_CORE_READ_STR_INTO(&e->slot[0].comm, child, comm);
	} else if (!fill_slot(&e->slot[0], child)) {
		return 0;
	}
	__builtin_memset(&e->slot[1], 0, sizeof(e->slot[1]));
	bpf_map_update_elem(&ig_exe_by_pid, &ctgid, e, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
