/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: kernel stack collection.
 *
 * Store the result of gadget_get_kernel_stack(ctx) in a gadget_kernel_stack
 * field; user space reads the addresses from `ig_kstack` and adds a string
 * field with the symbols (resolved through /proc/kallsyms).
 */

#ifndef __GADGET_KERNEL_STACK_MAP_H
#define __GADGET_KERNEL_STACK_MAP_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/types.h>

#ifndef GADGET_KERNEL_MAX_STACK_DEPTH
#define GADGET_KERNEL_MAX_STACK_DEPTH 127
#endif

#ifndef GADGET_KERNEL_STACK_MAP_MAX_ENTRIES
#define GADGET_KERNEL_STACK_MAP_MAX_ENTRIES 10000
#endif

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_KERNEL_MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, GADGET_KERNEL_STACK_MAP_MAX_ENTRIES);
} ig_kstack SEC(".maps");

/*
 * Record the current kernel stack and return its id in `ig_kstack`, or -1
 * (as an unsigned value) when it could not be stored.
 */
static __always_inline gadget_kernel_stack gadget_get_kernel_stack(void *ctx)
{
	long id = bpf_get_stackid(ctx, &ig_kstack, 0);

	if (id < 0)
		return (gadget_kernel_stack)-1;
	return (gadget_kernel_stack)id;
}

#endif /* __GADGET_KERNEL_STACK_MAP_H */
