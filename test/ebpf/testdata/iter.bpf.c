// SPDX-License-Identifier: GPL-2.0
/* Test gadget: an upstream-style snapshotter on a BPF iterator (iter/task), sharing its data source with an
 * on-demand raw_tp program (include/gadget/snapshot.h): one batch holds both programs' records. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/snapshot.h>
#include <gadget/types.h>

struct task_entry {
	gadget_pid pid;
	__u32 run;  /* the iterator's walk number (0 for the first fetch) */
	__u32 kind; /* 1: the iterator, 2: the on-demand program */
};

GADGET_SNAPSHOTTER(tasks, task_entry, ig_iter_task, ig_snap_self);

__u32 walks = 0;

SEC("iter/task")
int ig_iter_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct task_entry e = {};

	if (!task) {
		/* the end of a walk: the next one is a new run */
		__sync_fetch_and_add(&walks, 1);
		return 0;
	}
	if (task->tgid != task->pid)
		return 0;
	e.pid = task->tgid;
	e.run = walks;
	e.kind = 1;
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

SEC("raw_tp")
int ig_snap_self(void *ctx)
{
	struct task_entry e = {};

	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.kind = 2;
	gadget_snapshot_write(&e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
