// SPDX-License-Identifier: GPL-2.0
/* deadlock: lock-order edges between pthread mutexes. For every pthread_mutex_lock() a thread calls while it
 * holds other mutexes, one event per held mutex says "mutex1 was held while mutex2 was taken", with the user
 * stacks of both acquisitions (as upstream: a stack id per held mutex, taken when it was locked). The gadget's
 * WASM module (program.c) keeps the graph per process and reports each cycle (a potential deadlock) once. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

/* Mutexes one thread can hold at once that we follow (a power of two: it masks the index). */
#define MAX_HELD 16

struct held_t {
	__u64 mutexes[MAX_HELD];
	/* ig_ustack id of the stack that locked each held mutex (-1: none) */
	__u32 stack_ids[MAX_HELD];
	__u32 count;
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	/* Held while mutex2 was taken. */
	__u64 mutex1;
	__u64 mutex2;
	/* upstream's names: ids of the two acquisitions' stacks in the user stack map (ig_ustack) */
	__u64 mutex1_stack_id;
	__u64 mutex2_stack_id;
	/* the same stacks, symbolised by ig into the string fields mutex1_stack and mutex2_stack */
	struct gadget_user_stack mutex1_stack_raw;
	struct gadget_user_stack mutex2_stack_raw;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct held_t);
} held_mutexes SEC(".maps");

const struct held_t no_mutexes = {};

/* The stack of the lock being taken (too big for the stack next to the loop's state). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gadget_user_stack);
} lock_stack SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(mutex, events, event);

SEC("uprobe/libc:pthread_mutex_lock")
int BPF_UPROBE(ig_mutex_lock, void *mutex)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct gadget_user_stack *stack;
	struct held_t *held;
	__u32 n, zero = 0;

	if (gadget_should_discard_data_current())
		return 0;
	held = bpf_map_lookup_or_try_init(&held_mutexes, &tid, &no_mutexes);
	if (!held)
		return 0;
	stack = bpf_map_lookup_elem(&lock_stack, &zero);
	if (!stack)
		return 0;
	/* Zeroed (no stack) unless --collect-ustack, which this gadget turns on by default. */
	gadget_get_user_stack(ctx, stack);
	n = held->count;
	for (int i = 0; i < MAX_HELD; i++) {
		if (i >= n)
			break;
		__u64 m = held->mutexes[i];
		if (m == (__u64)mutex)
			continue;
		struct event *e = gadget_reserve_buf(&events, sizeof(*e));
		if (!e)
			break;
		e->timestamp_raw = bpf_ktime_get_boot_ns();
		gadget_process_populate(&e->proc);
		e->mutex1 = m;
		e->mutex2 = (__u64)mutex;
		/* Same process and executable: the held lock's stack differs from this one by its id only. */
		e->mutex2_stack_raw = *stack;
		e->mutex1_stack_raw = *stack;
		e->mutex1_stack_raw.stack_id = held->stack_ids[i];
		e->mutex1_stack_id = held->stack_ids[i];
		e->mutex2_stack_id = stack->stack_id;
		gadget_submit_buf(ctx, &events, e, sizeof(*e));
	}
	/* Counted as held from here (a failing lock is rare; its unlock never comes and the entry goes at exit). */
	if (n < MAX_HELD) {
		held->mutexes[n & (MAX_HELD - 1)] = (__u64)mutex;
		held->stack_ids[n & (MAX_HELD - 1)] = stack->inode ? stack->stack_id : (__u32)-1;
		held->count = n + 1;
	}
	return 0;
}

SEC("uprobe/libc:pthread_mutex_unlock")
int BPF_UPROBE(ig_mutex_unlock, void *mutex)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct held_t *held = bpf_map_lookup_elem(&held_mutexes, &tid);
	__u32 n;

	if (!held)
		return 0;
	n = held->count;
	if (n == 0 || n > MAX_HELD)
		return 0;
	for (int i = 0; i < MAX_HELD; i++) {
		if (i >= n)
			break;
		if (held->mutexes[i] != (__u64)mutex)
			continue;
		/* Keep the list dense: the last one takes this slot. */
		held->mutexes[i] = held->mutexes[(n - 1) & (MAX_HELD - 1)];
		held->stack_ids[i] = held->stack_ids[(n - 1) & (MAX_HELD - 1)];
		held->count = n - 1;
		break;
	}
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int ig_mutex_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&held_mutexes, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
