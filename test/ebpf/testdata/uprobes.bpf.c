// Test gadget for uprobe attachment: one probe on a library this host does not have, one on a symbol libc
// does not export (both skipped with a warning), and one that works (getpgid in libc, rarely called by anything else), reported as events.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct event {
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const void *gadget_tracer_uprobes___events___event __attribute__((unused));
const struct event *__gadget_tracer_type_uprobes __attribute__((unused));

SEC("uprobe/libig_no_such_library:whatever")
int ig_up_nolib(struct pt_regs *ctx)
{
	return 0;
}

SEC("uprobe/libc:ig_no_such_symbol")
int ig_up_nosym(struct pt_regs *ctx)
{
	return 0;
}

SEC("uprobe/libc:getpgid")
int ig_up_getpgid(struct pt_regs *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
