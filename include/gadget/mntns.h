/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: mount namespace id of the current task.
 *
 * The mount namespace inode number is how user space maps an event to a
 * container, so any struct field of type gadget_mntns_id should be filled
 * with gadget_get_current_mntns_id().
 */

#ifndef __GADGET_MNTNS_H
#define __GADGET_MNTNS_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/types.h>

/* Mount namespace inode of a given task (0 if it has no nsproxy). */
static __always_inline gadget_mntns_id
gadget_get_task_mntns_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* Mount namespace inode of the task running the program. */
static __always_inline gadget_mntns_id gadget_get_current_mntns_id(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return gadget_get_task_mntns_id(task);
}

/* Deprecated: use gadget_get_current_mntns_id(). */
static __always_inline __attribute__((
	deprecated("use gadget_get_current_mntns_id()"))) gadget_mntns_id
gadget_get_mntns_id(void)
{
	return gadget_get_current_mntns_id();
}

#endif /* __GADGET_MNTNS_H */
