// SPDX-License-Identifier: GPL-2.0
/*
 * trace_exec: report execve(2) and execveat(2) calls.
 *
 * - sys_enter_execve(at) captures the arguments into a per-thread entry;
 * - raw_tracepoint/sched_process_exec (successful exec) completes the entry
 *   with the new process identity, executable paths and overlay layer
 *   information, then emits it;
 * - sys_exit_execve(at) emits failed calls (unless ignore-failed) and
 *   always removes the per-thread entry.
 *
 * Events are variable-sized: only the used part of `args` is sent.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define GADGET_NO_BUF_RESERVE
#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define ARGSIZE 128
#define TOTAL_MAX_ARGS 60
#define DEFAULT_MAXARGS 20
#define FULL_MAX_ARGS_ARR (TOTAL_MAX_ARGS * ARGSIZE)
#define LAST_ARG (FULL_MAX_ARGS_ARR - ARGSIZE)

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	gadget_uid loginuid;
	__u32 sessionid;
	gadget_errno error_raw;
	int args_count;
	/* controlling terminal: index within its driver, and device number (0:0 for none) */
	int tty;
	unsigned int tty_major;
	unsigned int tty_minor;
	/* executable / exec'd file on the mount at the root of the process (not a bind mount) */
	bool from_rootfs;
	bool file_from_rootfs;
	bool upper_layer;
	bool fupper_layer;
	bool pupper_layer;
	unsigned int args_size;
	/* device and inode of the exec'd file */
	unsigned int dev_major;
	unsigned int dev_minor;
	unsigned long inode;
	/* inode change times (ns since the epoch): executable, exec'd file, parent's executable */
	__u64 ctime;
	__u64 fctime;
	__u64 pctime;
	char exepath[GADGET_PATH_MAX];
	char parent_exepath[GADGET_PATH_MAX]; /* with --paths */
	char file[GADGET_PATH_MAX];
	char cwd[GADGET_PATH_MAX];
	char args[FULL_MAX_ARGS_ARR];
};

#define BASE_EVENT_SIZE ((size_t)(&((struct event *)0)->args))
#define EVENT_SIZE(e) (BASE_EVENT_SIZE + (e)->args_size)

/* Do not report exec calls that failed. */
const volatile bool ignore_failed = true;
GADGET_PARAM(ignore_failed);

/* Also resolve the working directory of the process (cwd). */
const volatile bool paths = false;
GADGET_PARAM(paths);

/* Maximum number of arguments captured (up to 60). */
const volatile int max_args = DEFAULT_MAXARGS;

static const struct event empty_event = {};

/* tty_devnum(): MKDEV(driver->major, driver->minor_start) + index */
static __always_inline void read_tty(struct event *event,
				     struct task_struct *task)
{
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	struct tty_driver *drv;

	if (!tty)
		return;
	drv = BPF_CORE_READ(tty, driver);
	if (!drv)
		return;
	event->tty = BPF_CORE_READ(tty, index);
	event->tty_major = BPF_CORE_READ(drv, major);
	event->tty_minor = BPF_CORE_READ(drv, minor_start) + event->tty;
}

/* Is `file` on the mount that is the task's root (its container's rootfs)? */
static __always_inline bool on_root_mount(struct task_struct *task,
					  struct file *file)
{
	return file && BPF_CORE_READ(file, f_path.mnt) ==
			       BPF_CORE_READ(task, fs, root.mnt);
}

