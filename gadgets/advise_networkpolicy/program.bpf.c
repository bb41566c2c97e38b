// SPDX-License-Identifier: GPL-2.0
/*
 * advise_networkpolicy: which peers and ports each network namespace talks to,
 * for generating network policies when the gadget stops.
 *
 * A socket filter sees every packet of the traced namespaces (ig attaches it
 * to a raw AF_PACKET socket in each and puts the namespace inode in
 * skb->cb[0]). A connection is recorded once, from its first packet: a TCP
 * SYN without ACK, or a UDP datagram to a port below 1024 (UDP has no
 * handshake to tell client from server; Linux's ephemeral ports are far
 * above). The key is (namespace, remote address, server port, protocol,
 * direction): outgoing packets record the destination (egress), incoming ones
 * the source (ingress). IPv4 only, as upstream's gadget.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GADGET_TYPE_NETWORKING
#include <gadget/macros.h>
#include <gadget/types.h>
#include <gadget/sockets-map.h>

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define PACKET_HOST 0
#define PACKET_OUTGOING 4
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

/* map iterators need struct keys and values */
struct event_t {
	gadget_netns_id netns_id;
	struct gadget_l4endpoint_t endpoint;
	__u8 egress;
};

struct empty_t {
	__u8 unused;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct event_t);
	__type(value, struct empty_t);
} packets SEC(".maps");

GADGET_MAPITER(network_connections, packets);

SEC("socket1")
int ig_trace_net(struct __sk_buff *skb)
{
	struct event_t key = {};
	struct empty_t none = {};
	__u8 ver_ihl, proto, flags;
	__u32 type = skb->pkt_type;
	__u16 eth_proto, port;
	__be32 addr;
	int l4;

	/* only what this host sends or receives (no broadcast, multicast, forwarding) */
	if (type != PACKET_HOST && type != PACKET_OUTGOING)
		return 0;
	if (bpf_skb_load_bytes(skb, 12, &eth_proto, 2) ||
	    bpf_ntohs(eth_proto) != ETH_P_IP)
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ver_ihl, 1) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1))
		return 0;
	l4 = ETH_HLEN + (ver_ihl & 0x0f) * 4;

	if (proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, l4 + 13, &flags, 1))
			return 0;
		/* the client's first packet: its destination port is the service */
		if (!(flags & TCP_FLAG_SYN) || (flags & TCP_FLAG_ACK))
			return 0;
	} else if (proto != IPPROTO_UDP) {
		return 0;
	}
	if (bpf_skb_load_bytes(skb, l4 + 2, &port, 2))
		return 0;
	port = bpf_ntohs(port);
	if (proto == IPPROTO_UDP && port >= 1024)
		return 0;

	/* the remote end: destination when sending, source when receiving */
	if (bpf_skb_load_bytes(skb, ETH_HLEN + (type == PACKET_OUTGOING ? 16 : 12),
			       &addr, 4))
		return 0;

	key.netns_id = skb->cb[0];
	key.endpoint.addr_raw.v4 = addr;
	key.endpoint.version = 4;
	key.endpoint.port = port;
	key.endpoint.proto_raw = proto;
	key.egress = type == PACKET_OUTGOING;
	bpf_map_update_elem(&packets, &key, &none, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
