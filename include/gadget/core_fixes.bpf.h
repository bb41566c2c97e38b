/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: CO-RE shims for kernel struct members that were renamed across
 * versions. Each helper picks whichever member the running kernel has.
 */

#ifndef __GADGET_CORE_FIXES_BPF_H
#define __GADGET_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/* task_struct::state became task_struct::__state in Linux 5.14. */
struct task_struct___gadget_old {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __s64 gadget_get_task_state(void *task)
{
	struct task_struct___gadget_old *old = task;

	if (bpf_core_field_exists(old->state))
		return BPF_CORE_READ(old, state);
	return BPF_CORE_READ((struct task_struct *)task, __state);
}

/* Name used by libbpf-tools and older gadgets. */
#define get_task_state(task) gadget_get_task_state(task)

/* request::rq_disk was replaced by request::q->disk in Linux 5.17. */
struct request___gadget_old {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* gendisk of a block request, on old and new kernels. */
static __always_inline struct gendisk *gadget_get_rq_disk(struct request *rq)
{
	struct request___gadget_old *old = (void *)rq;

	if (bpf_core_field_exists(old->rq_disk))
		return BPF_CORE_READ(old, rq_disk);
	return BPF_CORE_READ(rq, q, disk);
}

#endif /* __GADGET_CORE_FIXES_BPF_H */
