// SPDX-License-Identifier: GPL-2.0
/*
 * trace_dns: report DNS queries and responses seen in a network namespace.
 *
 * A socket filter (section "socket1") attached to a raw socket in each
 * traced network namespace sees every packet. DNS messages over UDP and TCP
 * on the DNS ports are parsed in the kernel: header (id, QR, opcode, rcode,
 * counts), the first question (name, decoded to dotted form, and type), and
 * the query-to-response latency, matched by (netns, id, client port).
 * The owning process comes from the socket enricher (gadget_sockets).
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
#define DNS_HLEN 12
#define DNS_NAME_MAX 256

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

enum dns_qr_t : __u8 {
	Q,
	R,
};

enum dns_qtype_t : __u16 {
	A = 1,
	NS = 2,
	CNAME = 5,
	SOA = 6,
	PTR = 12,
	HINFO = 13,
	MX = 15,
	TXT = 16,
	AAAA = 28,
	SRV = 33,
	NAPTR = 35,
	DS = 43,
	RRSIG = 46,
	NSEC = 47,
	DNSKEY = 48,
	SVCB = 64,
	HTTPS = 65,
	AXFR = 252,
	ANY = 255,
	CAA = 257,
};

enum dns_rcode_t : __u8 {
	NoError = 0,
	FormErr = 1,
	ServFail = 2,
	NXDomain = 3,
	NotImp = 4,
	Refused = 5,
	YXDomain = 6,
	YXRRSet = 7,
	NXRRSet = 8,
	NotAuth = 9,
	NotZone = 10,
};

/* Packet bytes handed to the WASM module: headers plus a DNS message of ~1 KiB. */
#define DNS_DATA_MAX 1024

struct event_t {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;
	/* working directory and executable of the socket's owner, with --paths */
	char cwd[GADGET_SE_PATH_MAX];
	char exepath[GADGET_SE_PATH_MAX];

	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	/* The DNS server: destination of queries, source of responses. */
	struct gadget_l3endpoint_t nameserver;

	enum pkt_type_t pkt_type_raw;
	/* Set on responses received by the client that sent the query. */
	gadget_duration latency_ns_raw;