/*
 * In-flight exec calls keyed by the thread id that called execve. After a
 * successful exec from a non-leader thread, the process continues as the
 * thread group leader: sched_process_exec gives us the old thread id.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(exec, events, event);

static __always_inline int enter_exec(const char *filename,
				      const char *const *argv)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct event *event;
	const char *argp;
	int ret, i;

	if (gadget_should_discard_data_current())
		return 0;

	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_NOEXIST))
		return 0;

	event = bpf_map_lookup_elem(&execs, &tid);
	if (!event)
		return 0;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	task = (struct task_struct *)bpf_get_current_task();
	event->loginuid = BPF_CORE_READ(task, loginuid.val);
	event->sessionid = BPF_CORE_READ(task, sessionid);

	if (paths) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);
		char *cwd = get_path_str(&fs->pwd);

		if (cwd)
			bpf_probe_read_kernel_str(event->cwd,
						  sizeof(event->cwd), cwd);
	}

	/* argv[0] is replaced by the file name, as upstream does. */
	ret = bpf_probe_read_user_str(event->args, ARGSIZE, filename);
	if (ret < 0 || ret > ARGSIZE) {
		event->args[0] = '\0';
		ret = 1;
	}
	event->args_size = ret;
	event->args_count = 1;

	for (i = 1; i < TOTAL_MAX_ARGS && i < max_args; i++) {
		if (bpf_probe_read_user(&argp, sizeof(argp), &argv[i]) || !argp)
			return 0;

		if (event->args_size > LAST_ARG)
			return 0;

		ret = bpf_probe_read_user_str(&event->args[event->args_size],
					      ARGSIZE, argp);
		if (ret < 0 || ret > ARGSIZE)
			return 0;

		event->args_count++;
		event->args_size += ret;
	}

	/* Count one more when argv goes on beyond what we captured. */
	if (bpf_probe_read_user(&argp, sizeof(argp), &argv[max_args]) == 0 &&
	    argp)
		event->args_count++;

	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int ig_execve_e(struct trace_event_raw_sys_enter *ctx)
{
	return enter_exec((const char *)ctx->args[0],
			  (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int ig_execveat_e(struct trace_event_raw_sys_enter *ctx)
{
	return enter_exec((const char *)ctx->args[1],
			  (const char *const *)ctx->args[2]);
}

static __always_inline void emit(void *ctx, struct event *event)
{
	__u64 len = EVENT_SIZE(event);

	if (len <= sizeof(*event))
		gadget_output_buf(ctx, &events, event, len);
}

/*
 * Successful exec. Raw tracepoint arguments:
 * (struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
 */
SEC("raw_tracepoint/sched_process_exec")
int ig_sched_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	__u32 old_tid = (__u32)ctx->args[1];
	struct task_struct *parent;
	struct file *exe_file, *bprm_file;
	const char *filename;
	struct event *event;

	event = bpf_map_lookup_elem(&execs, &old_tid);
	if (!event)
		return 0;

	gadget_process_populate(&event->proc);
	event->error_raw = 0;
	read_tty(event, task);

	exe_file = BPF_CORE_READ(task, mm, exe_file);
	if (exe_file) {
		struct inode *ino = BPF_CORE_READ(exe_file, f_inode);

		event->upper_layer = gadget_inode_has_upper_layer(ino);
		event->ctime = gadget_get_ctime_nanosec_from_inode(ino);
		event->from_rootfs = on_root_mount(task, exe_file);
		if (gadget_read_file_path(exe_file, event->exepath,
					  sizeof(event->exepath)) < 0)
			event->exepath[0] = '\0';
	}

	bprm_file = BPF_CORE_READ(bprm, file);
	if (bprm_file) {
		struct inode *ino = BPF_CORE_READ(bprm_file, f_inode);
		__u32 dev = BPF_CORE_READ(ino, i_sb, s_dev);

		event->fupper_layer = gadget_inode_has_upper_layer(ino);
		event->fctime = gadget_get_ctime_nanosec_from_inode(ino);
		event->file_from_rootfs = on_root_mount(task, bprm_file);
		event->dev_major = dev >> 20;
		event->dev_minor = dev & ((1U << 20) - 1);
		event->inode = BPF_CORE_READ(ino, i_ino);
	}

	/* The file name given to exec (the script for interpreted files). */
	filename = BPF_CORE_READ(bprm, filename);
	if (bpf_probe_read_kernel_str(event->file, sizeof(event->file),
				      filename) < 0)
		event->file[0] = '\0';

	parent = BPF_CORE_READ(task, real_parent);
	exe_file = BPF_CORE_READ(parent, mm, exe_file);
	if (exe_file) {
		struct inode *ino = BPF_CORE_READ(exe_file, f_inode);

		event->pupper_layer = gadget_inode_has_upper_layer(ino);
		event->pctime = gadget_get_ctime_nanosec_from_inode(ino);
		if (paths && gadget_read_file_path(exe_file, event->parent_exepath,
						   sizeof(event->parent_exepath)) < 0)
			event->parent_exepath[0] = '\0';
	}

	emit(ctx, event);
	bpf_map_delete_elem(&execs, &old_tid);
	return 0;
}

/*
 * Called for every exec, successful or not. An entry still present here
 * means the exec failed (successful ones were removed above).
 */
static __always_inline int exit_exec(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *event;

	event = bpf_map_lookup_elem(&execs, &tid);
	if (!event)
		return 0;

	if (!ignore_failed) {
		gadget_process_populate(&event->proc);
		event->error_raw = (__u32)-ret;
		emit(ctx, event);
	}

	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int ig_execve_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_exec(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int ig_execveat_x(struct trace_event_raw_sys_exit *ctx)
{
	return exit_exec(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
