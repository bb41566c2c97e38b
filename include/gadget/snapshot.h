/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: snapshots without BPF iterators.
 *
 * Upstream snapshotters are `iter/task`, `iter/tcp`... programs, and ig runs
 * them the same way where the kernel has the iterator (Linux 6.18 here runs
 * task, task_file, task_vma, tcp, udp, unix, netlink, ipv6_route, bpf_map,
 * bpf_prog, bpf_link, ksym and kmem_cache iterators; see
 * docs/architecture.md). Kernels without BPF iterators (or without BPF
 * tracing programs at all) can still take snapshots with an on-demand raw
 * tracepoint program, which may also share a snapshotter with iterators:
 *
 *   GADGET_SNAPSHOTTER(processes, process_entry, ig_snap_proc);
 *
 *   SEC("raw_tp")            // no tracepoint: never attached
 *   int ig_snap_proc(void *ctx)
 *   {
 *           ... walk kernel data structures (bpf_loop) ...
 *           gadget_snapshot_write(&entry, sizeof(entry));
 *           return 0;
 *   }
 *
 * Contract with user space (ebpf operator):
 * - a GADGET_ITER/GADGET_SNAPSHOTTER program whose section is exactly
 *   "raw_tp" or "raw_tracepoint" is not attached; each time the data
 *   source is fetched, ig runs it once with BPF_PROG_TEST_RUN (no context
 *   input) from its own thread, then drains the ring buffer
 *   `gadget_snapshot_buf`: every sample is one record of the data source
 *   struct, in the order written, and all of them form one array packet;
 * - records that did not fit are counted in
 *   `gadget_snapshot_buf_lost_samples` (per-CPU u64), which ig reports;
 * - the program runs in ig's own task and network/mount namespaces, under
 *   RCU, so it may walk RCU-protected kernel lists with probe reads.
 */

#ifndef __GADGET_SNAPSHOT_H
#define __GADGET_SNAPSHOT_H

#include <bpf/bpf_helpers.h>

#include <gadget/buffer.h>

/* Size of the snapshot ring buffer (must be a power of two of pages). */
#ifndef GADGET_SNAPSHOT_BUF_SIZE
#define GADGET_SNAPSHOT_BUF_SIZE (4 * 1024 * 1024)
#endif

GADGET_TRACER_MAP(gadget_snapshot_buf, GADGET_SNAPSHOT_BUF_SIZE);

/*
 * Append one record to the snapshot. No wake-up: user space drains the
 * ring after the program returned. Returns 0 or a negative error (ring
 * full; counted as lost).
 */
static __always_inline long gadget_snapshot_write(void *rec, __u32 size)
{
	long err = bpf_ringbuf_output(&gadget_snapshot_buf, rec, size,
				      BPF_RB_NO_WAKEUP);

	if (err)
		__gadget_count_lost(&gadget_snapshot_buf_lost_samples);
	return err;
}

#endif /* __GADGET_SNAPSHOT_H */
