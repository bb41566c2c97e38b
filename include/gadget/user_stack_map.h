/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: user stack collection.
 *
 * Store the result of gadget_get_user_stack*(ctx, &ustack) in a
 * `struct gadget_user_stack` member; user space reads the addresses from
 * `ig_ustack` and adds string fields with the symbols, resolved through the
 * process' mappings (/proc/<pid>/maps) and the ELF symbol tables of the
 * mapped files.
 *
 * As upstream, stacks are collected only with --collect-ustack (the
 * `collect_ustack` param this header declares); otherwise the struct is
 * zeroed and no stack is shown. Upstream's build-id and OpenTelemetry stack
 * collection (collect_build_id, collect_otel_stack) are not implemented.
 *
 * User stacks are unwound by the kernel through frame pointers: code built
 * without them shows only its innermost frame.
 */

#ifndef __GADGET_USER_STACK_MAP_H
#define __GADGET_USER_STACK_MAP_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/types.h>
#include <gadget/macros.h>
#include <gadget/fnv1a.h>
#include <gadget/core_fixes.bpf.h>

const volatile bool collect_ustack = false;
GADGET_PARAM(collect_ustack);

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

/*
 * ---- inode modification time, across kernel versions --------------------
 * >= 6.11: i_mtime_sec + i_mtime_nsec; 6.6 - 6.10: struct timespec64
 * __i_mtime; older: struct timespec64 i_mtime.
 */
struct inode___gadget_mtime_split {
	time64_t i_mtime_sec;
	__u32 i_mtime_nsec;
} __attribute__((preserve_access_index));

struct inode___gadget_mtime_underscore {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));

struct inode___gadget_mtime_ts {
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline void gadget_inode_get_mtime(struct inode *inode,
						   __u64 *mtime_sec,
						   __u32 *mtime_nsec)
{
	struct inode___gadget_mtime_split *split = (void *)inode;
	struct inode___gadget_mtime_underscore *under = (void *)inode;
	struct inode___gadget_mtime_ts *ts = (void *)inode;

	if (bpf_core_field_exists(split->i_mtime_sec)) {
		*mtime_sec = BPF_CORE_READ(split, i_mtime_sec);
		*mtime_nsec = BPF_CORE_READ(split, i_mtime_nsec);
	} else if (bpf_core_field_exists(under->__i_mtime)) {
		*mtime_sec = BPF_CORE_READ(under, __i_mtime.tv_sec);
		*mtime_nsec = BPF_CORE_READ(under, __i_mtime.tv_nsec);
	} else {
		*mtime_sec = BPF_CORE_READ(ts, i_mtime.tv_sec);
		*mtime_nsec = BPF_CORE_READ(ts, i_mtime.tv_nsec);
	}
}

/*
 * Hash of where the program image sits in this address space: it changes at
 * every execve (ASLR), so user space can tell apart two runs of one binary.
 */
static __always_inline __u32 gadget_get_base_addr_hash(struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	__u32 h = fnv_32a_init();

	fnv_32a_update_u64(&h, (__u64)mm);
	fnv_32a_update_u64(&h, BPF_CORE_READ(mm, start_code));
	fnv_32a_update_u64(&h, BPF_CORE_READ(mm, start_stack));
	return h;
}

/* Fill `ustack` for the current task (zeroed unless --collect-ustack). */
static __always_inline void
__gadget_fill_user_stack(void *ctx, struct gadget_user_stack *ustack)
{
	struct task_struct *task;
	struct inode *inode;
	struct pid *tpid;
	unsigned int level;
	long id;
	__u32 dev;

	__builtin_memset(ustack, 0, sizeof(*ustack));
	if (!collect_ustack)
		return;

	id = bpf_get_stackid(ctx, &ig_ustack,
			     BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP);
	ustack->stack_id = id >= 0 ? (__u32)id : (__u32)-1;
	ustack->boot_timestamp = bpf_ktime_get_boot_ns();

	task = (struct task_struct *)bpf_get_current_task();
	ustack->tgid_level0 = BPF_CORE_READ(task, tgid);

	/* pid numbers seen from the first two pid namespace levels */
	tpid = BPF_CORE_READ(task, thread_pid);
	level = BPF_CORE_READ(tpid, level);
	ustack->pid_level0 = BPF_CORE_READ(tpid, numbers[0].nr);
	ustack->pidns_level0 = BPF_CORE_READ(tpid, numbers[0].ns, ns.inum);
	if (level >= 1) {
		struct upid *second = (struct upid *)&tpid->numbers[1];

		ustack->pid_level1 = BPF_CORE_READ(second, nr);
		ustack->pidns_level1 = BPF_CORE_READ(second, ns, ns.inum);
	}

	inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (!inode)
		return; /* kernel thread: no executable */
	dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ustack->major = dev >> 20;
	ustack->minor = dev & ((1U << 20) - 1);
	ustack->inode = BPF_CORE_READ(inode, i_ino);
	gadget_inode_get_mtime(inode, &ustack->mtime_sec, &ustack->mtime_nsec);
	ustack->base_addr_hash = gadget_get_base_addr_hash(task);
}

/* From a kprobe / uprobe program (ctx: struct pt_regs *). */
static __always_inline void
gadget_get_user_stack_from_kprobe(void *ctx, struct gadget_user_stack *ustack)
{
	__gadget_fill_user_stack(ctx, ustack);
}

/* From a perf_event program (ctx: struct bpf_perf_event_data *). */
static __always_inline void
gadget_get_user_stack_from_perf_event(void *ctx,
				      struct gadget_user_stack *ustack)
{
	__gadget_fill_user_stack(ctx, ustack);
}

/* From a tracepoint or raw tracepoint program. */
static __always_inline void
gadget_get_user_stack_from_tracepoint(void *ctx,
				      struct gadget_user_stack *ustack)
{
	__gadget_fill_user_stack(ctx, ustack);
}

/*
 * Any program type: upstream picks the variant from the context's type
 * (pt_regs or bpf_perf_event_data); without OpenTelemetry stacks all
 * variants are the same here, so every context type is accepted.
 */
static __always_inline void gadget_get_user_stack(void *ctx,
						  struct gadget_user_stack *ustack)
{
	__gadget_fill_user_stack(ctx, ustack);
}

#endif /* __GADGET_USER_STACK_MAP_H */
