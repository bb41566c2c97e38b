// SPDX-License-Identifier: GPL-2.0
/* Test gadget: an upstream-style snapshotter on a BPF iterator, which this kernel cannot run. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/types.h>

struct task_entry {
	gadget_pid pid;
};

GADGET_SNAPSHOTTER(tasks, task_entry, ig_iter_task);

SEC("iter/task")
int ig_iter_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct task_entry e = {};

	if (!task)
		return 0;
	e.pid = task->tgid;
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
