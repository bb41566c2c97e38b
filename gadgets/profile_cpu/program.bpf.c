// SPDX-License-Identifier: GPL-2.0
/*
 * profile_cpu: sample on-CPU stacks.
 *
 * A perf_event program runs on every CPU at a fixed frequency (software
 * cpu-clock event; see `programs.profiler` in gadget.yaml), records the
 * kernel stack in `ig_kstack` and the user stack in `ig_ustack`, and counts
 * samples per (process, kernel stack, user stack) in `counts`, which user
 * space reads once, when the gadget stops (GADGET_MAPITER with
 * map-fetch-interval 0). The value also keeps the user stack description
 * (struct gadget_user_stack) of the first sample, which user space turns
 * into the `user_stack` field.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

struct key_t {
	struct gadget_process proc;
	/* Sampled kernel instruction pointer (0 in user mode). */
	__u64 kernel_ip;
	gadget_kernel_stack kern_stack_raw;
	/* Stack id in `ig_ustack` (addresses of the user stack), -1 if none. */
	__u32 user_stack_id;
};

struct values {
	/* Number of samples with this key. */
	__u64 samples;
	/* User stack of the first sample (stack id, process, executable). */
	struct gadget_user_stack user_stack_raw;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct key_t);
	__type(value, struct values);
} counts SEC(".maps");

GADGET_MAPITER(samples, counts);

/* Only collect kernel stacks / only user stacks. */
const volatile bool kernel_stacks_only = false;
GADGET_PARAM(kernel_stacks_only);
const volatile bool user_stacks_only = false;
GADGET_PARAM(user_stacks_only);

/* Also count samples taken while the CPU is idle (pid 0). */
const volatile bool include_idle = false;
GADGET_PARAM(include_idle);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct key_t);
} tmp_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct values);
} tmp_values SEC(".maps");

static __always_inline bool is_kernel_addr(__u64 addr)
{
	/* Kernel addresses have the top bit set on x86-64 and arm64. */
	return addr >> 63;
}

SEC("perf_event/profiler")
int ig_prof_cpu(struct bpf_perf_event_data *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct key_t *key;
	struct values *valp, *newv;
	__u64 ip;
	__u32 zero = 0;

	if (!include_idle && (__u32)pid_tgid == 0)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;

	key = bpf_map_lookup_elem(&tmp_key, &zero);
	if (!key)
		return 0;
	__builtin_memset(key, 0, sizeof(*key));

	gadget_process_populate(&key->proc);

	if (user_stacks_only) {
		key->kern_stack_raw = (gadget_kernel_stack)-1;
	} else {
		key->kern_stack_raw = gadget_get_kernel_stack(ctx);
		ip = PT_REGS_IP(&ctx->regs);
		if (is_kernel_addr(ip))
			key->kernel_ip = ip;
	}

	newv = bpf_map_lookup_elem(&tmp_values, &zero);
	if (!newv)
		return 0;
	if (kernel_stacks_only) {
		__builtin_memset(&newv->user_stack_raw, 0,
				 sizeof(newv->user_stack_raw));
		newv->user_stack_raw.stack_id = (__u32)-1;
	} else {
		gadget_get_user_stack(ctx, &newv->user_stack_raw);
	}
	key->user_stack_id = newv->user_stack_raw.stack_id;

	valp = bpf_map_lookup_elem(&counts, key);
	if (valp) {
		__sync_fetch_and_add(&valp->samples, 1);
	} else {
		newv->samples = 1;
		bpf_map_update_elem(&counts, key, newv, BPF_NOEXIST);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
