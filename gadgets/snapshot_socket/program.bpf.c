// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot_socket: list TCP and UDP sockets.
 *
 * Kernels without BPF iterators cannot run upstream's `iter/tcp` and
 * `iter/udp` programs. Instead `ig_snap_tcp` and `ig_snap_udp` are
 * on-demand raw tracepoint programs (see include/gadget/snapshot.h): ig
 * runs them with BPF_PROG_TEST_RUN and they walk the kernel's socket hash
 * tables, reached from ig's own network namespace:
 * - TCP: net->ipv4.tcp_death_row.hashinfo: the listening table (lhash2)
 *   and the established table (ehash, which also holds TIME_WAIT and
 *   NEW_SYN_RECV mini-sockets);
 * - UDP: net->ipv4.udp_table: the primary hash (by local port).
 * These tables are shared by all network namespaces unless per-netns
 * tables were configured (net.ipv4.tcp_child_ehash_entries,
 * net.ipv4.udp_child_hash_entries), so one run lists the sockets of every
 * namespace; each record carries its netns_id.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/macros.h>
#include <gadget/snapshot.h>
#include <gadget/types.h>

#define AF_INET 2
#define AF_INET6 10

/* Bounds of the walks. */
#define MAX_BUCKETS (1 << 22)
#define MAX_CHAIN 256

enum socket_state_t : __u32 {
	ESTABLISHED = 1,
	SYN_SENT = 2,
	SYN_RECV = 3,
	FIN_WAIT1 = 4,
	FIN_WAIT2 = 5,
	TIME_WAIT = 6,
	CLOSE = 7,
	CLOSE_WAIT = 8,
	LAST_ACK = 9,
	LISTEN = 10,
	CLOSING = 11,
	NEW_SYN_RECV = 12,
};

struct socket_entry {
	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;
	enum socket_state_t state_raw;
	/* Inode number of the socket (as in /proc/<pid>/fd), 0 if none. */
	__u32 ino;
	gadget_netns_id netns_id;
};

GADGET_SNAPSHOTTER(sockets, socket_entry, ig_snap_tcp, ig_snap_udp);

/* Inode number of a full socket (SOCK_INODE(sk->sk_socket)->i_ino). */
static __always_inline __u32 sock_ino(struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);
	struct socket_alloc *sa;

	if (!sock)
		return 0;
	sa = container_of(sock, struct socket_alloc, socket);
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

/* Emit one socket from its common part. */
static __always_inline void emit(struct sock_common *skc, __u8 proto)
{
	struct socket_entry e = {};
	__u16 family = BPF_CORE_READ(skc, skc_family);
	__u8 state = BPF_CORE_READ(skc, skc_state);

	if (family != AF_INET && family != AF_INET6)
		return;

	e.netns_id = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	e.src.proto_raw = e.dst.proto_raw = proto;
	e.src.port = BPF_CORE_READ(skc, skc_num);
	e.dst.port = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	if (family == AF_INET) {
		e.src.version = e.dst.version = 4;
		e.src.addr_raw.v4 = BPF_CORE_READ(skc, skc_rcv_saddr);
		e.dst.addr_raw.v4 = BPF_CORE_READ(skc, skc_daddr);
	} else {
		e.src.version = e.dst.version = 6;
		BPF_CORE_READ_INTO(&e.src.addr_raw.v6, skc,
				   skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e.dst.addr_raw.v6, skc,
				   skc_v6_daddr.in6_u.u6_addr8);
	}

	if (state == TIME_WAIT) {
		/* Mini socket: the real state is in tw_substate. */
		struct inet_timewait_sock *tw = (void *)skc;

		e.state_raw = BPF_CORE_READ(tw, tw_substate);
	} else if (state == NEW_SYN_RECV) {
		/* Request socket of a connection being accepted. */
		e.state_raw = SYN_RECV;
	} else {
		e.state_raw = state;
		e.ino = sock_ino((struct sock *)skc);
	}

	gadget_snapshot_write(&e, sizeof(e));
}

/* ---- hlist_nulls chains (TCP ehash and lhash2) ------------------------ */

struct nulls_walk {
	struct hlist_nulls_node *pos;
	__u8 proto;
};

