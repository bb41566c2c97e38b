/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: user stack collection.
 *
 * Store the result of gadget_get_user_stack(ctx, &ustack) in a
 * `struct gadget_user_stack` member (by convention `xxx_raw`); user space
 * reads the addresses from `ig_ustack` and adds a string field `xxx` with
 * the symbols, resolved through the process' mappings (/proc/<pid>/maps)
 * and the ELF symbol tables of the mapped files.
 *
 * Filled in: stack_id ((u32)-1 when no stack could be taken), tgid_level0,
 * pid_level0, the executable's device and inode (inode 0: no user stack,
 * e.g. kernel threads) and boot_timestamp. The other members stay zero.
 *
 * User stacks are unwound by the kernel through frame pointers: code built
 * without them shows only its innermost frame.
 */

#ifndef __GADGET_USER_STACK_MAP_H
#define __GADGET_USER_STACK_MAP_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/types.h>

#ifndef GADGET_USER_MAX_STACK_DEPTH
#define GADGET_USER_MAX_STACK_DEPTH 127
#endif

#ifndef GADGET_USER_STACK_MAP_MAX_ENTRIES
#define GADGET_USER_STACK_MAP_MAX_ENTRIES 10000
#endif

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_USER_MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, GADGET_USER_STACK_MAP_MAX_ENTRIES);
} ig_ustack SEC(".maps");

/* Fill `ustack` for the current task; `ctx` is the program's context. */
static __always_inline void gadget_get_user_stack(void *ctx,
						  struct gadget_user_stack *ustack)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct file *exe;
	long id;

	__builtin_memset(ustack, 0, sizeof(*ustack));
	ustack->tgid_level0 = pid_tgid >> 32;
	ustack->pid_level0 = (__u32)pid_tgid;
	ustack->boot_timestamp = bpf_ktime_get_boot_ns();
	ustack->stack_id = (__u32)-1;

	exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return; /* kernel thread: no user stack */
	ustack->inode = BPF_CORE_READ(exe, f_inode, i_ino);
	{
		__u32 dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);

		ustack->major = dev >> 20;
		ustack->minor = dev & ((1U << 20) - 1);
	}

	id = bpf_get_stackid(ctx, &ig_ustack, BPF_F_USER_STACK);
	if (id >= 0)
		ustack->stack_id = (__u32)id;
}

#endif /* __GADGET_USER_STACK_MAP_H */
