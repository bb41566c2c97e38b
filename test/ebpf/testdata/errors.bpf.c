// Gadgets that must fail in clear ways: selected with -DCASE_<name> at build time.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;
	__u32 pid;
};

GADGET_TRACER_MAP(events, 1024 * 64);
GADGET_TRACER(errs, events, event);

#if defined(CASE_VERIFIER)
SEC("tracepoint/syscalls/sys_enter_getpid")
int ig_bad(void *ctx)
{
	/* Out-of-bounds read through a map value the verifier cannot prove non-NULL. */
	__u32 *p = (__u32 *)bpf_map_lookup_elem(&events_lost_samples, &(__u32){0});
	return *(p + 1000);
}
#elif defined(CASE_NOTRACEPOINT)
SEC("tracepoint/syscalls/sys_enter_ig_does_not_exist")
int ig_missing(void *ctx)
{
	return 0;
}
#elif defined(CASE_KPROBE)
SEC("kprobe/do_sys_openat2")
int ig_kprobe(void *ctx)
{
	return 0;
}
#endif

char LICENSE[] SEC("license") = "GPL";
