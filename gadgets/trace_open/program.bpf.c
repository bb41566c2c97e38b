// SPDX-License-Identifier: GPL-2.0
/*
 * trace_open: report open(2), openat(2) and openat2(2) calls.
 *
 * The enter tracepoints remember the arguments per thread; the exit
 * tracepoints emit one event with the result. Only tracepoints are used, so
 * the gadget works on kernels without kprobes.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/user_stack_map.h>

#define NAME_MAX 255

/*
 * Member order gives the default column order:
 * COMM PID TID UID GID FD FNAME FLAGS MODE ERROR.
 */
struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	/* Upstream's member order: the columns follow it, and the file name comes last (never cut). */
	gadget_errno error_raw;
	__u32 fd;
	gadget_file_flags flags_raw;
	gadget_file_mode mode_raw;
	/* Zeroed unless --collect-ustack (the header's collect_ustack param). */
	struct gadget_user_stack ustack;
	char fname[NAME_MAX];
	char fpath[GADGET_PATH_MAX];
};

/* Arguments saved at syscall entry, keyed by thread id. */
struct open_args {
	const char *fname;
	__u32 flags;
	__u32 mode;
};

/* Report only failed calls. */
const volatile bool targ_failed = false;
GADGET_PARAM(targ_failed);

/* Resolve the full path of the opened file into `fpath`. */
const volatile bool paths = false;
GADGET_PARAM(paths);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct open_args);
} start SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(open, events, event);

static __always_inline int enter_open(const char *fname, __u64 flags,
				      __u64 mode)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args args = {};

	if (gadget_should_discard_data_current())
		return 0;

	args.fname = fname;
	args.flags = (__u32)flags;
	args.mode = (__u32)mode;
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline int exit_open(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args *args;
	struct event *event;

	args = bpf_map_lookup_elem(&start, &tid);
	if (!args)
		return 0;

	if (targ_failed && ret >= 0)
		goto cleanup;

	event = gadget_reserve_buf(&events, sizeof(*event));
	if (!event)
		goto cleanup;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&event->proc);

	if (ret >= 0) {
		event->fd = (__u32)ret;
		event->error_raw = 0;
	} else {
		event->fd = 0;
		event->error_raw = (__u32)-ret;
	}
	event->flags_raw = args->flags;
	event->mode_raw = args->mode;
	gadget_get_user_stack_from_tracepoint(ctx, &event->ustack);

	if (bpf_probe_read_user_str(event->fname, sizeof(event->fname),
				    args->fname) < 0)
		event->fname[0] = '\0';

	event->fpath[0] = '\0';
	if (paths && ret >= 0) {
		if (read_full_path_of_open_file_fd((int)ret, event->fpath,
						   sizeof(event->fpath)) < 0)
			event->fpath[0] = '\0';
	}

	gadget_submit_buf(ctx, &events, event, sizeof(*event));

cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

#ifndef __TARGET_ARCH_arm64
/* open(2) does not exist on arm64. */
SEC("tracepoint/syscalls/sys_enter_open")
int ig_open_e(struct trace_event_raw_sys_enter *ctx)
{
	return enter_open((const char *)ctx->args[0], ctx->args[1],
			  ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int ig_open_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_open(ctx, ctx->ret);
}
#endif

SEC("tracepoint/syscalls/sys_enter_openat")
int ig_openat_e(struct trace_event_raw_sys_enter *ctx)
{
	return enter_open((const char *)ctx->args[1], ctx->args[2],
			  ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int ig_openat_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_open(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int ig_openat2_e(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return enter_open((const char *)ctx->args[1], how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int ig_openat2_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_open(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
