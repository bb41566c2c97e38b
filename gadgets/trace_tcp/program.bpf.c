// SPDX-License-Identifier: GPL-2.0
/*
 * trace_tcp: report TCP connect, accept and close.
 *
 * Without kprobes, the gadget combines:
 * - sock/inet_sock_set_state: CLOSE -> SYN_SENT runs inside connect(2) and
 *   tells which process owns the socket; SYN_SENT -> ESTABLISHED is a
 *   successful connect; SYN_SENT -> CLOSE a failed asynchronous one;
 *   ESTABLISHED -> FIN_WAIT1 / CLOSE_WAIT -> LAST_ACK / ESTABLISHED -> CLOSE
 *   are closes;
 * - syscalls connect(2) (errors returned directly by the call) and
 *   accept(2)/accept4(2) (new connections, in the accepting process).
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filesystem.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define AF_INET 2
#define AF_INET6 10
#define EINPROGRESS 115
#define S_IFMT 00170000
#define S_IFSOCK 0140000

enum event_type : __u8 {
	connect,
	accept,
	close,
};

struct event {
	gadget_timestamp timestamp_raw;
	gadget_netns_id netns_id;
	struct gadget_process proc;

	struct gadget_l4endpoint_t src;
	struct gadget_l4endpoint_t dst;

	enum event_type type_raw;
	gadget_errno error_raw;

	/* connect: the socket's fd; accept: the listening socket's fd; close: -1 */
	int fd;
	/* accept: the new connection's fd; -1 otherwise */
	int accept_fd;
};

/* Only report accept events (accept-only) / connect events (connect-only). */
const volatile bool accept_only = false;
GADGET_PARAM(accept_only);
const volatile bool connect_only = false;
GADGET_PARAM(connect_only);

/* Only report failed connect calls. */
const volatile bool failure_only = false;
GADGET_PARAM(failure_only);

/* Process owning a connection, recorded in process context. */
struct owner {
	struct gadget_process proc;
	int fd; /* fd of the connecting socket (connect), -1 if unknown */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct sock * */
	__type(value, struct owner);
} owners SEC(".maps");

/* connect(2) / accept(2) in progress, keyed by thread id. */
struct call {
	const void *uaddr;
	__u64 sk; /* socket that went to SYN_SENT during this call */
	int fd;
	int err; /* connection failed before connect(2) returned */
	/* Local end of that failed connection: gone from the socket by the
	 * time connect(2) returns, so kept from the state change. */
	__u8 saddr[16];
	__u16 sport;
	__u16 sfamily;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct call);
} connects SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, int); /* listening fd */
} accepts SEC(".maps");

/* Scratch owner to keep the stack small. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct owner);
} scratch SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(tracetcp, events, event);

static __always_inline bool type_wanted(enum event_type type)
{
	if (accept_only && type != accept)
		return false;
	if (connect_only && type != connect)
		return false;
	return true;
}

/* Fill src/dst/netns from a socket. Returns false for non-IP sockets. */
static __always_inline bool fill_from_sock(struct event *e, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	e->netns_id = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e->src.proto_raw = e->dst.proto_raw = IPPROTO_TCP;
	e->src.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dst.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

	if (family == AF_INET) {
		e->src.version = e->dst.version = 4;
		e->src.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		e->dst.addr_raw.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		e->src.version = e->dst.version = 6;
		BPF_CORE_READ_INTO(&e->src.addr_raw.v6, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->dst.addr_raw.v6, sk,
				   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return false;
	}
	return true;
}

static __always_inline bool discard_proc(const struct gadget_process *p)
{
	return gadget_should_discard_data(p->mntns_id, p->pid, p->tid, p->comm,
					  p->creds.uid, p->creds.gid);
}

/* Emit an event for `sk` on behalf of `proc` (NULL: current process). */
static __always_inline void emit(void *ctx, struct sock *sk,
				 const struct gadget_process *proc,
				 enum event_type type, __u32 err, int fd,
				 int accept_fd)
{
	struct event *e;

	e = gadget_reserve_buf(&events, sizeof(*e));
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));

	if (!fill_from_sock(e, sk)) {
		gadget_discard_buf(e);
		return;
	}
	if (proc)
		e->proc = *proc;
	else
		gadget_process_populate(&e->proc);

	if (discard_proc(&e->proc)) {
		gadget_discard_buf(e);
		return;
	}

	e->timestamp_raw = bpf_ktime_get_boot_ns();
	e->type_raw = type;
	e->error_raw = err;
	e->fd = fd;
	e->accept_fd = accept_fd;
	gadget_submit_buf(ctx, &events, e, sizeof(*e));
}

