// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_process: list running processes (or threads).
 *
 * Kernels without BPF iterators cannot run upstream's `iter/task` program.
 * Instead `ig_snap_proc` is an on-demand raw tracepoint program (see
 * include/gadget/snapshot.h): ig runs it with BPF_PROG_TEST_RUN, and it
 * walks the kernel's circular task list starting from the calling task
 * (task_struct::tasks, RCU-protected), and, with --threads, each process'
 * thread list (signal_struct::thread_head), writing one record per task.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/mntns.h>
#include <gadget/mntns_filter.h>
#include <gadget/snapshot.h>
#include <gadget/types.h>

/* Upper bounds of the walks. */
#define MAX_PROCESSES (1 << 20)
#define MAX_THREADS_PER_PROCESS 4096

/* List every thread, not only thread group leaders. */
const volatile bool show_threads = false;
GADGET_PARAM(show_threads);


GADGET_SNAPSHOTTER(processes, gadget_process, ig_snap_proc);

static __always_inline void emit_task(struct task_struct *task)
{
	struct gadget_process e = {};
	struct task_struct *parent;

	e.mntns_id = gadget_get_task_mntns_id(task);
	e.pid = BPF_CORE_READ(task, tgid);
	e.tid = BPF_CORE_READ(task, pid);
	/* The idle task (init_task) is not a process. */
	if (e.tid == 0)
		return;
	BPF_CORE_READ_STR_INTO(&e.comm, task, comm);
	e.creds.uid = BPF_CORE_READ(task, cred, uid.val);
	e.creds.gid = BPF_CORE_READ(task, cred, gid.val);
	/* Container selection and upstream's --pid/--tid/--comm/--uid/--gid.
	 * Kernel threads share init's mount namespace: same rule. */
	if (gadget_should_discard_data(e.mntns_id, e.pid, e.tid, e.comm,
				       e.creds.uid, e.creds.gid))
		return;
	parent = BPF_CORE_READ(task, real_parent);
	if (parent) {
		e.parent.pid = BPF_CORE_READ(parent, tgid);
		e.parent.tid = BPF_CORE_READ(parent, pid);
		BPF_CORE_READ_STR_INTO(&e.parent.comm, parent, comm);
	}

	gadget_snapshot_write(&e, sizeof(e));
}

struct thread_walk {
	struct task_struct *leader;
	struct list_head *head; /* &signal->thread_head */
	struct list_head *pos;
};

static long walk_thread(__u32 i, void *ctx)
{
	struct thread_walk *w = ctx;
	struct list_head *pos = w->pos;
	struct task_struct *t;

	if (!pos || pos == w->head)
		return 1;
	t = container_of(pos, struct task_struct, thread_node);
	emit_task(t);
	/* Local copy: BPF_CORE_READ(w->pos, ...) would relocate w too. */
	w->pos = BPF_CORE_READ(pos, next);
	return 0;
}

struct process_walk {
	struct task_struct *start;
	struct task_struct *cur;
};

static long walk_process(__u32 i, void *ctx)
{
	struct process_walk *w = ctx;
	struct task_struct *task = w->cur;
	struct list_head *next;

	if (!task)
		return 1;

	if (show_threads) {
		struct thread_walk tw = {};
		struct signal_struct *sig = BPF_CORE_READ(task, signal);

		tw.leader = task;
		tw.head = &sig->thread_head;
		tw.pos = BPF_CORE_READ(sig, thread_head.next);
		bpf_loop(MAX_THREADS_PER_PROCESS, walk_thread, &tw, 0);
	} else {
		emit_task(task);
	}

	next = BPF_CORE_READ(task, tasks.next);
	if (!next)
		return 1;
	w->cur = container_of(next, struct task_struct, tasks);
	if (w->cur == w->start)
		return 1;
	return 0;
}

SEC("raw_tp")
int ig_snap_proc(void *ctx)
{
	struct task_struct *current = (struct task_struct *)bpf_get_current_task();
	struct process_walk w = {};

	/* Start from the thread group leader so that it is visited as a
	 * process (only leaders are on the tasks list). */
	w.start = BPF_CORE_READ(current, group_leader);
	w.cur = w.start;
	bpf_loop(MAX_PROCESSES, walk_process, &w, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
