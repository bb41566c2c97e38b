// Test program for paced rings (include/gadget/buffer.h): each getppid() of target_pid sends `burst` records of
// 1,016 bytes (1 KiB with the ring's header) through gadget_reserve_buf/gadget_submit_buf into a 64 KiB ring, so that
// the 8th record of a burst on an empty ring takes it to 1/8 (a forced wake-up). The pace is 10 s: after the first
// record, the clock never wakes the reader during a test.
#define GADGET_RINGBUF_PACE_NS 10000000000ull
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/buffer.h>

struct event {
	__u32 pid;
	__u32 seq;
	__u8 pad[1008];
};

const volatile __u32 target_pid = 0;
const volatile __u32 burst = 1;
__u32 seq = 0;

GADGET_TRACER_MAP(events, 64 * 1024);

SEC("tracepoint/syscalls/sys_enter_getppid")
int igt_paced_getppid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (pid != target_pid)
		return 0;
	for (int i = 0; i < 16 && i < burst; i++) {
		e = gadget_reserve_buf(&events, sizeof(*e));
		if (!e)
			return 0;
		e->pid = pid;
		e->seq = seq++;
		gadget_submit_buf(ctx, &events, e, sizeof(*e));
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
