/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: file system helpers.
 *
 * bpf_d_path() is only allowed in a few program types (fentry, LSM), so the
 * helpers here rebuild a path by walking dentries and mounts, like d_path()
 * does, with a bounded number of components. The result is relative to the
 * root of the mount namespace the file lives in (what a process inside a
 * container would see), and is truncated at the start when longer than
 * GADGET_PATH_MAX.
 */

#ifndef __GADGET_FILESYSTEM_H
#define __GADGET_FILESYSTEM_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#ifndef GADGET_PATH_MAX
#define GADGET_PATH_MAX 512
#endif

/* Maximum number of path components (and mount crossings) walked. */
#ifndef GADGET_PATH_MAX_COMPONENTS
#define GADGET_PATH_MAX_COMPONENTS 64
#endif

#if (GADGET_PATH_MAX & (GADGET_PATH_MAX - 1)) != 0
#error "GADGET_PATH_MAX must be a power of two"
#endif

/* Defined in include/uapi/linux/magic.h */
#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif

/*
 * Scratch space: the path is built backwards ending at GADGET_PATH_MAX - 1;
 * the second half only exists so the verifier can prove every copy stays in
 * bounds.
 */
struct gadget_path_scratch {
	char buf[GADGET_PATH_MAX * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gadget_path_scratch);
} gadget_path_bufs SEC(".maps");

#define __GADGET_PATH_MASK (GADGET_PATH_MAX - 1)

/* State of one path walk, shared between iterations. */
struct __gadget_path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	__u32 off; /* start of the string built so far in buf[] */
};

/*
 * One step of the walk: prepend the name of `w->dentry`, or cross to the
 * parent mount. Returns 1 when the walk is over.
 */
static __always_inline long __gadget_path_step(struct __gadget_path_walk *w)
{
	struct gadget_path_scratch *s;
	struct dentry *dentry = w->dentry, *parent, *mnt_root;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt, *mnt_parent;
	const unsigned char *name;
	__u32 zero = 0, off = w->off, len;

	s = bpf_map_lookup_elem(&gadget_path_bufs, &zero);
	if (!s || !dentry)
		return 1;

	/* Locals only: BPF_CORE_READ would relocate w->... accesses too. */
	mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	parent = BPF_CORE_READ(dentry, d_parent);

	if (dentry == mnt_root || dentry == parent) {
		/* Top of this mount: continue from its mount point. */
		mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		if (dentry != mnt_root || !mnt_parent || mnt_parent == mnt)
			return 1; /* reached the namespace root */
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = &mnt_parent->mnt;
		return 0;
	}

	name = BPF_CORE_READ(dentry, d_name.name);
	len = BPF_CORE_READ(dentry, d_name.len);
	len &= __GADGET_PATH_MASK;
	off &= __GADGET_PATH_MASK;
	if (len + 1 > off)
		return 1; /* too long: keep the tail we already have */

	off -= len;
	bpf_probe_read_kernel(&s->buf[off & __GADGET_PATH_MASK], len, name);
	off -= 1;
	s->buf[off & __GADGET_PATH_MASK] = '/';

	w->off = off;
	w->dentry = parent;
	return 0;
}

static long __gadget_path_loop_cb(__u32 index, void *ctx)
{
	return __gadget_path_step(ctx);
}

/*
 * Return the absolute path of `path` (a pointer to a struct path in kernel
 * memory or on the stack) as a NUL-terminated string in a per-CPU buffer,
 * or NULL on error. The buffer is reused by the next call on this CPU: copy
 * the string out (bpf_probe_read_kernel_str) before calling again.
 */
