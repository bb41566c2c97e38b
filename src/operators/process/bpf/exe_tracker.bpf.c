// SPDX-License-Identifier: Apache-2.0
/*
 * The process enricher's own eBPF program: it records the executable of every process that execs (or forks)
 * while ig runs, in `ig_exe_by_pid` (tgid → the executable for the last two command names the process had; each
 * executable's path is stored once, in `ig_exe_paths`), so that `<proc>.exe` of a process that lived a
 * millisecond needs no /proc read (by then /proc has nothing to say). The path is the one /proc/<pid>/exe shows,
 * walked from the file's dentry up to the root: only processes in ig's own mount namespace are recorded
 * (`host_mntns`), where that walk and readlink(/proc/<pid>/exe) give the same text; the others are left to /proc.
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

/* A path's longest text; longer paths are stored as unknown (the reader asks /proc then). Keep in sync with
 * exe-tracker.ts. */
#define IG_EXE_MAX 240
#define IG_COMM_LEN 16
/* Entries of the per-process table, a power of two: a process's entry is at tgid % IG_EXE_ENTRIES (pids are
 * handed out in order, so 4096 processes started in a row never share one; an older process whose entry was taken
 * over is left to /proc, as a process older than ig is). */
#define IG_EXE_ENTRIES 4096
/* Entries of the path table, a power of two: each distinct executable once, at its hash % IG_EXE_PATHS or the entry
 * next to it (idx ^ 1). A host runs tens to a few hundred distinct executables; a third path for the same pair takes
 * an entry from one of the two, and the processes of the one that lost it are left to /proc (their tag no longer
 * matches). With one place per path, 2 of 20 executables of a build shared an entry 17% of the time and took it
 * from each other at every exec; with two, 3 of 20 share a pair ~0.4% of the time. */
#define IG_EXE_PATHS 1024

/*
 * A process's command name and where its executable's path is: the path table's entry `path` while that entry's
 * tag is `tag` (0: no path known). The path is stored once per executable, not per process: with the 240-byte path
 * in every slot the table was 4096 x 528 bytes = 2.06 MiB, all of it resident in ig (a mapped array's pages are
 * inserted at mmap time); now 4096 x 64 + 1024 x 256 bytes = 0.5 MiB.
 */
struct ig_exe_slot {
	char comm[IG_COMM_LEN];
	__u32 path;
	__u32 tag;
};

/*
 * Arrays the reader thread maps (BPF_F_MMAPABLE) and reads without a syscall: an exec storm's every event is
 * a new process, and a bpf(MAP_LOOKUP_ELEM) per event was ~12% of ig's CPU there. `seq` is odd while a program
 * writes the entry; a writer takes the entry by compare-and-swap (a writer that finds it taken gives up: that
 * process is left to /proc), so one writer at a time, and a reader that sees `seq` change retries.
 */
struct ig_exe_entry {
	__u64 seq;  /* 64 bits: BPF's compare-and-swap */
	__u32 tgid; /* whose entry this is (0: nobody's) */
	__u32 pad;
	struct ig_exe_slot slot[2]; /* [0]: now, [1]: before the last exec */
};

struct ig_exe_path {
	__u64 seq;
	__u32 tag; /* the high half of the path's hash, never 0 (0: empty) */
	__u32 pad;
	char path[IG_EXE_MAX]; /* NUL-terminated */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, IG_EXE_ENTRIES);
	__type(key, __u32);
	__type(value, struct ig_exe_entry);
} ig_exe_by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, IG_EXE_PATHS);
	__type(key, __u32);
	__type(value, struct ig_exe_path);
} ig_exe_paths SEC(".maps");

/* a path being read, before it is hashed and stored */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[IG_EXE_MAX]);
} ig_exe_scratch SEC(".maps");

/* ig's mount namespace (set before load). */
const volatile __u64 host_mntns = 0;

static __always_inline bool in_host_mntns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == host_mntns;
}

/* The entry for tgid, taken for writing (seq made odd); NULL when another program is writing it. */
static __always_inline struct ig_exe_entry *take_entry(__u32 tgid)
{
	__u32 idx = tgid & (IG_EXE_ENTRIES - 1);
	struct ig_exe_entry *e = bpf_map_lookup_elem(&ig_exe_by_pid, &idx);
	__u64 seq;

	if (!e)
		return NULL;
	seq = *(volatile __u64 *)&e->seq;
	if (seq & 1)
		return NULL;
	if (__sync_val_compare_and_swap(&e->seq, seq, seq + 1) != seq)
		return NULL;
	return e;
}

static __always_inline void give_entry(struct ig_exe_entry *e)
{
	__sync_fetch_and_add(&e->seq, 1);
}

/*
 * The path table's entry for the first `len` bytes of `buf` (a path and its NUL), stored there unless it already
 * is: slot->path and slot->tag, or tag 0 when another program is writing that entry (the process is left to /proc).
 * FNV-1a over the path: ~len x 4 instructions, less than the copy of a 240-byte slot it replaces. A path not stored
 * yet goes to a free one of its two entries, else to the one the hash's bit 31 picks.
 */
