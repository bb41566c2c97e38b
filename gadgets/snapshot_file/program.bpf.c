// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_file: list the files processes hold open.
 *
 * Upstream uses an `iter/task_file` BPF iterator (ig runs it where the kernel
 * has it); so that kernels without iterators work too, `ig_snap_file` is an
 * on-demand raw tracepoint program (see
 * include/gadget/snapshot.h): ig runs it with BPF_PROG_TEST_RUN; it walks
 * the task list from the calling task (thread group leaders, which own the
 * file table in the usual case) and, for each process, the slots of its
 * file descriptor table, writing one record per open file whose type is in
 * --type-mask.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* one record per file: room for many (~300 bytes each) */
#define GADGET_SNAPSHOT_BUF_SIZE (16 * 1024 * 1024)

#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/mntns.h>
#include <gadget/snapshot.h>
#include <gadget/types.h>

#define MAX_PROCESSES (1 << 20)
#define MAX_FDS_PER_PROCESS (1 << 16)
#define FILE_PATH_LEN 256

/* File types, as upstream numbers them (bits of --type-mask). */
enum file_type {
	REGULAR = 0,
	SOCKET,
	PIPE,
	BPF_MAP,
	DIRECTORY,
	CHAR_DEV,
	BLOCK_DEV,
	SYMLINK,
	OTHER
};

/* Full paths instead of the last path component. */
const volatile bool paths = false;
GADGET_PARAM(paths);

/* Bit i set: report files of type i (default: regular files, directories). */
const volatile __u32 file_type_mask = (1U << REGULAR) | (1U << DIRECTORY);
GADGET_PARAM(file_type_mask);

struct gadget_file {
	gadget_mntns_id mntns_id;
	char comm[TASK_COMM_LEN];
	gadget_pid pid;
	gadget_tid tid;
	__u32 fd;
	enum file_type type_raw;
	char path[FILE_PATH_LEN];
	__u64 inode;
	gadget_file_flags flags_raw;
};

GADGET_SNAPSHOTTER(files, gadget_file, ig_snap_file);

#define IG_S_IFMT 0170000
#define IG_S_IFSOCK 0140000
#define IG_S_IFLNK 0120000
#define IG_S_IFREG 0100000
#define IG_S_IFBLK 0060000
#define IG_S_IFDIR 0040000
#define IG_S_IFCHR 0020000
#define IG_S_IFIFO 0010000

static __always_inline enum file_type file_type_of(struct file *file)
{
	__u32 mode = BPF_CORE_READ(file, f_inode, i_mode) & IG_S_IFMT;

	switch (mode) {
	case IG_S_IFREG:
		return REGULAR;
	case IG_S_IFSOCK:
		return SOCKET;
	case IG_S_IFIFO:
		return PIPE;
	case IG_S_IFDIR:
		return DIRECTORY;
	case IG_S_IFCHR:
		return CHAR_DEV;
	case IG_S_IFBLK:
		return BLOCK_DEV;
	case IG_S_IFLNK:
		return SYMLINK;
	}
	/* anonymous inodes: a BPF map has the "bpf-map" name */
	{
		char name[8] = {};
		const unsigned char *n = BPF_CORE_READ(file, f_path.dentry, d_name.name);

		bpf_probe_read_kernel_str(name, sizeof(name), n);
		if (name[0] == 'b' && name[1] == 'p' && name[2] == 'f' &&
		    name[3] == '-' && name[4] == 'm' && name[5] == 'a' &&
		    name[6] == 'p')
			return BPF_MAP;
	}
	return OTHER;
}

/* The record being built (too big for the stack; bpf_loop's context must be on it). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gadget_file);
} recs SEC(".maps");

/* One process' descriptor table being listed. */
struct fd_walk {
	struct file **fds;
	__u32 max_fds;
};

static long walk_fd(__u32 i, void *ctx)
{
	struct fd_walk *fw = ctx;
	struct gadget_file *rec;
	struct file *file = NULL;
	enum file_type t;
	__u32 zero = 0;

	if (i >= fw->max_fds)
		return 1;
	rec = bpf_map_lookup_elem(&recs, &zero);
	if (!rec)
		return 1;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fw->fds[i]) || !file)
		return 0;
	t = file_type_of(file);
	if (!((1U << t) & file_type_mask))
		return 0;

	rec->fd = i;
	rec->type_raw = t;
	rec->inode = BPF_CORE_READ(file, f_inode, i_ino);
	rec->flags_raw = BPF_CORE_READ(file, f_flags);
	rec->path[0] = '\0';
	if (paths) {
		char *p = get_path_str(&file->f_path);

		if (p)
			bpf_probe_read_kernel_str(rec->path,
						  sizeof(rec->path), p);
	} else {
		const unsigned char *n =
			BPF_CORE_READ(file, f_path.dentry, d_name.name);

		bpf_probe_read_kernel_str(rec->path, sizeof(rec->path), n);
	}
	gadget_snapshot_write(rec, sizeof(*rec));
	return 0;
}

static __always_inline void list_files(struct task_struct *task)
{
	struct fd_walk fw = {};
	struct gadget_file *rec;
	struct fdtable *fdt;
	__u32 zero = 0;
	gadget_mntns_id mntns;
	__u32 uid, gid;

	mntns = gadget_get_task_mntns_id(task);
	uid = BPF_CORE_READ(task, cred, uid.val);
	gid = BPF_CORE_READ(task, cred, gid.val);
	rec = bpf_map_lookup_elem(&recs, &zero);
	if (!rec)
		return;
	BPF_CORE_READ_STR_INTO(&rec->comm, task, comm);
	rec->pid = BPF_CORE_READ(task, tgid);
	rec->tid = BPF_CORE_READ(task, pid);
	if (rec->tid == 0)
		return; /* the idle task */
	if (gadget_should_discard_data(mntns, rec->pid, rec->tid, rec->comm,
				       uid, gid))
		return;
	rec->mntns_id = mntns;

	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return; /* exiting, or a kernel thread without files */
	fw.fds = BPF_CORE_READ(fdt, fd);
	fw.max_fds = BPF_CORE_READ(fdt, max_fds);
	bpf_loop(MAX_FDS_PER_PROCESS, walk_fd, &fw, 0);
}

struct process_walk {
	struct task_struct *start;
	struct task_struct *cur;
};

static long walk_process(__u32 i, void *ctx)
{
	struct process_walk *pw = ctx;
	struct task_struct *task = pw->cur;
	struct list_head *next;

	if (!task)
		return 1;
	list_files(task);
	next = BPF_CORE_READ(task, tasks.next);
	if (!next)
		return 1;
	pw->cur = container_of(next, struct task_struct, tasks);
	return pw->cur == pw->start;
}

SEC("raw_tp")
int ig_snap_file(void *ctx)
{
	struct task_struct *current = (struct task_struct *)bpf_get_current_task();
	struct process_walk pw = {};

	pw.start = BPF_CORE_READ(current, group_leader);
	pw.cur = pw.start;
	bpf_loop(MAX_PROCESSES, walk_process, &pw, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
