// Test program: raw tracepoint, uprobe and perf_event programs counting into a per-CPU array.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile __u32 target_pid = 0;
const volatile __u64 syscall_nr = 110; /* x86_64 getppid */

/* hits[0]: raw_tp, hits[1]: uprobe, hits[2]: perf_event */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &idx);
	if (v)
		*v += 1;
}

SEC("raw_tp/sys_enter")
int igt_pr_rawtp(struct bpf_raw_tracepoint_args *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	if (ctx->args[1] != syscall_nr)
		return 0;
	hit(0);
	return 0;
}

SEC("uprobe")
int igt_pr_uprobe(struct pt_regs *ctx)
{
	hit(1);
	return 0;
}

SEC("perf_event")
int igt_pr_perf(struct bpf_perf_event_data *ctx)
{
	hit(2);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
