// SPDX-License-Identifier: GPL-2.0
/*
 * trace_signal: report signals sent to processes.
 *
 * By default every generated signal is reported from signal/signal_generate
 * (whoever sends it: kill(2), the kernel on SIGSEGV, SIGCHLD on exit...).
 * With kill-only, only kill(2), tkill(2) and tgkill(2) calls are reported,
 * with the syscall result.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	/* Target process (thread id for tkill/tgkill/signal_generate). */
	__u32 tpid;

	gadget_signal sig_raw;
	gadget_errno error_raw;
};

/* Arguments of a kill-family call, saved at entry. */
struct kill_args {
	__u32 tpid;
	int sig;
};

/* Only report this signal number (0: all). */
const volatile int target_signal = 0;
GADGET_PARAM(target_signal);

/* Only report signals that failed to be delivered / calls that failed. */
const volatile bool failed_only = false;
GADGET_PARAM(failed_only);

/* Only report kill(2), tkill(2) and tgkill(2) calls. */
const volatile bool kill_only = false;
GADGET_PARAM(kill_only);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct kill_args);
} values SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(signal, events, event);

static __always_inline int kill_entry(__u32 tpid, int sig)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct kill_args args = {};

	if (!kill_only)
		return 0;
	if (target_signal && sig != target_signal)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;

	args.tpid = tpid;
	args.sig = sig;
	bpf_map_update_elem(&values, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline int kill_exit(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct kill_args *args;
	struct event *event;

	if (!kill_only)
		return 0;

	args = bpf_map_lookup_elem(&values, &tid);
	if (!args)
		return 0;

	if (failed_only && ret >= 0)
		goto cleanup;

	event = gadget_reserve_buf(&events, sizeof(*event));
	if (!event)
		goto cleanup;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&event->proc);
	event->tpid = args->tpid;
	event->sig_raw = args->sig;
	event->error_raw = ret < 0 ? (__u32)-ret : 0;
	gadget_submit_buf(ctx, &events, event, sizeof(*event));

cleanup:
	bpf_map_delete_elem(&values, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int ig_sig_kill_e(struct trace_event_raw_sys_enter *ctx)
{
	return kill_entry((__u32)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int ig_sig_kill_x(struct trace_event_raw_sys_exit *ctx)
{
	return kill_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int ig_sig_tkill_e(struct trace_event_raw_sys_enter *ctx)
{
	return kill_entry((__u32)ctx->args[0], (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int ig_sig_tkill_x(struct trace_event_raw_sys_exit *ctx)
{
	return kill_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int ig_sig_tgkill_e(struct trace_event_raw_sys_enter *ctx)
{
	return kill_entry((__u32)ctx->args[1], (int)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int ig_sig_tgkill_x(struct trace_event_raw_sys_exit *ctx)
{
	return kill_exit(ctx, ctx->ret);
}

/*
 * Every generated signal. `errno` is set when the signal could not be
 * generated; `result` tells whether it was delivered, ignored, or dropped.
 */
SEC("tracepoint/signal/signal_generate")
int ig_sig_generate(struct trace_event_raw_signal_generate *ctx)
{
	struct event *event;
	int sig = ctx->sig;
	int err = ctx->errno;

	if (kill_only)
		return 0;
	if (target_signal && sig != target_signal)
		return 0;
	if (failed_only && err == 0)
		return 0;
	if (gadget_should_discard_data_current())
		return 0;

	event = gadget_reserve_buf(&events, sizeof(*event));
	if (!event)
		return 0;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&event->proc);
	event->tpid = ctx->pid;
	event->sig_raw = sig;
	event->error_raw = err < 0 ? (__u32)-err : (__u32)err;
	gadget_submit_buf(ctx, &events, event, sizeof(*event));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
