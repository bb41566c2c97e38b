// SPDX-License-Identifier: GPL-2.0
/* advise_seccomp: which syscalls each mount namespace makes. The kernel side only sets one byte per syscall
 * number in a per-mntns bitmap; the gadget's WASM module (program.c) turns the bitmaps into seccomp profiles
 * when the gadget stops. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/mntns.h>
/* Declares gadget_mntns_filter_map: container selection reaches the WASM module (shouldDiscardMntnsID). */
#include <gadget/mntns_filter.h>
#include <gadget/types.h>

/* Syscall numbers 0..499, plus one spare byte (upstream's value layout). */
#define SYSCALLS_COUNT 500
#define SYSCALLS_VALUE_SIZE (SYSCALLS_COUNT + 1)
#define TS_COMPAT 0x0002

struct key_t {
	gadget_mntns_id mntns_id_raw;
};

struct val_t {
	unsigned char syscalls[SYSCALLS_VALUE_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct key_t);
	__type(value, struct val_t);
	__uint(max_entries, 1024);
} syscalls_per_mntns SEC(".maps");

GADGET_MAPITER(syscalls, syscalls_per_mntns);

const struct val_t empty_bitmap = {};

SEC("raw_tracepoint/sys_enter")
int ig_seccomp_e(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	/* 32-bit compat calls use another syscall table: a profile for them would name the wrong calls. */
	if (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT)
		return 0;
	__u64 id = ctx->args[1];
	if (id >= SYSCALLS_COUNT)
		return 0;
	/* Not filtered by container here: runc makes calls for the container before the filter knows it, and a
	 * profile without them would not let the container start. The WASM module filters when it reports. */
	struct key_t key = { .mntns_id_raw = gadget_get_current_mntns_id() };
	struct val_t *bitmap = bpf_map_lookup_or_try_init(&syscalls_per_mntns, &key, &empty_bitmap);
	if (!bitmap)
		return 0;
	if (id < SYSCALLS_VALUE_SIZE)
		bitmap->syscalls[id] = 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
