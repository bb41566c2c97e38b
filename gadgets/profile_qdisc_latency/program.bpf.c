// SPDX-License-Identifier: GPL-2.0
/*
 * profile_qdisc_latency: histogram of the time packets spend in a network
 * scheduler (qdisc) queue, from enqueue to dequeue.
 *
 * raw_tp/qdisc_enqueue stamps the sk_buff; raw_tp/qdisc_dequeue adds the
 * time since the stamp to a log2 histogram (µs, or ms with --ms). Packets
 * freed without being dequeued (consume_skb, kfree_skb: dropped, or purged
 * with the qdisc) only lose their stamp. User space reads the `hists` map
 * (GADGET_MAPITER `qdisc`) and prints the histogram when the gadget stops.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/bits.bpf.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define PROFILER_MAX_SLOTS 27
#define MAX_QUEUED 10240

/* Only this interface (index); -1: every interface. */
const volatile int ifindex = -1;
GADGET_PARAM(ifindex);

/* Milliseconds instead of microseconds. */
const volatile bool targ_ms = false;
GADGET_PARAM(targ_ms);

/* One histogram for everything: the key has no information. */
struct hist_key {
	__u8 unused;
};

struct hist_value {
	gadget_histogram_slot__u32 latency[PROFILER_MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct hist_key);
	__type(value, struct hist_value);
} hists SEC(".maps");

GADGET_MAPITER(qdisc, hists);

/* Enqueue time of each queued packet (key: the sk_buff's address). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_QUEUED);
	__type(key, __u64);
	__type(value, __u64);
} queued SEC(".maps");

static const struct hist_value empty_hist;

SEC("raw_tp/qdisc_enqueue")
int BPF_PROG(ig_qdisc_enq, struct Qdisc *qdisc, const struct netdev_queue *txq,
	     struct sk_buff *skb)
{
	__u64 key = (__u64)skb, now;

	if (ifindex >= 0 && BPF_CORE_READ(txq, dev, ifindex) != ifindex)
		return 0;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&queued, &key, &now, BPF_ANY);
	return 0;
}

SEC("raw_tp/qdisc_dequeue")
int BPF_PROG(ig_qdisc_deq, struct Qdisc *qdisc, const struct netdev_queue *txq,
	     int packets, struct sk_buff *skb)
{
	__u64 key = (__u64)skb, *t0, delta;
	struct hist_key hk = {};
	struct hist_value *h;
	__u32 slot;

	if (!skb)
		return 0; /* nothing dequeued */
	t0 = bpf_map_lookup_elem(&queued, &key);
	if (!t0)
		return 0;
	delta = bpf_ktime_get_ns() - *t0;
	bpf_map_delete_elem(&queued, &key);

	h = bpf_map_lookup_elem(&hists, &hk);
	if (!h) {
		bpf_map_update_elem(&hists, &hk, &empty_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &hk);
		if (!h)
			return 0;
	}
	delta /= targ_ms ? 1000000 : 1000;
	slot = get_slot_idx(delta, PROFILER_MAX_SLOTS);
	__sync_fetch_and_add(&h->latency[slot], 1);
	return 0;
}

/* Freed without a dequeue (dropped by the qdisc, or the qdisc was reset). */
static __always_inline void forget(struct sk_buff *skb)
{
	__u64 key = (__u64)skb;

	bpf_map_delete_elem(&queued, &key);
}

SEC("raw_tp/consume_skb")
int BPF_PROG(ig_qdisc_consume, struct sk_buff *skb)
{
	forget(skb);
	return 0;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(ig_qdisc_kfree, struct sk_buff *skb)
{
	forget(skb);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
