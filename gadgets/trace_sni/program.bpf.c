// SPDX-License-Identifier: GPL-2.0
/*
 * trace_sni: report the server names (SNI) requested in TLS ClientHello
 * messages.
 *
 * A socket filter (section "socket1") attached to a raw socket in each
 * traced network namespace looks at TCP segments whose payload starts with
 * a TLS handshake record holding a ClientHello, walks its extensions and
 * copies the host name of the server_name extension.
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

#define TLS_CONTENT_HANDSHAKE 0x16
#define TLS_HANDSHAKE_CLIENT_HELLO 0x01
#define TLS_EXT_SERVER_NAME 0x0000
#define TLS_MAX_SERVER_NAME_LEN 128
#define TLS_MAX_EXTENSIONS 32

struct event_t {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;

	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;

	char name[TLS_MAX_SERVER_NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_t);
} scratch_map SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(sni, events, event_t);

/* Walk state over the ClientHello extensions. */
struct ext_walk {
	struct __sk_buff *skb;
	__u32 off; /* current extension header */
	__u32 end; /* end of the extensions block */
	__u32 sni_off; /* offset of the server_name data, 0 if not found */
	__u16 sni_len;
};

static long walk_extension(__u32 i, void *ctx)
{
	struct ext_walk *w = ctx;
	__u16 hdr[2], type, len;

	if (w->off + 4 > w->end)
		return 1;
	if (bpf_skb_load_bytes(w->skb, w->off, hdr, sizeof(hdr)))
		return 1;
	type = bpf_ntohs(hdr[0]);
	len = bpf_ntohs(hdr[1]);
	if (type == TLS_EXT_SERVER_NAME) {
		w->sni_off = w->off + 4;
		w->sni_len = len;
		return 1;
	}
	w->off += 4 + len;
	return 0;
}

static __always_inline int read_u16(struct __sk_buff *skb, __u32 off,
				    __u16 *v)
{
	if (bpf_skb_load_bytes(skb, off, v, 2))
		return -1;
	*v = bpf_ntohs(*v);
	return 0;
}

SEC("socket1")
int ig_trace_sni(struct __sk_buff *skb)
{
	struct gadget_socket_value *skv;
	struct ext_walk w = {};
	struct event_t *event;
	__u16 h_proto, v16, name_len;
	__u32 l4_off, off, zero = 0;
	__u8 proto, vihl, doff, b;
	__u8 rec[6];

	if (read_u16(skb, 12, &h_proto))
		return 0;
	if (h_proto == ETH_P_IP) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1))
			return 0;
		l4_off = ETH_HLEN + (vihl & 0x0f) * 4;
	} else if (h_proto == ETH_P_IPV6) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &proto, 1))
			return 0;
		l4_off = ETH_HLEN + 40;
	} else {
		return 0;
	}
	if (proto != IPPROTO_TCP)
		return 0;

	if (bpf_skb_load_bytes(skb, l4_off + 12, &doff, 1))
		return 0;
	off = l4_off + (doff >> 4) * 4;

	/* Record header (5 bytes) + handshake type: 0x16 .. .. .. .. 0x01 */
	if (bpf_skb_load_bytes(skb, off, rec, sizeof(rec)))
		return 0;
	if (rec[0] != TLS_CONTENT_HANDSHAKE || rec[5] != TLS_HANDSHAKE_CLIENT_HELLO)
		return 0;

	/* Skip record header (5), handshake header (4), version (2),
	 * random (32). */
	off += 5 + 4 + 2 + 32;

	/* Session id. */
	if (bpf_skb_load_bytes(skb, off, &b, 1))
		return 0;
	off += 1 + b;
	/* Cipher suites. */
	if (read_u16(skb, off, &v16))
		return 0;
	off += 2 + v16;
	/* Compression methods. */
	if (bpf_skb_load_bytes(skb, off, &b, 1))
		return 0;
	off += 1 + b;
	/* Extensions. */
	if (read_u16(skb, off, &v16))
		return 0;
	off += 2;

	w.skb = skb;
	w.off = off;
	w.end = off + v16;
	if (w.end > skb->len)
		w.end = skb->len;
	bpf_loop(TLS_MAX_EXTENSIONS, walk_extension, &w, 0);
	if (!w.sni_off)
		return 0;

	/* server_name_list: list length (2), name type (1), name length (2). */
	if (bpf_skb_load_bytes(skb, w.sni_off + 2, &b, 1) || b != 0)
		return 0;
	if (read_u16(skb, w.sni_off + 3, &name_len) || name_len == 0)
		return 0;

	event = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!event)
		return 0;
	__builtin_memset(event, 0, sizeof(*event));

	if (name_len > TLS_MAX_SERVER_NAME_LEN - 1)
		name_len = TLS_MAX_SERVER_NAME_LEN - 1;
	name_len &= TLS_MAX_SERVER_NAME_LEN - 1;
	if (name_len == 0 ||
	    bpf_skb_load_bytes(skb, w.sni_off + 5, event->name, name_len))
		return 0;

	skv = gadget_socket_lookup(skb);
	if (gadget_should_discard_data_by_skb(skv))
		return 0;
	gadget_process_populate_from_socket(skv, &event->proc);

	event->timestamp_raw = bpf_ktime_get_boot_ns();
	event->netns_id = skb->cb[0]; /* set by ig's per-netns dispatcher */

	event->src.proto_raw = event->dst.proto_raw = IPPROTO_TCP;
	read_u16(skb, l4_off, &event->src.port);
	read_u16(skb, l4_off + 2, &event->dst.port);
	if (h_proto == ETH_P_IP) {
		event->src.version = event->dst.version = 4;
		bpf_skb_load_bytes(skb, ETH_HLEN + 12, &event->src.addr_raw.v4, 4);
		bpf_skb_load_bytes(skb, ETH_HLEN + 16, &event->dst.addr_raw.v4, 4);
	} else {
		event->src.version = event->dst.version = 6;
		bpf_skb_load_bytes(skb, ETH_HLEN + 8, event->src.addr_raw.v6, 16);
		bpf_skb_load_bytes(skb, ETH_HLEN + 24, event->dst.addr_raw.v6, 16);
	}

	gadget_output_buf(skb, &events, event, sizeof(*event));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
