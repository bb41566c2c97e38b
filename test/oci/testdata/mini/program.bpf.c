// Minimal gadget for the image tests: one tracer data source and one param, written without the gadget
// headers (only vmlinux.h and libbpf's helpers) so the OCI tests do not depend on include/gadget/*.h.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

typedef __u64 gadget_mntns_id;
typedef __u64 gadget_timestamp;

struct endpoint {
	__u32 addr;
	__u16 port;
};

struct event {
	gadget_timestamp timestamp_raw;
	gadget_mntns_id mntns_id;
	__u32 pid;
	char comm[16];
	struct endpoint dst;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* what GADGET_TRACER(exec, events, event) and GADGET_PARAM(targ_min_pid) expand to */
const void *gadget_tracer_exec___events___event __attribute__((unused));
const struct event *__gadget_tracer_type_exec __attribute__((unused));

const volatile __u32 targ_min_pid = 0;
const void *gadget_param_targ_min_pid __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_execve")
int ig_test_execve(void *ctx)
{
	struct event *e;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (pid < targ_min_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
