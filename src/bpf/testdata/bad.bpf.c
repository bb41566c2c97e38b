// Test program the verifier must reject: a map value used without a NULL check.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} m SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int igt_bad_prog(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&m, &k);
	*v += 1; /* R0 may be NULL */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
