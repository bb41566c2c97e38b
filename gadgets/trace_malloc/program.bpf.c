// SPDX-License-Identifier: GPL-2.0
/*
 * trace_malloc: report libc memory allocations and releases.
 *
 * Uprobes on libc's allocator entry points record the requested size per
 * thread; uretprobes emit the event with the returned address. The section
 * names use the library name "libc": ig resolves it to the libc of each
 * container (inside its mount namespace) when attaching.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

enum memop {
	malloc,
	free,
	calloc,
	realloc,
	realloc_free,
	mmap,
	munmap,
	posix_memalign,
	aligned_alloc,
	valloc,
	memalign,
	pvalloc,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	enum memop operation_raw;
	__u64 addr;
	__u64 size;
	struct gadget_user_stack ustack; /* with --collect-ustack */
};

/* Requested size between an allocation's uprobe and uretprobe. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} sizes SEC(".maps");

/* posix_memalign's output pointer between uprobe and uretprobe. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} memptrs SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(malloc, events, event);

/* A thread killed between uprobe and uretprobe leaves entries behind. */
SEC("tracepoint/sched/sched_process_exit")
int ig_malloc_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&sizes, &tid);
	bpf_map_delete_elem(&memptrs, &tid);
	return 0;
}

static __always_inline void emit(struct pt_regs *ctx, enum memop op,
				 __u64 addr, __u64 size)
{
	struct event *e;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return;

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->operation_raw = op;
	e->addr = addr;
	e->size = size;
	gadget_get_user_stack_from_kprobe(ctx, &e->ustack);
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
}

static __always_inline int alloc_enter(__u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&sizes, &tid, &size, BPF_ANY);
	return 0;
}

static __always_inline int alloc_exit(struct pt_regs *ctx, enum memop op,
				      __u64 addr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *size;
	__u64 sz;

	size = bpf_map_lookup_elem(&sizes, &tid);
	if (!size)
		return 0;
	sz = *size;
	bpf_map_delete_elem(&sizes, &tid);

	emit(ctx, op, addr, sz);
	return 0;
}

static __always_inline int free_enter(struct pt_regs *ctx, enum memop op,
				      __u64 addr)
{
	if (gadget_should_discard_data_current())
		return 0;
	emit(ctx, op, addr, 0);
	return 0;
}

#define ALLOC_RET(func)                                        \
	SEC("uretprobe/libc:" #func)                           \
	int trace_uretprobe_##func(struct pt_regs *ctx)        \
	{                                                      \
		return alloc_exit(ctx, func, PT_REGS_RC(ctx)); \
	}

SEC("uprobe/libc:malloc")
int BPF_UPROBE(trace_uprobe_malloc, size_t size)
{
	return alloc_enter(size);
}
ALLOC_RET(malloc)

SEC("uprobe/libc:free")
int BPF_UPROBE(trace_uprobe_free, void *ptr)
{
	return free_enter(ctx, free, (__u64)ptr);
}

SEC("uprobe/libc:calloc")
int BPF_UPROBE(trace_uprobe_calloc, size_t nmemb, size_t size)
{
	return alloc_enter((__u64)nmemb * size);
}
ALLOC_RET(calloc)

SEC("uprobe/libc:realloc")
int BPF_UPROBE(trace_uprobe_realloc, void *ptr, size_t size)
{
	free_enter(ctx, realloc_free, (__u64)ptr);
	return alloc_enter(size);
}
ALLOC_RET(realloc)

SEC("uprobe/libc:mmap")
int BPF_UPROBE(trace_uprobe_mmap, void *addr, size_t length)
{
	return alloc_enter(length);
}
ALLOC_RET(mmap)

SEC("uprobe/libc:munmap")
int BPF_UPROBE(trace_uprobe_munmap, void *addr)
{
	return free_enter(ctx, munmap, (__u64)addr);
}

SEC("uprobe/libc:posix_memalign")
int BPF_UPROBE(trace_uprobe_posix_memalign, void **memptr, size_t alignment,
	       size_t size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 p = (__u64)memptr;

	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&memptrs, &tid, &p, BPF_ANY);
	return alloc_enter(size);
}

SEC("uretprobe/libc:posix_memalign")
int trace_uretprobe_posix_memalign(struct pt_regs *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *memptr;
	__u64 addr = 0;

	memptr = bpf_map_lookup_elem(&memptrs, &tid);
	if (!memptr)
		return 0;
	/* Returns 0 on success; the address was stored through memptr. */
	if (PT_REGS_RC(ctx) == 0)
		bpf_probe_read_user(&addr, sizeof(addr), (void *)*memptr);
	bpf_map_delete_elem(&memptrs, &tid);

	return alloc_exit(ctx, posix_memalign, addr);
}

SEC("uprobe/libc:aligned_alloc")
int BPF_UPROBE(trace_uprobe_aligned_alloc, size_t alignment, size_t size)
{
	return alloc_enter(size);
}
ALLOC_RET(aligned_alloc)

SEC("uprobe/libc:valloc")
int BPF_UPROBE(trace_uprobe_valloc, size_t size)
{
	return alloc_enter(size);
}
ALLOC_RET(valloc)

SEC("uprobe/libc:memalign")
int BPF_UPROBE(trace_uprobe_memalign, size_t alignment, size_t size)
{
	return alloc_enter(size);
}
ALLOC_RET(memalign)

SEC("uprobe/libc:pvalloc")
int BPF_UPROBE(trace_uprobe_pvalloc, size_t size)
{
	return alloc_enter(size);
}
ALLOC_RET(pvalloc)

char LICENSE[] SEC("license") = "GPL";
