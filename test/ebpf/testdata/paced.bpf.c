// Test gadget for paced rings (include/gadget/buffer.h): each getpgid() sends one record through
// gadget_reserve_buf/gadget_submit_buf. The pace is 10 s, so after the first record of a run no record wakes
// the reader: ig must read them on its own clock.
// Built with IG_TEST_DEFAULT_PACE defined (test/ebpf/paced.test.ts), it keeps the header's default pace instead.
#ifndef IG_TEST_DEFAULT_PACE
#define GADGET_RINGBUF_PACE_NS 10000000000ull
#endif
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
GADGET_TRACER(paced, events, event);

SEC("tracepoint/syscalls/sys_enter_getpgid")
int ig_paced_getpgid(void *ctx)
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
