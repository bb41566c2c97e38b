// SPDX-License-Identifier: GPL-2.0
/*
 * top_tcp: TCP bytes sent and received per process and connection,
 * drained periodically.
 *
 * sock/sock_send_length and sock/sock_recv_length fire at the end of
 * sock_sendmsg()/sock_recvmsg() in the context of the calling process with
 * the byte count; TCP sockets are accounted in the `ip_map` hash that user
 * space drains every interval (GADGET_MAPITER).
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/mntns.h>
#include <gadget/types.h>

#define AF_INET 2
#define AF_INET6 10
#define MSG_PEEK 2

/* Only IPv4 (4) or IPv6 (6) connections; -1 for both. */
const volatile int target_family = -1;
GADGET_PARAM(target_family);

struct ip_key_t {
	gadget_mntns_id mntns_id;
	gadget_pid pid;
	gadget_tid tid;

	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	gadget_comm comm[TASK_COMM_LEN];
};

struct traffic_t {
	gadget_bytes sent_raw;
	gadget_bytes received_raw;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct ip_key_t);
	__type(value, struct traffic_t);
} ip_map SEC(".maps");

GADGET_MAPITER(tcp, ip_map);

static __always_inline int account(struct trace_event_raw_sock_msg_length *ctx,
				   bool receiving)
{
	struct sock *sk = ctx->sk;
	struct ip_key_t key = {};
	struct traffic_t *t, zero = {};
	__u64 pid_tgid;
	__u16 family = ctx->family;
	int size = ctx->ret;

	if (ctx->protocol != IPPROTO_TCP || size <= 0)
		return 0;
	if (receiving && (ctx->flags & MSG_PEEK))
		return 0;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if ((target_family == 4 && family != AF_INET) ||
	    (target_family == 6 && family != AF_INET6))
		return 0;
	if (gadget_should_discard_data_current())
		return 0;

	pid_tgid = bpf_get_current_pid_tgid();
	key.pid = pid_tgid >> 32;
	key.tid = (__u32)pid_tgid;
	key.mntns_id = gadget_get_current_mntns_id();
	bpf_get_current_comm(key.comm, sizeof(key.comm));

	key.src.proto_raw = key.dst.proto_raw = IPPROTO_TCP;
	key.src.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	key.dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		key.src.version = key.dst.version = 4;
		key.src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		key.dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		key.src.version = key.dst.version = 6;
		BPF_CORE_READ_INTO(&key.src.addr_raw.v6, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&key.dst.addr_raw.v6, sk,
				   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}

	t = bpf_map_lookup_elem(&ip_map, &key);
	if (!t) {
		bpf_map_update_elem(&ip_map, &key, &zero, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&ip_map, &key);
		if (!t)
			return 0;
	}
	if (receiving)
		__sync_fetch_and_add(&t->received_raw, size);
	else
		__sync_fetch_and_add(&t->sent_raw, size);
	return 0;
}

SEC("tracepoint/sock/sock_send_length")
int ig_toptcp_send(struct trace_event_raw_sock_msg_length *ctx)
{
	return account(ctx, false);
}

SEC("tracepoint/sock/sock_recv_length")
int ig_toptcp_recv(struct trace_event_raw_sock_msg_length *ctx)
{
	return account(ctx, true);
}

char LICENSE[] SEC("license") = "GPL";
