// SPDX-License-Identifier: GPL-2.0
/*
 * trace_init_module: report kernel module loading through init_module(2)
 * and finit_module(2), with the parameters passed and the result.
 *
 * The per-syscall tracepoints (syscalls/sys_enter_init_module...) only
 * exist on kernels built with CONFIG_MODULES. To work everywhere (and to
 * report attempts on kernels without module support, which fail with
 * ENOSYS), the gadget uses raw_tracepoint/sys_enter and sys_exit and
 * selects the two syscall numbers.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define PARAM_VALUES_MAX 256

#if defined(__TARGET_ARCH_x86)
#define NR_init_module 175
#define NR_finit_module 313
#elif defined(__TARGET_ARCH_arm64)
#define NR_init_module 105
#define NR_finit_module 273
#else
#error "unsupported architecture"
#endif

enum syscall_type {
	init_module,
	finit_module,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	enum syscall_type syscall_raw;
	char param_values[PARAM_VALUES_MAX];
	gadget_errno error_raw;

	/* init_module: size of the module image passed in memory. */
	__u64 len;

	/* finit_module: file descriptor, flags and path of the module file. */
	__s32 fd;
	__u32 flags;
	char filepath[GADGET_PATH_MAX];
};

/* Events being built between syscall entry and exit, keyed by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct event);
} pending SEC(".maps");

static const struct event empty_event = {};

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(init, events, event);

static __always_inline struct event *start_event(enum syscall_type type,
						 const char *param_values)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e;

	if (gadget_should_discard_data_current())
		return NULL;

	if (bpf_map_update_elem(&pending, &tid, &empty_event, BPF_ANY))
		return NULL;
	e = bpf_map_lookup_elem(&pending, &tid);
	if (!e)
		return NULL;

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&e->proc);
	e->syscall_raw = type;
	if (!param_values ||
	    bpf_probe_read_user_str(e->param_values, sizeof(e->param_values),
				    param_values) < 0)
		e->param_values[0] = '\0';
	return e;
}

/* raw sys_enter arguments: (struct pt_regs *regs, long id) */
SEC("raw_tracepoint/sys_enter")
int ig_init_module_e(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long id = (long)ctx->args[1];
	struct event *e;

	if (id == NR_init_module) {
		e = start_event(init_module,
				(const char *)PT_REGS_PARM3_CORE_SYSCALL(regs));
		if (e)
			e->len = PT_REGS_PARM2_CORE_SYSCALL(regs);
		return 0;
	}

	if (id == NR_finit_module) {
		int fd = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);

		e = start_event(finit_module,
				(const char *)PT_REGS_PARM2_CORE_SYSCALL(regs));
		if (!e)
			return 0;
		e->fd = fd;
		e->flags = (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs);
		/* Files only; memfd and similar resolve to a pseudo path. */
		if (read_full_path_of_open_file_fd(fd, e->filepath,
						   sizeof(e->filepath)) <= 0)
			e->filepath[0] = '\0';
	}
	return 0;
}

static __always_inline int exit_module(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e;

	e = bpf_map_lookup_elem(&pending, &tid);
	if (!e)
		return 0;

	e->error_raw = ret < 0 ? (__u32)-ret : 0;
	gadget_output_buf(ctx, &events, e, sizeof(*e));
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

/* raw sys_exit arguments: (struct pt_regs *regs, long ret) */
SEC("raw_tracepoint/sys_exit")
int ig_init_module_x(struct bpf_raw_tracepoint_args *ctx)
{
	return exit_module(ctx, (long)ctx->args[1]);
}

char LICENSE[] SEC("license") = "GPL";
