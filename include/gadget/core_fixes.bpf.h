/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: CO-RE shims for kernel structures and tracepoints that changed across
 * versions. Each helper asks the running kernel's BTF (bpf_core_*_exists)
 * which variant it has; the other branch is dead code the verifier drops.
 * Names follow upstream Inspektor Gadget (and libbpf-tools before it).
 */

#ifndef __GADGET_CORE_FIXES_BPF_H
#define __GADGET_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/*
 * A call to helper 0xbad2310 is what libbpf writes in place of an instruction
 * whose CO-RE relocation failed ("bad relo"). Calling it on a path the kernel
 * cannot support makes the verifier reject the program with that well-known
 * message ("invalid func unknown#195896080") when the path is reachable, and
 * costs nothing when the verifier proves it dead.
 */
static void (*bpf_core_unreachable)(void) = (void *)0xbad2310;

/* ---- task_struct::state became __state in Linux 5.14 -------------------- */

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

#define get_task_state(task) gadget_get_task_state(task)

/* ---- bio::bi_disk was replaced by bio::bi_bdev->bd_disk in Linux 5.12 ---- */

struct bio___gadget_old {
	struct gendisk *bi_disk;
} __attribute__((preserve_access_index));

struct bio___gadget_new {
	struct block_device *bi_bdev;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *get_gendisk(void *bio)
{
	struct bio___gadget_new *b = bio;

