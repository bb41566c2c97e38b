// SPDX-License-Identifier: GPL-2.0
/*
 * top_file: reads and writes per process and file, drained periodically.
 *
 * Syscall tracepoints of read(2)/write(2) and their p/v variants remember
 * the file descriptor at entry; at exit the byte count returned is added to
 * the entry of (file, thread) in the `stats` hash, which user space drains
 * every interval (GADGET_MAPITER).
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000

enum op {
	READ,
	WRITE,
};

enum type {
	R, /* regular file */
	S, /* socket */
	O, /* other (pipes, devices...) */
};

struct file_id {
	__u64 inode;
	__u32 dev;
	__u32 __pad;
	/* Per thread, like upstream; hidden from the output. */
	__u64 __pid_tgid;
};

struct file_stat {
	struct gadget_process proc;
	__u64 reads;
	gadget_bytes rbytes_raw;
	__u64 writes;
	gadget_bytes wbytes_raw;
	char file[GADGET_PATH_MAX];
	enum type t_raw;
};

/* Count all files, not only regular ones. */
const volatile bool all_files = false;
GADGET_PARAM(all_files);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct file_id);
	__type(value, struct file_stat);
} stats SEC(".maps");

GADGET_MAPITER(file, stats);

struct io_call {
	int fd;
	enum op op;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct io_call);
} calls SEC(".maps");

static const struct file_stat zero_stat = {};

static __always_inline int io_enter(int fd, enum op op)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct io_call c = { .fd = fd, .op = op };

	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline int io_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct file_id key = {};
	struct file_stat *st;
	struct io_call *c;
	struct file *file;
	struct inode *inode;
	umode_t mode;
	enum op op;
	int fd;

	c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	fd = c->fd;
	op = c->op;
	bpf_map_delete_elem(&calls, &tid);

	if (ret <= 0)
		return 0;

	file = get_struct_file_for_fd(fd);
	if (!file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	mode = BPF_CORE_READ(inode, i_mode);
	if (!all_files && (mode & S_IFMT) != S_IFREG)
		return 0;

	key.inode = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.__pid_tgid = pid_tgid;

	st = bpf_map_lookup_elem(&stats, &key);
	if (!st) {
		if (bpf_map_update_elem(&stats, &key, &zero_stat, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&stats, &key))
			return 0;
		st = bpf_map_lookup_elem(&stats, &key);
		if (!st)
			return 0;
		gadget_process_populate(&st->proc);
		if (gadget_read_file_path(file, st->file, sizeof(st->file)) < 0)
			st->file[0] = '\0';
		if ((mode & S_IFMT) == S_IFREG)
			st->t_raw = R;
		else if ((mode & S_IFMT) == S_IFSOCK)
			st->t_raw = S;
		else
			st->t_raw = O;
	}

	if (op == READ) {
		__sync_fetch_and_add(&st->reads, 1);
		__sync_fetch_and_add(&st->rbytes_raw, ret);
	} else {
		__sync_fetch_and_add(&st->writes, 1);
		__sync_fetch_and_add(&st->wbytes_raw, ret);
	}
	return 0;
}

#define IO_PROBES(name, op)                                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                  \
	int ig_topfile_##name##_e(struct trace_event_raw_sys_enter *ctx) \
	{                                                            \
		return io_enter((int)ctx->args[0], op);              \
	}                                                            \
	SEC("tracepoint/syscalls/sys_exit_" #name)                   \
	int ig_topfile_##name##_x(struct trace_event_raw_sys_exit *ctx) \
	{                                                            \
		return io_exit(ctx->ret);                            \
	}

IO_PROBES(read, READ)
IO_PROBES(write, WRITE)
IO_PROBES(pread64, READ)
IO_PROBES(pwrite64, WRITE)
IO_PROBES(readv, READ)
IO_PROBES(writev, WRITE)

char LICENSE[] SEC("license") = "GPL";