static long walk_nulls_node(__u32 i, void *ctx)
{
	struct nulls_walk *w = ctx;
	struct hlist_nulls_node *pos = w->pos;
	struct sock_common *skc;

	/* The chain ends with an odd "nulls" marker instead of NULL. */
	if (!pos || ((unsigned long)pos & 1))
		return 1;
	skc = container_of(pos, struct sock_common, skc_nulls_node);
	emit(skc, w->proto);
	w->pos = BPF_CORE_READ(pos, next);
	return 0;
}

struct table_walk {
	void *buckets; /* array of buckets */
	__u32 bucket_size; /* bytes per bucket */
	__u32 head_off; /* offset of the list head in a bucket */
	__u32 nbuckets;
	__u8 proto;
	bool nulls; /* hlist_nulls (TCP) or hlist (UDP) */
};

struct hlist_walk {
	struct hlist_node *pos;
	__u8 proto;
};

static long walk_hlist_node(__u32 i, void *ctx)
{
	struct hlist_walk *w = ctx;
	struct hlist_node *pos = w->pos;
	struct sock_common *skc;

	if (!pos)
		return 1;
	skc = container_of(pos, struct sock_common, skc_node);
	emit(skc, w->proto);
	w->pos = BPF_CORE_READ(pos, next);
	return 0;
}

static long walk_bucket(__u32 i, void *ctx)
{
	struct table_walk *t = ctx;
	void *first_ptr;
	void *first = NULL;

	if (i >= t->nbuckets)
		return 1;
	first_ptr = t->buckets + (__u64)i * t->bucket_size + t->head_off;
	if (bpf_probe_read_kernel(&first, sizeof(first), first_ptr))
		return 0;

	if (t->nulls) {
		struct nulls_walk w = { .pos = first, .proto = t->proto };

		if (!first || ((unsigned long)first & 1))
			return 0;
		bpf_loop(MAX_CHAIN, walk_nulls_node, &w, 0);
	} else {
		struct hlist_walk w = { .pos = first, .proto = t->proto };

		if (!first)
			return 0;
		bpf_loop(MAX_CHAIN, walk_hlist_node, &w, 0);
	}
	return 0;
}

static __always_inline struct net *current_net(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, nsproxy, net_ns);
}

SEC("raw_tp")
int ig_snap_tcp(void *ctx)
{
	struct inet_hashinfo *h;
	struct table_walk t = {};

	h = BPF_CORE_READ(current_net(), ipv4.tcp_death_row.hashinfo);
	if (!h)
		return 0;

	/* Listening sockets. */
	t.buckets = BPF_CORE_READ(h, lhash2);
	t.bucket_size = bpf_core_type_size(struct inet_listen_hashbucket);
	t.head_off = bpf_core_field_offset(struct inet_listen_hashbucket,
					   nulls_head);
	t.nbuckets = BPF_CORE_READ(h, lhash2_mask) + 1;
	t.proto = IPPROTO_TCP;
	t.nulls = true;
	if (t.buckets)
		bpf_loop(MAX_BUCKETS, walk_bucket, &t, 0);

	/* Established, TIME_WAIT and SYN_RECV sockets. */
	t.buckets = BPF_CORE_READ(h, ehash);
	t.bucket_size = bpf_core_type_size(struct inet_ehash_bucket);
	t.head_off = bpf_core_field_offset(struct inet_ehash_bucket, chain);
	t.nbuckets = BPF_CORE_READ(h, ehash_mask) + 1;
	if (t.buckets)
		bpf_loop(MAX_BUCKETS, walk_bucket, &t, 0);
	return 0;
}

SEC("raw_tp")
int ig_snap_udp(void *ctx)
{
	struct udp_table *u;
	struct table_walk t = {};

	u = BPF_CORE_READ(current_net(), ipv4.udp_table);
	if (!u)
		return 0;

	t.buckets = BPF_CORE_READ(u, hash);
	t.bucket_size = bpf_core_type_size(struct udp_hslot);
	t.head_off = bpf_core_field_offset(struct udp_hslot, head);
	t.nbuckets = BPF_CORE_READ(u, mask) + 1;
	t.proto = IPPROTO_UDP;
	t.nulls = false;
	if (t.buckets)
		bpf_loop(MAX_BUCKETS, walk_bucket, &t, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