static __always_inline char *get_path_str(const struct path *path)
{
	struct gadget_path_scratch *s;
	struct __gadget_path_walk w = {};
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&gadget_path_bufs, &zero);
	if (!s)
		return NULL;

	w.dentry = BPF_CORE_READ(path, dentry);
	w.vfsmnt = BPF_CORE_READ(path, mnt);
	w.mnt = container_of(w.vfsmnt, struct mount, mnt);
	w.off = GADGET_PATH_MAX - 1;
	s->buf[GADGET_PATH_MAX - 1] = '\0';

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop)) {
		/* Linux >= 5.17: the verifier checks the callback once. */
		bpf_loop(GADGET_PATH_MAX_COMPONENTS, __gadget_path_loop_cb, &w,
			 0);
	} else {
		/* Older kernels: a short unrolled walk. */
#pragma unroll
		for (int i = 0; i < 16; i++) {
			if (__gadget_path_step(&w))
				break;
		}
	}

	if (w.off >= GADGET_PATH_MAX - 1) {
		/* Nothing was added: the path is the root itself. */
		w.off = GADGET_PATH_MAX - 2;
		s->buf[GADGET_PATH_MAX - 2] = '/';
	}

	return &s->buf[w.off & __GADGET_PATH_MASK];
}

/* struct file * for file descriptor `fd` of `task`, or NULL. */
static __always_inline struct file *
gadget_get_task_file_for_fd(struct task_struct *task, int fd)
{
	struct file **fds;
	struct file *file = NULL;
	unsigned int max_fds;

	if (fd < 0)
		return NULL;

	fds = BPF_CORE_READ(task, files, fdt, fd);
	max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned int)fd >= max_fds || !fds)
		return NULL;

	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* struct file * for file descriptor `fd` of the current task, or NULL. */
static __always_inline struct file *get_struct_file_for_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return gadget_get_task_file_for_fd(task, fd);
}

/*
 * Copy the absolute path of the current task's file descriptor `fd` into
 * `buf`. Returns the number of bytes copied including the NUL, or a negative
 * value on error.
 */
static __always_inline long read_full_path_of_open_file_fd(int fd, char *buf,
							   __u64 buf_len)
{
	struct file *file = get_struct_file_for_fd(fd);
	char *str;

	if (!file)
		return -1;

	str = get_path_str(&file->f_path);
	if (!str)
		return -1;

	return bpf_probe_read_kernel_str(buf, buf_len, str);
}

/* Same as above for a struct file pointer. */
static __always_inline long gadget_read_file_path(struct file *file, char *buf,
						  __u64 buf_len)
{
	char *str;

	if (!file)
		return -1;

	str = get_path_str(&file->f_path);
	if (!str)
		return -1;

	return bpf_probe_read_kernel_str(buf, buf_len, str);
}

/* Local view of overlayfs' inode, matched by CO-RE against the kernel's. */
struct ovl_inode___gadget {
	struct inode vfs_inode;
	struct dentry *__upperdentry;
} __attribute__((preserve_access_index));

/*
 * True if `inode` belongs to an overlay file system and has a copy in the
 * upper (writable) layer, i.e. the file was created or modified in the
 * container rather than coming from the image.
 */
static __always_inline bool gadget_inode_has_upper_layer(struct inode *inode)
{
	struct dentry *upper = NULL;
	unsigned long magic;
	void *base;

	if (!inode)
		return false;

	magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if (magic != OVERLAYFS_SUPER_MAGIC)
		return false;

	if (bpf_core_type_exists(struct ovl_inode___gadget)) {
		base = (void *)inode -
		       bpf_core_field_offset(struct ovl_inode___gadget, vfs_inode);
		bpf_probe_read_kernel(
			&upper, sizeof(upper),
			base + bpf_core_field_offset(struct ovl_inode___gadget,
						     __upperdentry));
	} else {
		/* __upperdentry directly follows the embedded vfs inode. */
		bpf_probe_read_kernel(&upper, sizeof(upper),
				      (void *)inode +
					      bpf_core_type_size(struct inode));
	}
	return upper != NULL;
}

#endif /* __GADGET_FILESYSTEM_H */