	if (bpf_core_field_exists(b->bi_bdev))
		return BPF_CORE_READ(b, bi_bdev, bd_disk);
	return BPF_CORE_READ((struct bio___gadget_old *)bio, bi_disk);
}

/* ---- block_rq_complete's record became block_rq_completion (Linux 6.8) --- */

struct trace_event_raw_block_rq_completion___gadget {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

static __always_inline bool has_block_rq_completion(void)
{
	return bpf_core_type_exists(
		struct trace_event_raw_block_rq_completion___gadget);
}

/* ---- request::rq_disk was replaced by request::q->disk in Linux 5.17 ----- */

struct request_queue___gadget {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

struct request___gadget {
	struct request_queue___gadget *q;
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* gendisk of a block request, on old and new kernels. */
static __always_inline struct gendisk *get_disk(void *request)
{
	struct request___gadget *r = request;

	if (bpf_core_field_exists(r->rq_disk))
		return BPF_CORE_READ(r, rq_disk);
	return BPF_CORE_READ(r, q, disk);
}

/* Older ig name. */
#define gadget_get_rq_disk(rq) get_disk(rq)

/* ---- vfs_*() gained a leading mnt_userns argument in Linux 5.12 ---------- */

struct renamedata___gadget {
	struct user_namespace *old_mnt_userns;
} __attribute__((preserve_access_index));

static __always_inline bool renamedata_has_old_mnt_userns_field(void)
{
	return bpf_core_field_exists(struct renamedata___gadget,
				     old_mnt_userns);
}

/* ---- kmem tracepoints: kfree / kmem_cache_free got own records (6.1) ---- */

struct trace_event_raw_kfree___gadget {
	const void *ptr;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_cache_free___gadget {
	const void *ptr;
} __attribute__((preserve_access_index));

static __always_inline bool has_kfree(void)
{
	return bpf_core_type_exists(struct trace_event_raw_kfree___gadget);
}

static __always_inline bool has_kmem_cache_free(void)
{
	return bpf_core_type_exists(
		struct trace_event_raw_kmem_cache_free___gadget);
}

/*
 * ---- tcp:tcp_retransmit_skb got its own record (with "err") ------------
 * Older kernels share trace_event_raw_tcp_event_sk_skb with other tcp
 * tracepoints; newer ones (and some distribution kernels) have
 * trace_event_raw_tcp_retransmit_skb. Both start with skbaddr, skaddr.
 */
struct trace_event_raw_tcp_retransmit_skb___gadget {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

/* the shared record of older kernels (vmlinux.h may not have it) */
struct trace_event_raw_tcp_event_sk_skb___gadget {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
} __attribute__((preserve_access_index));

static __always_inline const struct sk_buff *
gadget_get_tcp_retransmit_skb_skbaddr(void *ctx)
{
	if (bpf_core_type_exists(
		    struct trace_event_raw_tcp_retransmit_skb___gadget))
		return BPF_CORE_READ(
			(struct trace_event_raw_tcp_retransmit_skb___gadget *)ctx,
			skbaddr);
	return BPF_CORE_READ(
		(struct trace_event_raw_tcp_event_sk_skb___gadget *)ctx,
		skbaddr);
}

static __always_inline const struct sock *
gadget_get_tcp_retransmit_skb_skaddr(void *ctx)
{
	if (bpf_core_type_exists(
		    struct trace_event_raw_tcp_retransmit_skb___gadget))
		return BPF_CORE_READ(
			(struct trace_event_raw_tcp_retransmit_skb___gadget *)ctx,
			skaddr);
	return BPF_CORE_READ(
		(struct trace_event_raw_tcp_event_sk_skb___gadget *)ctx,
		skaddr);
}

/*
 * ---- inode change time --------------------------------------------------
 * Linux < 6.6: struct timespec64 i_ctime; 6.6 - 6.10: __i_ctime;
 * >= 6.11: i_ctime_sec + i_ctime_nsec. Bit 31 of the nanoseconds may carry
 * the "ctime was queried" flag (multigrain timestamps) and is masked off.
 */
struct inode___gadget_ctime_split {
	time64_t i_ctime_sec;
	__u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

struct inode___gadget_ctime_underscore {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___gadget_ctime_ts {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

#define GADGET_CTIME_QUERIED_BIT (1U << 31)

static __always_inline __u64
gadget_get_ctime_nanosec_from_inode(struct inode *inode)
{
	struct inode___gadget_ctime_split *split = (void *)inode;
	struct inode___gadget_ctime_underscore *under = (void *)inode;
	struct inode___gadget_ctime_ts *ts = (void *)inode;
	__s64 sec;
	__u32 nsec;

	if (bpf_core_field_exists(split->i_ctime_sec)) {
		sec = BPF_CORE_READ(split, i_ctime_sec);
		nsec = BPF_CORE_READ(split, i_ctime_nsec);
	} else if (bpf_core_field_exists(under->__i_ctime)) {
		sec = BPF_CORE_READ(under, __i_ctime.tv_sec);
		nsec = BPF_CORE_READ(under, __i_ctime.tv_nsec);
	} else {
		sec = BPF_CORE_READ(ts, i_ctime.tv_sec);
		nsec = BPF_CORE_READ(ts, i_ctime.tv_nsec);
	}
	if (sec < 0)
		return 0;
	return (__u64)sec * 1000000000ULL + (nsec & ~GADGET_CTIME_QUERIED_BIT);
}

/*
 * ---- syscall number and arguments from the pt_regs of a syscall ---------
 * pt_regs differs per architecture, so this is decided at compile time.
 */
static __always_inline long gadget_get_syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return (long)BPF_CORE_READ(regs, syscallno);
#else
	return -1;
#endif
}

/* Argument `n` (1 to 6) of the syscall whose registers are `regs`; 0 else. */
static __always_inline unsigned long
gadget_get_syscall_arg(struct pt_regs *regs, unsigned int n)
{
	switch (n) {
	case 1:
		return PT_REGS_PARM1_CORE_SYSCALL(regs);
	case 2:
		return PT_REGS_PARM2_CORE_SYSCALL(regs);
	case 3:
		return PT_REGS_PARM3_CORE_SYSCALL(regs);
	case 4:
		return PT_REGS_PARM4_CORE_SYSCALL(regs);
	case 5:
		return PT_REGS_PARM5_CORE_SYSCALL(regs);
	case 6:
		return PT_REGS_PARM6_CORE_SYSCALL(regs);
	default:
		return 0;
	}
}

#endif /* __GADGET_CORE_FIXES_BPF_H */
