// SPDX-License-Identifier: GPL-2.0
/*
 * trace_dns: report DNS queries and responses seen in a network namespace.
 *
 * A socket filter (section "socket1") attached to a raw socket in each
 * traced network namespace sees every packet. As upstream's, the kernel side
 * only finds DNS packets (UDP and TCP on the DNS ports), fills the endpoints,
 * the owning process (socket enricher) and the query-to-response latency, and
 * sends the packet's bytes after the event (ebpf.rest.name: data). The
 * gadget's WASM module (program.c) decodes the DNS message: id, qr, qtype,
 * name, rcode, answers.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define GADGET_TYPE_NETWORKING
#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/filter.h>
#include <gadget/sockets-map.h>

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* skb->pkt_type values (PACKET_HOST ...). */
enum pkt_type_t : __u8 {
	HOST,
	BROADCAST,
	MULTICAST,
	OTHERHOST,
	OUTGOING,
	LOOPBACK,
	USER,
	KERNEL,
};

#define DNS_QR_QUERY 0
#define DNS_QR_RESP 1

/*
 * Packet bytes sent after the event: DNS over UDP rarely exceeds 4096 bytes
 * (EDNS buffer sizes); longer packets are cut there (data_len keeps the real
 * length). A power of two: it masks the copy length for the verifier.
 */
#define DNS_DATA_MAX 4096

struct event_t {
	gadget_timestamp timestamp_raw;
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	/* The DNS server: destination of queries, source of responses. */
	struct gadget_l3endpoint_t nameserver;
	gadget_netns_id netns_id;
	struct gadget_process proc;
	/* working directory and executable of the socket's owner, with --paths */
	char cwd[GADGET_SE_PATH_MAX];
	char exepath[GADGET_SE_PATH_MAX];

	enum pkt_type_t pkt_type_raw;
	/* Set on responses received by the client that sent the query. */
	gadget_duration latency_ns_raw;

	/* Offset of the DNS message in the packet, and the packet's length. */
	__u16 dns_off;
	__u32 data_len;
};

/* Fill cwd and exepath from the socket enricher. */
const volatile bool paths = false;
GADGET_PARAM(paths);

/* UDP/TCP ports carrying DNS. */
#define MAX_PORTS 4
const volatile __u16 ports[MAX_PORTS] = { 53, 5353 };
const volatile __u16 ports_len = 2;

struct query_key {
	__u32 netns;
	__u16 id;
	__u16 client_port;
};

/* Timestamp of queries waiting for their response. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct query_key);
	__type(value, __u64);
} query_map SEC(".maps");

/* The record sent: the event, then the packet's first bytes (too big for the stack). */
struct record {
	struct event_t event;
	__u8 data[DNS_DATA_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct record);
} scratch_map SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(dns, events, event_t);

static __always_inline bool is_dns_port(__u16 port)
{
#pragma unroll
	for (int i = 0; i < MAX_PORTS; i++) {
		if (i < ports_len && ports[i] == port)
			return true;
	}
	return false;
}

