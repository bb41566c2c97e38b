// SPDX-License-Identifier: GPL-2.0
/* Test gadget for the snapshot contract (include/gadget/snapshot.h): each run of the on-demand program writes
 * n_items records numbered by the run. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#include <gadget/macros.h>
#include <gadget/snapshot.h>
#include <gadget/types.h>

struct item {
	__u32 index;
	__u32 run;
	gadget_pid pid;
};

const volatile __u32 n_items = 3;
GADGET_PARAM(n_items);

__u32 runs = 0;

GADGET_SNAPSHOTTER(items, item, ig_snap_items);

SEC("raw_tp")
int ig_snap_items(void *ctx)
{
	/* Runs are sequential (one test run at a time): no atomics needed. */
	__u32 run = runs;

	runs = run + 1;

	for (__u32 i = 0; i < 64 && i < n_items; i++) {
		struct item it = { .index = i, .run = run, .pid = bpf_get_current_pid_tgid() >> 32 };

		gadget_snapshot_write(&it, sizeof(it));
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
