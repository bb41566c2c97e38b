// SPDX-License-Identifier: GPL-2.0
/*
 * trace_tcpdrop: report TCP packets dropped by the kernel, with the drop
 * reason (enum skb_drop_reason, names taken from the kernel's BTF), the
 * connection state, the TCP flags and the kernel stack.
 *
 * skb/kfree_skb fires for every freed skb that was not consumed normally;
 * only skbs of TCP sockets with a reason other than NOT_SPECIFIED are kept.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/buffer.h>
#include <gadget/kernel_stack_map.h>
#include <gadget/macros.h>
#include <gadget/mntns_filter.h>
#include <gadget/types.h>
#define GADGET_TYPE_TRACING
#include <gadget/filter.h>
#include <gadget/sockets-map.h>

#define AF_INET 2
#define AF_INET6 10

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

struct event {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;

	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;

	/* The socket's owner (upstream's flat names, from the socket map). */
	gadget_mntns_id mount_ns_id;
	gadget_comm comm[TASK_COMM_LEN];
	gadget_pid pid;
	gadget_tid tid;
	gadget_uid uid;
	gadget_gid gid;

	enum tcp_state_t state_raw;
	enum tcp_flags_set tcpflags_raw;
	enum skb_drop_reason reason_raw;
	gadget_kernel_stack kernel_stack_raw;
};

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(tcpdrop, events, event);

/* Rx skbs carry the socket in the tracepoint (rx_sk, Linux >= 6.11). */
struct trace_event_raw_kfree_skb___rx {
	void *rx_sk;
} __attribute__((preserve_access_index));

SEC("tracepoint/skb/kfree_skb")
int ig_tcpdrop(struct trace_event_raw_kfree_skb *ctx)
{
	struct sk_buff *skb = ctx->skbaddr;
	struct trace_event_raw_kfree_skb___rx *rx = (void *)ctx;
	struct gadget_socket_value *skv;
	struct sock *sk;
	struct event *e;
	int reason = ctx->reason;
	__u16 family;
	__u8 flags = 0;
	unsigned char *head;
	__u16 thoff;

	if (reason <= bpf_core_enum_value(enum skb_drop_reason,
					  SKB_DROP_REASON_NOT_SPECIFIED))
		return 0;

	sk = BPF_CORE_READ(skb, sk);
	if (!sk && bpf_core_field_exists(rx->rx_sk))
		sk = BPF_CORE_READ(rx, rx_sk);
	if (!sk)
		return 0;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
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
	if (skv) {
		__builtin_memcpy(e->comm, skv->task, sizeof(e->comm));
		e->pid = skv->pid_tgid >> 32;
		e->tid = (__u32)skv->pid_tgid;
		e->mount_ns_id = skv->mntns;
		e->uid = (__u32)skv->uid_gid;
		e->gid = skv->uid_gid >> 32;
	}

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->src.proto_raw = e->dst.proto_raw = IPPROTO_TCP;
	e->src.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
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

	e->state_raw = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->reason_raw = reason;
	e->kernel_stack_raw = gadget_get_kernel_stack(ctx);

	/* Byte 13 of the TCP header holds the flags. */
	head = BPF_CORE_READ(skb, head);
	thoff = BPF_CORE_READ(skb, transport_header);
	if (head && thoff != (__u16)~0U)
		bpf_probe_read_kernel(&flags, 1, head + thoff + 13);
	e->tcpflags_raw = flags;

	gadget_submit_buf(ctx, &events, e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