SEC("socket1")
int ig_trace_dns(struct __sk_buff *skb)
{
	struct gadget_socket_value *skv;
	struct query_key qkey = {};
	struct event_t *event;
	struct record *r;
	__u16 h_proto, sport, dport, id, flags;
	__u32 l4_off, dns_off, len, zero = 0;
	__u8 proto, vihl, nexthdr, doff, qr;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)))
		return 0;
	h_proto = bpf_ntohs(h_proto);

	if (h_proto == ETH_P_IP) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1))
			return 0;
		l4_off = ETH_HLEN + (vihl & 0x0f) * 4;
	} else if (h_proto == ETH_P_IPV6) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &nexthdr, 1))
			return 0;
		/* Extension headers are not followed: DNS rarely uses them. */
		proto = nexthdr;
		l4_off = ETH_HLEN + 40;
	} else {
		return 0;
	}

	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		return 0;

	/* Source and destination ports are at the same offsets in both. */
	if (bpf_skb_load_bytes(skb, l4_off, &sport, 2) ||
	    bpf_skb_load_bytes(skb, l4_off + 2, &dport, 2))
		return 0;
	sport = bpf_ntohs(sport);
	dport = bpf_ntohs(dport);
	if (!is_dns_port(sport) && !is_dns_port(dport))
		return 0;

	if (proto == IPPROTO_UDP) {
		dns_off = l4_off + 8;
	} else {
		/* Best effort: the message must start in this segment,
		 * after its 2-byte length prefix. */
		if (bpf_skb_load_bytes(skb, l4_off + 12, &doff, 1))
			return 0;
		dns_off = l4_off + (doff >> 4) * 4;
		if (skb->len <= dns_off + 2)
			return 0;
		dns_off += 2;
	}

	/* id and flags: the kernel needs QR (nameserver, latency) and id (latency) only. */
	if (bpf_skb_load_bytes(skb, dns_off, &id, 2) ||
	    bpf_skb_load_bytes(skb, dns_off + 2, &flags, 2))
		return 0;
	id = bpf_ntohs(id);
	qr = bpf_ntohs(flags) >> 15;

	r = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!r)
		return 0;
	event = &r->event;
	/* The scratch is per CPU and reused; only the packet's own bytes follow the event. */
	__builtin_memset(event, 0, sizeof(*event));

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	event->netns_id = skb->cb[0]; /* set by ig's per-netns dispatcher */
	event->pkt_type_raw = skb->pkt_type;
	event->data_len = skb->len;
	event->dns_off = dns_off;

	event->src.proto_raw = event->dst.proto_raw = proto;
	event->src.port = sport;
	event->dst.port = dport;
	if (h_proto == ETH_P_IP) {
		event->src.version = event->dst.version = 4;
		bpf_skb_load_bytes(skb, ETH_HLEN + 12, &event->src.addr_raw.v4, 4);
		bpf_skb_load_bytes(skb, ETH_HLEN + 16, &event->dst.addr_raw.v4, 4);
	} else {
		event->src.version = event->dst.version = 6;
		bpf_skb_load_bytes(skb, ETH_HLEN + 8, event->src.addr_raw.v6, 16);
		bpf_skb_load_bytes(skb, ETH_HLEN + 24, event->dst.addr_raw.v6, 16);
	}

	skv = gadget_socket_lookup(skb);
	if (gadget_should_discard_data_by_skb(skv))
		return 0;
	gadget_process_populate_from_socket(skv, &event->proc);
	if (paths && skv) {
		__builtin_memcpy(event->cwd, skv->cwd, sizeof(event->cwd));
		__builtin_memcpy(event->exepath, skv->exepath,
				 sizeof(event->exepath));
	}

	if (qr == DNS_QR_QUERY) {
		event->nameserver.version = event->dst.version;
		event->nameserver.addr_raw = event->dst.addr_raw;
	} else {
		event->nameserver.version = event->src.version;
		event->nameserver.addr_raw = event->src.addr_raw;
	}

	/* Latency, measured where the client is. */
	qkey.netns = event->netns_id;
	qkey.id = id;
	if (qr == DNS_QR_QUERY && event->pkt_type_raw == OUTGOING) {
		qkey.client_port = sport;
		bpf_map_update_elem(&query_map, &qkey, &event->timestamp_raw,
				    BPF_ANY);
	} else if (qr == DNS_QR_RESP && event->pkt_type_raw == HOST) {
		__u64 *ts;

		qkey.client_port = dport;
		ts = bpf_map_lookup_elem(&query_map, &qkey);
		if (ts) {
			if (*ts < event->timestamp_raw)
				event->latency_ns_raw =
					event->timestamp_raw - *ts;
			bpf_map_delete_elem(&query_map, &qkey);
		}
	}

	/* The packet's bytes follow the event (1..DNS_DATA_MAX: a zero-sized read is refused). */
	len = skb->len < DNS_DATA_MAX ? skb->len : DNS_DATA_MAX;
	if (len == 0)
		return 0;
	len = ((len - 1) & (DNS_DATA_MAX - 1)) + 1;
	if (bpf_skb_load_bytes(skb, 0, r->data, len))
		return 0;
	gadget_output_buf(skb, &events, r, sizeof(*event) + len);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
