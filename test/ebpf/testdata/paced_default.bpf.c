// Test gadget for the default pace of a paced ring (include/gadget/buffer.h, GADGET_RINGBUF_PACE_NS unset):
// each getpgid() sends one record through gadget_reserve_buf/gadget_submit_buf; a steady stream wakes the
// reader once per pace, not per record.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/buffer.h>
#include <gadget/macros.h>

struct event {
	__u32 pid;
	__u32 seq;
};

__u32 seq = 0;

GADGET_TRACER_MAP(events, 256 * 1024);
GADGET_TRACER(pacedflt, events, event);

SEC("tracepoint/syscalls/sys_enter_getpgid")
int ig_pacedflt_getpgid(void *ctx)
{
	struct event *e = gadget_reserve_buf(&events, sizeof(*e));

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->seq = seq++;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
