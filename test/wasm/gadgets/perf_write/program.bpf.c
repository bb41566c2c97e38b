// SPDX-License-Identifier: GPL-2.0
/*
 * perf_write: a test gadget for the WASM host API's perf readers. Every write(2) of exactly MARK_LEN bytes to
 * fd 2 becomes one record in perf_out; the WASM guest makes such writes itself (WASI fd_write) and reads them
 * back within the same call.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#define MARK_LEN 3733

struct rec {
	__u32 pid;
	__u32 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_out SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_write")
int ig_pw_write(struct trace_event_raw_sys_enter *ctx)
{
	struct rec r;

	if (ctx->args[0] != 2 || ctx->args[2] != MARK_LEN)
		return 0;
	r.pid = bpf_get_current_pid_tgid() >> 32;
	r.count = (__u32)ctx->args[2];
	bpf_perf_event_output(ctx, &perf_out, BPF_F_CURRENT_CPU, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
