// SPDX-License-Identifier: GPL-2.0
/*
 * trace_oomkill: report processes killed by the OOM killer.
 *
 * raw_tracepoint/mark_victim runs when the OOM killer (global or cgroup)
 * has chosen its victim, in the context of the task whose allocation
 * triggered it. Raw tracepoint arguments: (struct task_struct *victim,
 * uid_t uid).
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/macros.h>
#include <gadget/mntns.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;

	/*
	 * Killed process. Its mount namespace is used for enrichment: it comes
	 * before fprocess (whose mntns_id is the triggering process') and has
	 * another name, as upstream's.
	 */
	gadget_mntns_id tmntns_id;

	/* Triggering process: its allocation failed and invoked the killer. */
	struct gadget_process fprocess;

	gadget_pid tpid;
	gadget_comm tcomm[TASK_COMM_LEN];

	/* Resident pages (anonymous + file + shmem) of the killed process. */
	__u64 pages;
};

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(oomkill, events, event);

/* mm_struct::rss_stat[] counters (approximate, per-CPU batched). */
static __always_inline __u64 rss_pages(struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__s64 total = 0, v;

	if (!mm)
		return 0;

	v = BPF_CORE_READ(mm, rss_stat[MM_FILEPAGES].count);
	total += v > 0 ? v : 0;
	v = BPF_CORE_READ(mm, rss_stat[MM_ANONPAGES].count);
	total += v > 0 ? v : 0;
	v = BPF_CORE_READ(mm, rss_stat[MM_SHMEMPAGES].count);
	total += v > 0 ? v : 0;
	return total;
}

SEC("raw_tracepoint/mark_victim")
int ig_oom_kill(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *victim = (struct task_struct *)ctx->args[0];
	gadget_mntns_id mntns_id;
	struct event *event;

	mntns_id = gadget_get_task_mntns_id(victim);
	if (gadget_should_discard_mntns_id(mntns_id))
		return 0;

	event = gadget_reserve_buf(&events, sizeof(*event));
	if (!event)
		return 0;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&event->fprocess);

	event->tmntns_id = mntns_id;
	event->tpid = BPF_CORE_READ(victim, tgid);
	BPF_CORE_READ_STR_INTO(&event->tcomm, victim, comm);
	event->pages = rss_pages(victim);

	gadget_submit_buf(ctx, &events, event, sizeof(*event));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
