// Test program: a socket filter and a TC classifier counting packets.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

/* pkts[0]: socket filter, pkts[1]: tc */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pkts SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&pkts, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("socket")
int igt_net_sock(struct __sk_buff *skb)
{
	count(0);
	return 0; /* keep nothing on the socket */
}

SEC("tc")
int igt_net_tc(struct __sk_buff *skb)
{
	count(1);
	return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "GPL";
