// SPDX-License-Identifier: GPL-2.0
/*
 * top_blockio: block device I/O per process, drained periodically.
 *
 * - raw_tp/block_io_start: the request is accounted; usually runs in the
 *   submitting process: remember who it is;
 * - raw_tp/block_rq_issue: the request goes to the driver: start the clock;
 * - raw_tp/block_rq_complete: add bytes, time and one I/O to the
 *   (process, direction, device) entry of `counts`, which user space drains
 *   every interval (GADGET_MAPITER).
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/core_fixes.bpf.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/common.h>
#include <gadget/mntns.h>
#include <gadget/types.h>

#define REQ_OP_BITS 8
#define REQ_OP_MASK ((1 << REQ_OP_BITS) - 1)
#define IG_REQ_OP_READ 0
#define IG_REQ_OP_WRITE 1

enum rw_type : __u8 {
	read,
	write,
};

struct start_req_t {
	__u64 ts;
	__u64 data_len;
};

struct who_t {
	struct gadget_process proc;
};

/* Summary key: who, direction and device. */
struct info_t {
	struct gadget_process proc;
	enum rw_type rw_raw;
	int major;
	int minor;
};

struct val_t {
	__u64 bytes;
	/* Total time spent by the requests in the device, in µs. */
	__u64 us;
	__u32 io;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); /* struct request * */
	__type(value, struct start_req_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); /* struct request * */
	__type(value, struct who_t);
} whobyreq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct info_t);
	__type(value, struct val_t);
} counts SEC(".maps");

GADGET_MAPITER(blockio, counts);

SEC("raw_tp/block_io_start")
int ig_topio_start(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 rq = ctx->args[0];
	struct who_t who = {};

	if (gadget_should_discard_data_current())
		return 0;

	gadget_process_populate(&who.proc);
	bpf_map_update_elem(&whobyreq, &rq, &who, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int ig_topio_req(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *req = (struct request *)ctx->args[0];
	__u64 rq = ctx->args[0];
	struct start_req_t s;

	/* Only time requests whose submitter passed the filters. */
	if (!bpf_map_lookup_elem(&whobyreq, &rq))
		return 0;

	s.ts = bpf_ktime_get_ns();
	s.data_len = BPF_CORE_READ(req, __data_len);
	bpf_map_update_elem(&start, &rq, &s, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int ig_topio_done(struct bpf_raw_tracepoint_args *ctx)
{
	struct request *req = (struct request *)ctx->args[0];
	__u64 rq = ctx->args[0];
	struct val_t *valp, zero = {};
	struct info_t info = {};
	struct start_req_t *startp;
	struct gendisk *disk;
	struct who_t *whop;
	__u32 op;

	startp = bpf_map_lookup_elem(&start, &rq);
	if (!startp)
		goto end;
	whop = bpf_map_lookup_elem(&whobyreq, &rq);
	if (!whop)
		goto end;

	op = BPF_CORE_READ(req, cmd_flags) & REQ_OP_MASK;
	if (op == IG_REQ_OP_READ)
		info.rw_raw = read;
	else if (op == IG_REQ_OP_WRITE)
		info.rw_raw = write;
	else
		goto end;

	disk = gadget_get_rq_disk(req);
	info.major = BPF_CORE_READ(disk, major);
	info.minor = BPF_CORE_READ(disk, first_minor);
	info.proc = whop->proc;

	valp = bpf_map_lookup_or_try_init(&counts, &info, &zero);
	if (valp) {
		__sync_fetch_and_add(&valp->us,
				     (bpf_ktime_get_ns() - startp->ts) / 1000);
		__sync_fetch_and_add(&valp->bytes, startp->data_len);
		__sync_fetch_and_add(&valp->io, 1);
	}

end:
	bpf_map_delete_elem(&start, &rq);
	bpf_map_delete_elem(&whobyreq, &rq);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
