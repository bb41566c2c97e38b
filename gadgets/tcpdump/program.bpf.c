// SPDX-License-Identifier: GPL-2.0
/*
 * tcpdump: packets seen by TC on the selected interfaces (--iface, or each selected container's host-side
 * interface), filtered in the kernel by a pcap expression (--pf, spliced in at GADGET_PF()), sent to user
 * space with up to `snaplen` bytes of the packet as the record's tail (the `payload` field).
 */
#include <vmlinux.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/buffer.h>
#include <gadget/filter.h>
#include <gadget/packetfilter.h>

#define GADGET_TYPE_NETWORKING
#include <gadget/sockets-map.h>

/* an Ethernet MTU's worth by default; the perf record tail is limited by the skb anyway */
#define DEFAULT_SNAPLEN 1500
/* let the next TC program on the hook decide (uapi pkt_cls.h; not in vmlinux.h) */
#define TC_ACT_UNSPEC (-1)

enum packet_direction { PACKET_EGRESS = 0, PACKET_INGRESS = 1 };

struct packet_event_t {
	gadget_timestamp timestamp_raw;
	__u8 packet_type; /* 0 egress, 1 ingress */
	__u32 ifindex;
	__u32 payload_len; /* bytes of the packet that follow the record */
	__u32 packet_size; /* bytes of the whole packet */
	struct gadget_process proc;
};

/* perf, not ring: bpf_perf_event_output copies packet bytes straight from the skb */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} packets SEC(".maps");

/* the record is built here: too large for the 512-byte stack together with the callers' frames */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct packet_event_t));
} scratch_packets SEC(".maps");

GADGET_TRACER(packets, packets, packet_event_t);

const volatile __u16 snaplen = DEFAULT_SNAPLEN;
GADGET_PARAM(snaplen);

GADGET_PF();

static __always_inline int capture(struct __sk_buff *skb, enum packet_direction dir)
{
	/* make the whole packet readable through skb->data for the filter */
	bpf_skb_pull_data(skb, 0);
	if (!gadget_pf_matches((void *)skb, (void *)(long)skb->data, (void *)(long)skb->data_end))
		return TC_ACT_UNSPEC;

	struct gadget_socket_value *sock = gadget_socket_lookup_with_direction(skb, dir == PACKET_INGRESS);
	__u32 zero = 0;
	struct packet_event_t *ev = bpf_map_lookup_elem(&scratch_packets, &zero);
	if (!ev)
		return TC_ACT_UNSPEC;
	__builtin_memset(ev, 0, sizeof(*ev));

	__u64 len = skb->len;
	ev->packet_size = len;
	if (len > snaplen)
		len = snaplen;
	ev->payload_len = len;
	ev->timestamp_raw = bpf_ktime_get_boot_ns();
	ev->ifindex = skb->ifindex;
	ev->packet_type = dir;
	gadget_process_populate_from_socket(sock, &ev->proc);

	/* the upper 32 bits of the flags: how many skb bytes to append after the record */
	bpf_perf_event_output(skb, &packets, (len << 32) | BPF_F_CURRENT_CPU, ev, sizeof(*ev));
	return TC_ACT_UNSPEC;
}

SEC("classifier/ingress/main")
int ingress_main(struct __sk_buff *skb)
{
	return capture(skb, PACKET_INGRESS);
}

SEC("classifier/egress/main")
int egress_main(struct __sk_buff *skb)
{
	return capture(skb, PACKET_EGRESS);
}

char _license[] SEC("license") = "GPL";
