// SPDX-License-Identifier: GPL-2.0
/*
 * trace_tcpretrans: report TCP retransmissions.
 *
 * tcp/tcp_retransmit_skb fires for each retransmitted segment. It usually
 * runs from the retransmission timer (softirq), so the process is taken
 * from the socket enricher map (gadget_sockets), not from the current task.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/buffer.h>
#include <gadget/macros.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>
#define GADGET_TYPE_TRACING
#include <gadget/filter.h>
#include <gadget/sockets-map.h>

#define AF_INET 2
#define AF_INET6 10

/* Same values as the kernel's TCP states, with readable names. */
enum tcp_state_t {
	tcp_established = 1,
	tcp_syn_sent = 2,
	tcp_syn_recv = 3,
	tcp_fin_wait1 = 4,
	tcp_fin_wait2 = 5,
	tcp_time_wait = 6,
	tcp_close = 7,
	tcp_close_wait = 8,
	tcp_last_ack = 9,
	tcp_listen = 10,
	tcp_closing = 11,
	tcp_new_syn_recv = 12,
};

enum tcp_flags_set : __u8 {
	FIN = 0x01,
	SYN = 0x02,
	RST = 0x04,
	PSH = 0x08,
	ACK = 0x10,
	URG = 0x20,
	ECE = 0x40,
	CWR = 0x80,
};

enum retrans_type : __u8 {
	RETRANS,
	LOSS,
};

struct event {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;

	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;

	enum tcp_state_t state_raw;
	enum tcp_flags_set tcpflags_raw;
	/* Upstream's field; neither its tracepoint path nor this one has a reason to give: always 0. */
	__u32 reason;
	enum retrans_type type_raw;
};

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(tcpretrans, events, event);

/* TCP flags of a segment from its control block (TCP_SKB_CB(skb)). */
static __always_inline __u8 skb_tcp_flags(struct sk_buff *skb)
{
	__u16 flags = 0;
	void *cb = (void *)skb + bpf_core_field_offset(struct sk_buff, cb);

	bpf_probe_read_kernel(&flags, sizeof(flags),
			      cb + bpf_core_field_offset(struct tcp_skb_cb,
							 tcp_flags));
	return (__u8)flags;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int ig_tcpretrans(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	struct sock *sk = (struct sock *)ctx->skaddr;
	struct gadget_socket_value *skv;
	struct event *e;
	__u16 family = ctx->family;

	if (!sk || (family != AF_INET && family != AF_INET6))
		return 0;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));

	e->netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	skv = gadget_socket_lookup(sk, e->netns_id);
	if (gadget_should_discard_data_by_skb(skv)) {
		gadget_discard_buf(e);
		return 0;
	}
	gadget_process_populate_from_socket(skv, &e->proc);

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->src.proto_raw = e->dst.proto_raw = IPPROTO_TCP;
	e->src.port = ctx->sport;
	e->dst.port = ctx->dport;
	/* Addresses from the socket (the tracepoint's copies are unaligned). */
	if (family == AF_INET) {
		e->src.version = e->dst.version = 4;
		e->src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		e->dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		e->src.version = e->dst.version = 6;
		BPF_CORE_READ_INTO(&e->src.addr_raw.v6, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->dst.addr_raw.v6, sk,
				   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	e->state_raw = ctx->state;
	e->tcpflags_raw = skb_tcp_flags((struct sk_buff *)ctx->skbaddr);
	e->type_raw = RETRANS;

	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