static __always_inline struct sock *sock_from_fd(int fd)
{
	struct file *file = get_struct_file_for_fd(fd);
	struct socket *sock;

	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

SEC("tracepoint/sock/inet_sock_set_state")
int ig_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct sock *sk = (struct sock *)ctx->skaddr;
	__u64 key = (__u64)sk;
	int oldstate = ctx->oldstate, newstate = ctx->newstate;
	struct owner *o;
	__u32 zero = 0;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;

	/* connect(2) in process context: remember who owns the socket. */
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct call *c = bpf_map_lookup_elem(&connects, &tid);

		if (c)
			c->sk = key;
		o = bpf_map_lookup_elem(&scratch, &zero);
		if (!o)
			return 0;
		gadget_process_populate(&o->proc);
		o->fd = c ? c->fd : -1;
		bpf_map_update_elem(&owners, &key, o, BPF_ANY);
		return 0;
	}

	if (oldstate == TCP_SYN_SENT) {
		o = bpf_map_lookup_elem(&owners, &key);
		if (!o)
			return 0;
		if (newstate == TCP_ESTABLISHED) {
			if (type_wanted(connect) && !failure_only)
				emit(ctx, sk, &o->proc, connect, 0, o->fd, -1);
			return 0;
		}
		if (newstate == TCP_CLOSE) {
			/*
			 * Failed connect. A blocking connect(2) reports the
			 * error itself at syscall exit; skip it here.
			 */
			struct call *c;
			__u32 tid = o->proc.tid;

			int err = BPF_CORE_READ(sk, sk_err);

			c = bpf_map_lookup_elem(&connects, &tid);
			if (c && c->sk == key) {
				c->err = err > 0 ? err : 0;
				c->sport = ctx->sport;
				c->sfamily = ctx->family;
				/* (probe reads: the verifier refuses
				 * derived pointers into the context) */
				if (ctx->family == AF_INET)
					bpf_probe_read_kernel(c->saddr, 4, ctx->saddr);
				else
					bpf_probe_read_kernel(c->saddr, 16, ctx->saddr_v6);
			}
			else if (type_wanted(connect))
				emit(ctx, sk, &o->proc, connect,
				     err > 0 ? err : 0, o->fd, -1);
			bpf_map_delete_elem(&owners, &key);
		}
		return 0;
	}

	/* Close of an established connection (close(2), shutdown(2), RST). */
	if ((oldstate == TCP_ESTABLISHED &&
	     (newstate == TCP_FIN_WAIT1 || newstate == TCP_CLOSE)) ||
	    (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK)) {
		if (type_wanted(close) && !failure_only) {
			o = bpf_map_lookup_elem(&owners, &key);
			emit(ctx, sk, o ? &o->proc : NULL, close, 0, -1, -1);
		}
		bpf_map_delete_elem(&owners, &key);
		return 0;
	}

	if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&owners, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int ig_connect_e(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call c = {};

	if (!type_wanted(connect))
		return 0;

	c.fd = (int)ctx->args[0];
	c.uaddr = (const void *)ctx->args[1];
	bpf_map_update_elem(&connects, &tid, &c, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int ig_connect_x(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long ret = ctx->ret;
	struct sock *sk;
	struct call *c;

	c = bpf_map_lookup_elem(&connects, &tid);
	if (!c)
		return 0;

	/*
	 * Report errors returned by connect(2), and failures that happened
	 * (on loopback, typically) before a non-blocking connect returned.
	 */
	if (ret == -EINPROGRESS && c->err)
		ret = -c->err;
	if (ret < 0 && ret != -EINPROGRESS) {
		sk = sock_from_fd(c->fd);
		if (sk && BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) ==
				  IPPROTO_TCP) {
			struct event *e = gadget_reserve_buf(&events, sizeof(*e));

			if (e) {
				__builtin_memset(e, 0, sizeof(*e));
				fill_from_sock(e, sk);
				/* Source of a connection that failed after the
				 * SYN was sent (it is reset on the socket). */
				if (c->sport && c->sfamily == AF_INET) {
					e->src.port = c->sport;
					__builtin_memcpy(&e->src.addr_raw.v4, c->saddr, 4);
				} else if (c->sport && c->sfamily == AF_INET6) {
					e->src.port = c->sport;
					__builtin_memcpy(e->src.addr_raw.v6, c->saddr, 16);
				}
				/* The failed socket has no peer any more: use
				 * the address passed to connect(2). */
				{
					struct sockaddr_in6 sa = {};

					bpf_probe_read_user(&sa, sizeof(sa),
							    c->uaddr);
					e->dst.port = bpf_ntohs(sa.sin6_port);
					if (sa.sin6_family == AF_INET) {
						e->dst.version = 4;
						e->dst.addr_raw.v4 =
							((struct sockaddr_in *)&sa)
								->sin_addr.s_addr;
					} else if (sa.sin6_family == AF_INET6) {
						e->dst.version = 6;
						__builtin_memcpy(
							e->dst.addr_raw.v6,
							&sa.sin6_addr, 16);
					}
				}
				gadget_process_populate(&e->proc);
				if (discard_proc(&e->proc)) {
					gadget_discard_buf(e);
				} else {
					e->timestamp_raw = bpf_ktime_get_boot_ns();
					e->type_raw = connect;
					e->error_raw = (__u32)-ret;
					e->fd = c->fd;
					e->accept_fd = -1;
					gadget_submit_buf(ctx, &events, e,
							  sizeof(*e));
				}
			}
		}
	}

	bpf_map_delete_elem(&connects, &tid);
	return 0;
}

static __always_inline int accept_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	int listen_fd = (int)ctx->args[0];

	if (!type_wanted(accept) || failure_only)
		return 0;
	bpf_map_update_elem(&accepts, &tid, &listen_fd, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int ig_accept_e(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter(ctx);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int ig_accept4_e(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter(ctx);
}

static __always_inline int accept_exit(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct owner *o;
	struct sock *sk;
	__u32 zero = 0;
	int *lfd, listen_fd;
	__u64 key;

	lfd = bpf_map_lookup_elem(&accepts, &tid);
	if (!lfd)
		return 0;
	listen_fd = *lfd;
	bpf_map_delete_elem(&accepts, &tid);

	if (ret < 0)
		return 0;
	sk = sock_from_fd((int)ret);
	if (!sk || BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
		return 0;

	/* Remember the owner so that the close event can name it. */
	o = bpf_map_lookup_elem(&scratch, &zero);
	if (o) {
		gadget_process_populate(&o->proc);
		o->fd = -1;
		key = (__u64)sk;
		bpf_map_update_elem(&owners, &key, o, BPF_ANY);
	}

	emit(ctx, sk, NULL, accept, 0, listen_fd, (int)ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int ig_accept_x(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int ig_accept4_x(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
