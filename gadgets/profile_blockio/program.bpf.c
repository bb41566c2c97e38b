// SPDX-License-Identifier: GPL-2.0
/*
 * profile_blockio: histogram of block I/O latency.
 *
 * raw_tp/block_rq_insert (queued) or raw_tp/block_rq_issue (sent to the
 * driver) start the clock, raw_tp/block_rq_complete stops it; the latency
 * is added to a log2 histogram (µs, or ms with --ms) keyed by device and/or
 * request flags when asked. User space reads the `hists` map
 * (GADGET_MAPITER).
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/bits.bpf.h>
#include <gadget/core_fixes.bpf.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#ifndef PROFILER_MAX_SLOTS
#define PROFILER_MAX_SLOTS 27
#endif

#define MINORBITS 20
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))

/* One histogram per disk. */
const volatile bool targ_per_disk = false;
GADGET_PARAM(targ_per_disk);

/* One histogram per request flags (REQ_OP and modifiers). */
const volatile bool targ_per_flag = false;
GADGET_PARAM(targ_per_flag);

/* Measure from insertion in the queue instead of from issue. */
const volatile bool targ_queued = false;
GADGET_PARAM(targ_queued);

/* Use milliseconds instead of microseconds. */
const volatile bool targ_ms = false;
GADGET_PARAM(targ_ms);

/* Only this device (dev_t: major << 20 | minor); 0 for all. */
const volatile __u32 targ_dev = 0;
GADGET_PARAM(targ_dev);

struct hist_key {
	__u32 cmd_flags;
	__u32 dev;
};

struct hist_value {
	gadget_histogram_slot__u32 latency[PROFILER_MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, struct hist_value);
} hists SEC(".maps");

GADGET_MAPITER(blockio, hists);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); /* struct request * */
	__type(value, __u64);
} start SEC(".maps");

static const struct hist_value initial_hist = {};

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct gendisk *disk = gadget_get_rq_disk(rq);

	if (!disk)
		return 0;
	return MKDEV(BPF_CORE_READ(disk, major), BPF_CORE_READ(disk, first_minor));
}

static __always_inline int trace_rq_start(__u64 rq, bool issue)
{
	__u64 ts;

	/* With --queued, the clock starts at insertion; an issue without a
	 * prior insertion (no scheduler) still starts it. */
	if (issue && targ_queued && bpf_map_lookup_elem(&start, &rq))
		return 0;
	if (targ_dev && rq_dev((struct request *)rq) != targ_dev)
		return 0;

	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &rq, &ts, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_insert")
int ig_profio_ins(struct bpf_raw_tracepoint_args *ctx)
{
	if (!targ_queued)
		return 0;
	return trace_rq_start(ctx->args[0], false);
}

SEC("raw_tp/block_rq_issue")
int ig_profio_iss(struct bpf_raw_tracepoint_args *ctx)
{
	return trace_rq_start(ctx->args[0], true);
}

SEC("raw_tp/block_rq_complete")
int ig_profio_done(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *rq = (struct request *)ctx->args[0];
	__u64 key = ctx->args[0];
	struct hist_key hkey = {};
	struct hist_value *histp;
	__u64 *tsp, ts = bpf_ktime_get_ns(), slot;
	__s64 delta;

	tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0;
	delta = (__s64)(ts - *tsp);
	if (delta < 0)
		goto cleanup;

	if (targ_per_disk)
		hkey.dev = rq_dev(rq);
	if (targ_per_flag)
		hkey.cmd_flags = BPF_CORE_READ(rq, cmd_flags);

	histp = bpf_map_lookup_elem(&hists, &hkey);
	if (!histp) {
		bpf_map_update_elem(&hists, &hkey, &initial_hist, BPF_NOEXIST);
		histp = bpf_map_lookup_elem(&hists, &hkey);
		if (!histp)
			goto cleanup;
	}

	delta /= targ_ms ? 1000000U : 1000U;
	slot = get_slot_idx(delta, PROFILER_MAX_SLOTS);
	__sync_fetch_and_add(&histp->latency[slot], 1);

cleanup:
	bpf_map_delete_elem(&start, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
