// Test gadget for variable-length record tails (ebpf.rest.*): each getpgid() call emits its struct followed
// by five bytes ("hello") and, after them, three bytes the struct's data_len leaves out.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 data_len;
};

struct record {
	struct event e;
	char tail[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const void *gadget_tracer_rest___events___event __attribute__((unused));
const struct event *__gadget_tracer_type_rest __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_getpgid")
int ig_rest_getpgid(void *ctx)
{
	struct record r = { .tail = { 'h', 'e', 'l', 'l', 'o', 'x', 'y', 'z' } };

	r.e.pid = bpf_get_current_pid_tgid() >> 32;
	r.e.data_len = 5;
	bpf_ringbuf_output(&events, &r, sizeof(r), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
