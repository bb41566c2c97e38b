// Test program: tracepoint -> perf event array.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct pevent {
	__u32 pid;
	__u32 cpu;
	__u64 seq;
};

const volatile __u32 target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pevents SEC(".maps");

__u64 seq = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int igt_pb_getppid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (pid != target_pid)
		return 0;
	struct pevent e = {};
	e.pid = pid;
	e.cpu = bpf_get_smp_processor_id();
	e.seq = __sync_fetch_and_add(&seq, 1);
	bpf_perf_event_output(ctx, &pevents, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