static __always_inline void intern_path(struct ig_exe_slot *slot, const char *buf, long len)
{
	__u64 h = 0xcbf29ce484222325ULL, seq;
	struct ig_exe_path *p, *q;
	__u32 idx, idx2, tag;

	for (int i = 0; i < IG_EXE_MAX - 1; i++) {
		if (i >= len - 1)
			break;
		h ^= (__u8)buf[i];
		h *= 0x100000001b3ULL;
	}
	idx = (__u32)h & (IG_EXE_PATHS - 1);
	tag = (__u32)(h >> 32) | 1;
	idx2 = idx ^ 1;
	slot->tag = 0;
	slot->path = idx;
	p = bpf_map_lookup_elem(&ig_exe_paths, &idx);
	q = bpf_map_lookup_elem(&ig_exe_paths, &idx2);
	if (!p || !q)
		return;
	if (p->tag != tag && q->tag == tag) {
		p = q;
		slot->path = idx2;
	} else if (p->tag != tag && (q->tag == 0 || (p->tag != 0 && ((h >> 31) & 1)))) {
		p = q; /* not stored yet: the free one, else the one bit 31 picks */
		slot->path = idx2;
	}
	seq = *(volatile __u64 *)&p->seq;
	if (seq & 1)
		return;
	if (p->tag != tag) {
		if (__sync_val_compare_and_swap(&p->seq, seq, seq + 1) != seq)
			return;
		__builtin_memcpy(p->path, buf, IG_EXE_MAX);
		p->tag = tag;
		__sync_fetch_and_add(&p->seq, 1);
	}
	slot->tag = tag;
}

/* slot <- (comm of task, its mm's exe_file's path); tag 0 when the path is unknown or too long */
static __always_inline void fill_slot(struct ig_exe_slot *s, struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	__u32 zero = 0;
	char *buf;
	long n;

	BPF_CORE_READ_STR_INTO(&s->comm, task, comm);
	s->tag = 0;
	s->path = 0;
	if (!exe)
		return;
	buf = bpf_map_lookup_elem(&ig_exe_scratch, &zero);
	if (!buf)
		return;
	n = gadget_read_file_path(exe, buf, IG_EXE_MAX);
	if (n <= 1 || n >= IG_EXE_MAX)
		return; /* truncated or unreadable: tag 0 tells the reader to ask /proc */
	intern_path(s, buf, n);
}

/* (struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("raw_tracepoint/sched_process_exec")
int ig_exe_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct ig_exe_entry *e;
	__u32 tgid;

	tgid = BPF_CORE_READ(task, tgid);
	e = take_entry(tgid);
	if (!e)
		return 0;
	if (!in_host_mntns(task)) {
		/* moved to another mount namespace (unshare -m, a container's init): what it runs now is
		 * /proc's to say, not the entry its fork left */
		if (e->tgid == tgid)
			e->tgid = 0;
	} else {
		if (e->tgid == tgid)
			__builtin_memcpy(&e->slot[1], &e->slot[0], sizeof(e->slot[1]));
		else
			__builtin_memset(&e->slot[1], 0, sizeof(e->slot[1]));
		e->tgid = tgid;
		fill_slot(&e->slot[0], task);
	}
	give_entry(e);
	return 0;
}

/*
 * A new process runs its parent's executable until it execs. Threads share their process's entry.
 * (struct task_struct *parent, struct task_struct *child). A raw tracepoint, not tp_btf: a tp_btf program makes
 * libbpf parse the kernel's whole BTF for its attach point at every load (12 of the tracker's 17 ms of load CPU,
 * before ig's first event); every read here goes through BPF_CORE_READ anyway.
 */
SEC("raw_tracepoint/sched_process_fork")
int ig_exe_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	struct ig_exe_entry *e, *pe;
	struct ig_exe_slot s = {};
	__u32 ptgid, ctgid, pidx;
	bool have = false;

	ptgid = BPF_CORE_READ(parent, tgid);
	ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid || !in_host_mntns(child))
		return 0;
	pidx = ptgid & (IG_EXE_ENTRIES - 1);
	pe = bpf_map_lookup_elem(&ig_exe_by_pid, &pidx);
	if (pe && pe->tgid == ptgid && !(*(volatile __u64 *)&pe->seq & 1)) {
		/* a copy made while the parent's entry changes is at worst a path the parent had (it forks
		 * itself, so it is not exec'ing) */
		__builtin_memcpy(&s, &pe->slot[0], sizeof(s));
		have = s.tag != 0;
	}
	e = take_entry(ctgid);
	if (!e)
		return 0;
	if (have)
		__builtin_memcpy(&e->slot[0], &s, sizeof(e->slot[0]));
	else
		fill_slot(&e->slot[0], child);
	/* the child's command name is the forking thread's */
	BPF_CORE_READ_STR_INTO(&e->slot[0].comm, child, comm);
	__builtin_memset(&e->slot[1], 0, sizeof(e->slot[1]));
	e->tgid = ctgid;
	give_entry(e);
	return 0;
}

/*
 * The processes that were running before ig: one sweep over every task when the tracker starts (an iterator ig
 * runs once), recording each process of ig's mount namespace whose entry is free, so that their events need no
 * /proc read either. A process whose executable was deleted or replaced since it started is left to /proc:
 * readlink shows that path with " (deleted)", which the path walk does not.
 */
SEC("ig_iter/task") /* not iter/task: ig finds the attach point itself (native/src/iter_target.c) */
int ig_exe_sweep(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct ig_exe_entry *e;
	struct file *exe;
	__u32 tgid;

	if (!task)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	if (BPF_CORE_READ(task, pid) != tgid || !in_host_mntns(task))
		return 0; /* threads share their process's entry */
	exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe || !BPF_CORE_READ(exe, f_path.dentry, d_hash.pprev))
		return 0; /* a kernel thread, or an executable unlinked since (unhashed dentry) */
	e = take_entry(tgid);
	if (!e)
		return 0;
	/* taken by an exec or fork since the tracker started (it knows better), or by another old process */
	if (e->tgid == 0) {
		fill_slot(&e->slot[0], task);
		__builtin_memset(&e->slot[1], 0, sizeof(e->slot[1]));
		if (e->slot[0].tag)
			e->tgid = tgid;
	}
	give_entry(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
