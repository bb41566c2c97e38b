// SPDX-License-Identifier: GPL-2.0
/*
 * trace_mount: report mount(2) and umount2(2) calls with their arguments
 * and result.
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

#define FS_NAME_LEN 8
#define DATA_LEN 512

enum mount_op_t {
	MOUNT,
	UMOUNT,
};

/* Mount flags (MS_*); the `_set` suffix makes user space print them as
 * a `|`-separated list. umount2 flags (MNT_FORCE...) reuse the same field. */
enum mount_flags_set : __u64 {
	MS_RDONLY = 0x00000001,
	MS_NOSUID = 0x00000002,
	MS_NODEV = 0x00000004,
	MS_NOEXEC = 0x00000008,
	MS_SYNCHRONOUS = 0x00000010,
	MS_REMOUNT = 0x00000020,
	MS_MANDLOCK = 0x00000040,
	MS_DIRSYNC = 0x00000080,
	MS_NOSYMFOLLOW = 0x00000100,
	MS_NOATIME = 0x00000400,
	MS_NODIRATIME = 0x00000800,
	MS_BIND = 0x00001000,
	MS_MOVE = 0x00002000,
	MS_REC = 0x00004000,
	MS_SILENT = 0x00008000,
	MS_POSIXACL = 0x00010000,
	MS_UNBINDABLE = 0x00020000,
	MS_PRIVATE = 0x00040000,
	MS_SLAVE = 0x00080000,
	MS_SHARED = 0x00100000,
	MS_RELATIME = 0x00200000,
	MS_KERNMOUNT = 0x00400000,
	MS_I_VERSION = 0x00800000,
	MS_STRICTATIME = 0x01000000,
	MS_LAZYTIME = 0x02000000,
};

struct mount_args {
	__u64 ts;
	__u64 flags;
	const char *src;
	const char *dest;
	const char *fs;
	const char *data;
	enum mount_op_t op;
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	gadget_netns_id netns_id;

	gadget_duration delta_raw;
	enum mount_flags_set flags_raw;
	gadget_errno error_raw;
	char fs[FS_NAME_LEN];
	char src[GADGET_PATH_MAX];
	char dest[GADGET_PATH_MAX];
	char data[DATA_LEN];
	enum mount_op_t op_raw;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct mount_args);
} args SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(mount, events, event);

static __always_inline int probe_entry(const char *src, const char *dest,
				       const char *fs, __u64 flags,
				       const char *data, enum mount_op_t op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mount_args a = {};

	if (gadget_should_discard_data_current())
		return 0;

	a.ts = bpf_ktime_get_ns();
	a.flags = flags;
	a.src = src;
	a.dest = dest;
	a.fs = fs;
	a.data = data;
	a.op = op;
	bpf_map_update_elem(&args, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline void read_user_str(char *dst, __u32 size,
					  const char *src)
{
	if (!src || bpf_probe_read_user_str(dst, size, src) < 0)
		dst[0] = '\0';
}

static __always_inline int probe_exit(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct mount_args *a;
	struct event *event;

	a = bpf_map_lookup_elem(&args, &tid);
	if (!a)
		return 0;

	event = gadget_reserve_buf(&events, sizeof(*event));
	if (!event)
		goto cleanup;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&event->proc);
	task = (struct task_struct *)bpf_get_current_task();
	event->netns_id = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	event->delta_raw = bpf_ktime_get_ns() - a->ts;
	event->flags_raw = a->flags;
	event->error_raw = ret < 0 ? (__u32)-ret : 0;
	event->op_raw = a->op;
	read_user_str(event->src, sizeof(event->src), a->src);
	read_user_str(event->dest, sizeof(event->dest), a->dest);
	read_user_str(event->fs, sizeof(event->fs), a->fs);
	read_user_str(event->data, sizeof(event->data), a->data);

	gadget_submit_buf(ctx, &events, event, sizeof(*event));

cleanup:
	bpf_map_delete_elem(&args, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mount")
int ig_mount_e(struct trace_event_raw_sys_enter *ctx)
{
	return probe_entry((const char *)ctx->args[0],
			   (const char *)ctx->args[1],
			   (const char *)ctx->args[2], ctx->args[3],
			   (const char *)ctx->args[4], MOUNT);
}

SEC("tracepoint/syscalls/sys_exit_mount")
int ig_mount_x(struct trace_event_raw_sys_exit *ctx)
{
	return probe_exit(ctx, ctx->ret);
}

/* umount2(2); the syscall is named "umount" in the kernel. */
SEC("tracepoint/syscalls/sys_enter_umount")
int ig_umount_e(struct trace_event_raw_sys_enter *ctx)
{
	return probe_entry(NULL, (const char *)ctx->args[0], NULL,
			   ctx->args[1], NULL, UMOUNT);
}

SEC("tracepoint/syscalls/sys_exit_umount")
int ig_umount_x(struct trace_event_raw_sys_exit *ctx)
{
	return probe_exit(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
