// SPDX-License-Identifier: GPL-2.0
/*
 * map_of_maps: a test gadget for the WASM host API's map-of-maps lookups. The outer array's slot 0 holds
 * mom_inner from load time (libbpf fills the slot); the program only reads through it, so the WASM guest is
 * the one writing the inner map.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} mom_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} mom_outer SEC(".maps") = {
	.values = { [0] = &mom_inner },
};

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_mom_getppid(void *ctx)
{
	__u32 zero = 0, one = 1;
	void *inner = bpf_map_lookup_elem(&mom_outer, &zero);
	__u64 *n;

	if (!inner)
		return 0;
	n = bpf_map_lookup_elem(inner, &one);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