	__u16 id;
	enum dns_qr_t qr_raw;
	__u8 opcode;
	enum dns_rcode_t rcode_raw;
	enum dns_qtype_t qtype_raw;
	__u16 num_questions;
	__u16 num_answers;
	__u16 num_authorities;
	__u16 num_additionals;
	/* First question's name, dotted with a trailing dot (example.com.). */
	char name[DNS_NAME_MAX];
	/* Packet length and offset of the DNS message in the packet. */
	__u32 data_len;
	__u16 dns_off;
	/* The packet's first DNS_DATA_MAX bytes: the WASM module (program.c) decodes the answers from them. */
	__u8 data[DNS_DATA_MAX] __attribute__((aligned(8)));
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

/* Event scratch (too big for the stack) and raw name buffer. */
struct scratch {
	struct event_t event;
	__u8 raw[DNS_NAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
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

/* Decoder state for the question name (length-prefixed labels). */
struct name_decoder {
	__u32 next; /* index of the next length byte in raw[] */
	__u32 end; /* number of valid bytes in raw[] */
	bool done;
};

/*
 * One byte of the name: length bytes become '.', label bytes are copied.
 * Output is shifted by one so the leading '.' disappears and the
 * terminating zero-length label becomes the trailing '.'.
 */
static long decode_name_byte(__u32 i, void *ctx)
{
	struct name_decoder *d = ctx;
	struct scratch *s;
	__u32 zero = 0;
	__u64 idx = i, out; /* 64-bit: no zero-extension copies to lose bounds */
	__u8 c;

	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 1;
	/* Keep the compiler from merging away the bound checks below. */
	barrier_var(idx);
	if (idx >= d->end || idx >= DNS_NAME_MAX - 1)
		return 1;
	out = idx - 1;
	barrier_var(out);

	c = s->raw[idx];
	if (idx == d->next) {
		if (c == 0 || (c & 0xc0)) {
			/* End of name (or unexpected compression). */
			if (idx > 0 && out < DNS_NAME_MAX)
				s->event.name[out] = '.';
			s->event.name[idx] = '\0';
			d->done = true;
			return 1;
		}
		d->next = idx + c + 1;
		if (idx > 0 && out < DNS_NAME_MAX)
			s->event.name[out] = '.';
		return 0;
	}
	if (idx > 0 && out < DNS_NAME_MAX)
		s->event.name[out] = c;
	return 0;
}

SEC("socket1")
int ig_trace_dns(struct __sk_buff *skb)
{
	struct gadget_socket_value *skv;
	struct name_decoder dec = {};
	struct query_key qkey = {};
	struct event_t *event;
	struct scratch *s;
	__u16 h_proto, sport, dport, flags, qtype;
	__u32 l4_off, dns_off, name_off, len, zero = 0;
	__u8 proto, vihl, nexthdr, doff;
	__u16 hdr[6];

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

	if (bpf_skb_load_bytes(skb, dns_off, hdr, sizeof(hdr)))
		return 0;

	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	event = &s->event;
	/*
	 * The scratch event is per CPU and reused: clear all of it, data included, so a short packet's data field
	 * does not carry a longer earlier packet's bytes past data_len to outputs that show the field.
	 */
	__builtin_memset(event, 0, __builtin_offsetof(struct event_t, data));
	/*
	 * clang turns a large memset (or a plain zeroing loop) into a call BPF cannot make: 128 volatile 8-byte
	 * stores instead (data is 8-aligned).
	 */
	volatile __u64 *words = (volatile __u64 *)event->data;
#pragma unroll
	for (int i = 0; i < DNS_DATA_MAX / 8; i++)
		words[i] = 0;

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	event->netns_id = skb->cb[0]; /* set by ig's per-netns dispatcher */
	event->pkt_type_raw = skb->pkt_type;
	event->data_len = skb->len;
	event->dns_off = dns_off;
	len = skb->len < DNS_DATA_MAX ? skb->len : DNS_DATA_MAX;
	/* Written so the verifier sees 1..DNS_DATA_MAX (a zero-sized read is refused). */
	if (len > 0)
		bpf_skb_load_bytes(skb, 0, event->data, ((len - 1) & (DNS_DATA_MAX - 1)) + 1);

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

	event->id = bpf_ntohs(hdr[0]);
	flags = bpf_ntohs(hdr[1]);
	event->qr_raw = flags >> 15;
	event->opcode = (flags >> 11) & 0xf;
	event->rcode_raw = flags & 0xf;
	event->num_questions = bpf_ntohs(hdr[2]);
	event->num_answers = bpf_ntohs(hdr[3]);
	event->num_authorities = bpf_ntohs(hdr[4]);
	event->num_additionals = bpf_ntohs(hdr[5]);

	if (event->qr_raw == Q) {
		event->nameserver.version = event->dst.version;
		event->nameserver.addr_raw = event->dst.addr_raw;
	} else {
		event->nameserver.version = event->src.version;
		event->nameserver.addr_raw = event->src.addr_raw;
	}

	/* First question: name then type. */
	name_off = dns_off + DNS_HLEN;
	if (event->num_questions > 0 && skb->len > name_off) {
		len = skb->len - name_off;
		if (len > DNS_NAME_MAX)
			len = DNS_NAME_MAX;
		if (len > 0 &&
		    bpf_skb_load_bytes(skb, name_off, s->raw, len) == 0) {
			dec.end = len;
			bpf_loop(DNS_NAME_MAX, decode_name_byte, &dec, 0);
			/* dec.next: index of the terminating zero label. */
			if (dec.done && dec.next + 3 <= len) {
				if (bpf_skb_load_bytes(skb,
						       name_off + dec.next + 1,
						       &qtype, 2) == 0)
					event->qtype_raw = bpf_ntohs(qtype);
			} else {
				event->name[0] = '\0';
			}
		}
	}

	/* Latency, measured where the client is. */
	qkey.netns = event->netns_id;
	qkey.id = event->id;
	if (event->qr_raw == Q && event->pkt_type_raw == OUTGOING) {
		qkey.client_port = sport;
		bpf_map_update_elem(&query_map, &qkey, &event->timestamp_raw,
				    BPF_ANY);
	} else if (event->qr_raw == R && event->pkt_type_raw == HOST) {
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

	gadget_output_buf(skb, &events, event, sizeof(*event));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
