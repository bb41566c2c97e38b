/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: well-known types for gadget event structs.
 *
 * User space recognises these typedef and struct names in BTF and attaches
 * behaviour to the fields that use them (formatting, enrichment, templates,
 * metrics). The names and member layouts are part of the gadget ABI: keep them
 * in step with the user-space type table.
 */

#ifndef __GADGET_TYPES_H
#define __GADGET_TYPES_H

/*
 * vmlinux.h defines bool/true/false; gadgets built on <linux/types.h> instead
 * (socket filters, TC) get them from the C library header.
 */
#ifndef __VMLINUX_H__
#include <stdbool.h>
#endif

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* Value meaning "no id" for uid / gid style filters. */
#define GADGET_INVALID_ID ((__u32)-1)

/* ---- Network endpoints ------------------------------------------------ */

/* An IPv4 or IPv6 address. IPv4 lives in the first 4 bytes (`v4`). */
union gadget_ip_addr_t {
	__u8 v6[16];
	unsigned __int128 v6_raw;
	__u32 v4;
};

/* A layer-3 endpoint; user space adds a string `addr` sub-field. */
struct gadget_l3endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u8 version; /* 4 or 6 */
};

/*
 * A layer-4 endpoint; user space adds `addr`, `proto` and `endpoint`
 * (`addr:port`) sub-fields.
 */
struct gadget_l4endpoint_t {
	union gadget_ip_addr_t addr_raw;
	__u16 port; /* host byte order */
	__u16 proto_raw; /* IP protocol number (IPPROTO_TCP, IPPROTO_UDP, ...) */
	__u8 version; /* 4 or 6 */
};

/* ---- Namespaces -------------------------------------------------------- */

/* Inode number of a mount namespace: key for container enrichment. */
typedef __u64 gadget_mntns_id;

/* Inode number of a network namespace: fallback enrichment key. */
typedef __u32 gadget_netns_id;

/* ---- Scalars with a human-readable companion field ---------------------- */

/* Nanoseconds since boot, as returned by bpf_ktime_get_boot_ns(). */
typedef __u64 gadget_timestamp;

/* A signal number; user space adds its name (SIGKILL, ...). */
typedef __u32 gadget_signal;

/* A positive errno value; user space adds its name (ENOENT, ...). */
typedef __u32 gadget_errno;

/* User and group ids; user space can add the resolved names. */
typedef __u32 gadget_uid;
typedef __u32 gadget_gid;

/* A syscall number; user space adds the syscall name. */
typedef __u64 gadget_syscall;

/* A byte count, printed human-readably. */
typedef __u64 gadget_bytes;

/* A duration in nanoseconds, printed human-readably. */
typedef __u64 gadget_duration;

/* st_mode style file mode, printed like `ls -l`. */
typedef __u32 gadget_file_mode;

/* open(2) flags, printed as O_RDONLY|O_CREAT|... */
typedef __u32 gadget_file_flags;

/* Stack id in the `ig_kstack` map (see kernel_stack_map.h). */
typedef __u32 gadget_kernel_stack;

/* ---- Process identity -------------------------------------------------- */

typedef __u32 gadget_pid;
typedef __u32 gadget_ppid;
typedef __u32 gadget_tid;
typedef __u32 gadget_ptid;
typedef char gadget_comm;
typedef char gadget_pcomm;

/* ---- Metrics ------------------------------------------------------------ */

typedef __u32 gadget_counter__u32;
typedef __u64 gadget_counter__u64;
typedef __u32 gadget_gauge__u32;
typedef __u64 gadget_gauge__u64;
typedef __u32 gadget_histogram_slot__u32;
typedef __u64 gadget_histogram_slot__u64;

/* ---- Composite process description (see common.h) ---------------------- */

struct gadget_creds {
	gadget_uid uid;
	gadget_gid gid;
};

struct gadget_parent {
	gadget_pcomm comm[TASK_COMM_LEN];
	gadget_ppid pid;
	gadget_ptid tid;
};

struct gadget_process {
	gadget_comm comm[TASK_COMM_LEN];
	gadget_pid pid;
	gadget_tid tid;
	gadget_mntns_id mntns_id;

	struct gadget_creds creds;
	struct gadget_parent parent;
};

/* ---- User stacks (filled by user_stack_map.h helpers) ------------------- */

struct gadget_user_stack {
	/* Executable identity; inode 0 means "no user stack". */
	__u32 major;
	__u32 minor;
	__u64 inode;
	__u64 mtime_sec;
	__u32 mtime_nsec;
	__u32 base_addr_hash;

	/* Id returned by bpf_get_stackid() on the `ig_ustack` map. */
	__u32 stack_id;

	/* Ids seen from the initial pid namespace and from level 1. */
	__u32 tgid_level0;
	__u32 pid_level0;
	__u32 pidns_level0;
	__u32 pid_level1;
	__u32 pidns_level1;

	__u64 otel_correlation_id;
	__u64 boot_timestamp;
};

/* ---- Socket enricher entries (see sockets-map.h) ----------------------- */

/*
 * Size of the optional cwd / exepath members. Upstream uses 4096, which makes
 * the 16384-entry socket map about 137 MB; ig uses 256 (about 9 MB at most,
 * and the map is allocated per entry, not up front). A gadget may define its
 * own value before including this header: user space reads the layout from
 * the gadget's BTF.
 */
#ifndef GADGET_SE_PATH_MAX
#define GADGET_SE_PATH_MAX 256
#endif

/*
 * Value of the `gadget_sockets` map: the process that owns a socket. The
 * members up to `ipv6only` are always filled; cwd and exepath are filled when
 * the gadget's value has them (they are at the end so that gadgets can test
 * them with bpf_core_field_exists()). Plain offsets, no CO-RE: ig lays the map
 * out from the gadget's own BTF.
 */
struct gadget_socket_value {
	__u64 mntns;
	__u64 pid_tgid;
	__u64 uid_gid;
	char task[TASK_COMM_LEN];
	char ptask[TASK_COMM_LEN];
	__u64 sock;
	__u64 deletion_timestamp; /* 0 while the socket is alive */
	__u32 ppid;
	__u32 ptid;
	char ipv6only;

	/* optional members start 8-byte aligned */
	char optional_fields_start[0] __attribute__((aligned(8)));
	char cwd[GADGET_SE_PATH_MAX];
	char exepath[GADGET_SE_PATH_MAX];
};

#endif /* __GADGET_TYPES_H */
