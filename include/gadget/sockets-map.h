/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: the socket enricher map.
 *
 * User space (the socketenricher operator) keeps `gadget_sockets` filled with
 * one entry per open TCP/UDP socket, keyed by network namespace, family,
 * protocol and local port, and swaps its own map in for this declaration.
 * Networking gadgets (socket filters, TC) use it to find the process that
 * owns the socket a packet belongs to.
 *
 * Include <vmlinux.h> first. Define GADGET_TYPE_NETWORKING (for __sk_buff
 * based programs) or GADGET_TYPE_TRACING to get gadget_socket_lookup().
 *
 * For socket filter programs ig's per-netns dispatcher stores the inode of
 * the network namespace in skb->cb[0] before calling the gadget program.
 */

#ifndef __GADGET_SOCKETS_MAP_H
#define __GADGET_SOCKETS_MAP_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include <gadget/types.h>

#ifndef GADGET_MAX_SOCKETS
#define GADGET_MAX_SOCKETS 16384
#endif

/* Key: explicit padding so that hashing never depends on garbage bytes. */
struct gadget_socket_key {
	__u32 netns;
	__u16 family; /* AF_INET or AF_INET6 */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 __pad0;
	__u16 port; /* local port, host byte order */
	__u16 __pad1;
};


struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GADGET_MAX_SOCKETS);
	__type(key, struct gadget_socket_key);
	__type(value, struct gadget_socket_value);
} gadget_sockets SEC(".maps");

#define __GADGET_AF_INET 2
#define __GADGET_AF_INET6 10
#define __GADGET_ETH_HLEN 14
#define __GADGET_ETH_P_IP 0x0800
#define __GADGET_ETH_P_IPV6 0x86DD
#define __GADGET_PACKET_HOST 0
#define __GADGET_IPPROTO_TCP 6
#define __GADGET_IPPROTO_UDP 17

/* Fill a gadget_process from a socket enricher entry. */
static __always_inline void
gadget_process_populate_from_socket(const struct gadget_socket_value *v,
				    struct gadget_process *p)
{
	if (!v)
		return;

	__builtin_memcpy(p->comm, v->task, sizeof(p->comm));
	p->pid = v->pid_tgid >> 32;
	p->tid = (__u32)v->pid_tgid;
	p->mntns_id = v->mntns;
	p->creds.uid = (__u32)v->uid_gid;
	p->creds.gid = v->uid_gid >> 32;
	__builtin_memcpy(p->parent.comm, v->ptask, sizeof(p->parent.comm));
	p->parent.pid = v->ppid;
	p->parent.tid = v->ptid;
}

static __always_inline struct gadget_socket_value *
__gadget_socket_lookup_key(struct gadget_socket_key *key)
{
	struct gadget_socket_value *v;

	v = bpf_map_lookup_elem(&gadget_sockets, key);
	if (v || key->family != __GADGET_AF_INET)
		return v;

	/* An IPv4 packet may belong to a dual-stack IPv6 socket. */
	key->family = __GADGET_AF_INET6;
	v = bpf_map_lookup_elem(&gadget_sockets, key);
	if (v && !v->ipv6only)
		return v;
	return NULL;
}

#ifdef GADGET_TYPE_NETWORKING
/*
 * Find the socket for a packet seen by a socket filter or TC program (data
 * starting at the Ethernet header). `is_ingress` selects the destination
 * (ingress) or source (egress) port as the local port.
 */
static __always_inline struct gadget_socket_value *
gadget_socket_lookup_with_direction(const struct __sk_buff *skb,
				    bool is_ingress)
{
	struct gadget_socket_key key = {};
	__u16 eth_proto, port;
	__u8 vihl, nexthdr, hdrlen;
	__u32 l4_off;

	key.netns = skb->cb[0];

	if (bpf_skb_load_bytes(skb, 12, &eth_proto, sizeof(eth_proto)))
		return NULL;

	if (eth_proto == bpf_htons(__GADGET_ETH_P_IP)) {
		key.family = __GADGET_AF_INET;
		if (bpf_skb_load_bytes(skb, __GADGET_ETH_HLEN, &vihl, 1) ||
		    bpf_skb_load_bytes(skb, __GADGET_ETH_HLEN + 9, &key.proto,
				       1))
			return NULL;
		l4_off = __GADGET_ETH_HLEN + (vihl & 0x0f) * 4;
	} else if (eth_proto == bpf_htons(__GADGET_ETH_P_IPV6)) {
		key.family = __GADGET_AF_INET6;
		if (bpf_skb_load_bytes(skb, __GADGET_ETH_HLEN + 6, &nexthdr, 1))
			return NULL;
		l4_off = __GADGET_ETH_HLEN + 40;
		/* Skip up to 6 extension headers. */
		for (int i = 0; i < 6; i++) {
			if (nexthdr == __GADGET_IPPROTO_TCP ||
			    nexthdr == __GADGET_IPPROTO_UDP)
				break;
			__u8 ext[2];
			if (bpf_skb_load_bytes(skb, l4_off, ext, 2))
				return NULL;
			switch (nexthdr) {
			case 0: /* hop-by-hop */
			case 43: /* routing */
			case 60: /* destination options */
				hdrlen = ext[1];
				l4_off += 8 * (hdrlen + 1);
				break;
			case 44: /* fragment */
				l4_off += 8;
				break;
			case 51: /* authentication header */
				hdrlen = ext[1];
				l4_off += 4 * (hdrlen + 2);
				break;
			default:
				return NULL;
			}
			nexthdr = ext[0];
		}
		key.proto = nexthdr;
	} else {
		return NULL;
	}

	if (key.proto != __GADGET_IPPROTO_TCP &&
	    key.proto != __GADGET_IPPROTO_UDP)
		return NULL;

	/* Source port at offset 0, destination port at offset 2 (TCP and UDP). */
	if (bpf_skb_load_bytes(skb, l4_off + (is_ingress ? 2 : 0), &port,
			       sizeof(port)))
		return NULL;
	key.port = bpf_ntohs(port);

	return __gadget_socket_lookup_key(&key);
}

/*
 * Same, deciding the direction from skb->pkt_type: packets addressed to this
 * host are ingress.
 */
static __always_inline struct gadget_socket_value *
gadget_socket_lookup(const struct __sk_buff *skb)
{
	return gadget_socket_lookup_with_direction(
		skb, skb->pkt_type == __GADGET_PACKET_HOST);
}
#endif /* GADGET_TYPE_NETWORKING */

#ifdef GADGET_TYPE_TRACING
/* Find the socket enricher entry for a kernel socket in network ns `netns`. */
static __always_inline struct gadget_socket_value *
gadget_socket_lookup(const struct sock *sk, __u32 netns)
{
	struct gadget_socket_key key = {};
	__u16 sport;

	key.netns = netns;
	key.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	key.proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	if (key.proto != __GADGET_IPPROTO_TCP &&
	    key.proto != __GADGET_IPPROTO_UDP)
		return NULL;

	sport = BPF_CORE_READ((struct inet_sock *)sk, inet_sport);
	key.port = bpf_ntohs(sport);

	return __gadget_socket_lookup_key(&key);
}
#endif /* GADGET_TYPE_TRACING */


#endif /* __GADGET_SOCKETS_MAP_H */
