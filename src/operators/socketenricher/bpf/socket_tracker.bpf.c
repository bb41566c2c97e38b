// SPDX-License-Identifier: Apache-2.0
/*
 * The socket enricher's own eBPF program: it keeps `gadget_sockets` (the map the operator creates and hands
 * to networking gadgets) current as sockets appear, so that packets of a socket created a moment ago find their
 * process. This kernel has no kprobes, fentry or socket iterators, so it hooks what there is:
 *   - syscall tracepoints: bind, connect, sendto/sendmsg/sendmmsg (a UDP socket is bound on its first send)
 *     and accept/accept4; on success the socket is read from the caller's fd table and recorded with the caller
 *     as its owner;
 *   - tp_btf/net_dev_queue: a packet leaving a user-space UDP socket, or the SYN of a connecting TCP socket, is
 *     recorded before packet sockets see it (they tap the packet later in dev_hard_start_xmit), so the first
 *     datagram of a one-shot query is enriched; only while the sending thread is in that socket's
 *     connect/send system call (packets sent from timers run in an unrelated task);
 *   - sock/inet_sock_set_state: a TCP socket that closes is removed.
 * Sockets that existed before ig started come from the operator's /proc scan, which also removes entries of
 * sockets gone from /proc (UDP has no close hook).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include <gadget/types.h>
#include <gadget/filesystem.h>
#include <gadget/sockets-map.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define EINPROGRESS 115
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#ifndef S_IFMT
#define S_IFMT 00170000
#endif
#ifndef S_IFSOCK
#define S_IFSOCK 0140000
#endif

/* the socket fd of a bind/connect/send call in progress, by thread */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __s32);
} tracked_fds SEC(".maps");

/* the value is larger than the BPF stack allows */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gadget_socket_value);
} scratch_value SEC(".maps");

static __always_inline int key_of(struct sock *sk, struct gadget_socket_key *key)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	__u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);

	if ((family != AF_INET && family != AF_INET6) || (proto != IPPROTO_TCP && proto != IPPROTO_UDP) || port == 0)
		return -1;
	__builtin_memset(key, 0, sizeof(*key));
	key->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	key->family = family;
	key->proto = proto;
	key->port = port;
	return 0;
}

/* Record sk with the current task as its owner (callers run in the owner's system call). */
static __always_inline void track_sock(struct sock *sk)
{
	struct gadget_socket_key key;
	struct gadget_socket_value *v;
	struct task_struct *task, *parent;
	__u32 zero = 0;

	if (!sk || key_of(sk, &key))
		return;
	/* Already this socket's, or already this process's (an entry from the /proc scan has the owner's cwd and
	 * executable path, which this program cannot read): nothing to change. */
	v = bpf_map_lookup_elem(&gadget_sockets, &key);
	if (v && (v->sock == (__u64)(long)sk || (v->pid_tgid >> 32) == (bpf_get_current_pid_tgid() >> 32)))
		return;

	v = bpf_map_lookup_elem(&scratch_value, &zero);
	if (!v)
		return;
	__builtin_memset(v, 0, sizeof(*v));
	task = (struct task_struct *)bpf_get_current_task();
	parent = BPF_CORE_READ(task, real_parent);
	v->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	v->pid_tgid = bpf_get_current_pid_tgid();
	v->uid_gid = bpf_get_current_uid_gid();
	bpf_get_current_comm(v->task, sizeof(v->task));
	BPF_CORE_READ_STR_INTO(&v->ptask, parent, comm);
	v->ppid = BPF_CORE_READ(parent, tgid);
	v->ptid = BPF_CORE_READ(parent, pid);
	v->sock = (__u64)(long)sk;
	if (key.family == AF_INET6)
		v->ipv6only = BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_ipv6only);
	bpf_map_update_elem(&gadget_sockets, &key, v, BPF_ANY);
}

static __always_inline struct sock *sock_of_fd(int fd)
{
	struct file *file = get_struct_file_for_fd(fd);
	umode_t mode;

	if (!file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

static __always_inline int remember_fd(struct syscall_trace_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__s32 fd = (__s32)ctx->args[0];

	bpf_map_update_elem(&tracked_fds, &tid, &fd, BPF_ANY);
	return 0;
}

static __always_inline int track_remembered(struct syscall_trace_exit *ctx, bool ok)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__s32 *fd = bpf_map_lookup_elem(&tracked_fds, &tid);

	if (!fd)
		return 0;
	if (ok)
		track_sock(sock_of_fd(*fd));
	bpf_map_delete_elem(&tracked_fds, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int se_enter_bind(struct syscall_trace_enter *ctx) { return remember_fd(ctx); }
SEC("tracepoint/syscalls/sys_exit_bind")
int se_exit_bind(struct syscall_trace_exit *ctx) { return track_remembered(ctx, ctx->ret == 0); }

SEC("tracepoint/syscalls/sys_enter_connect")
int se_enter_connect(struct syscall_trace_enter *ctx) { return remember_fd(ctx); }
SEC("tracepoint/syscalls/sys_exit_connect")
int se_exit_connect(struct syscall_trace_exit *ctx) { return track_remembered(ctx, ctx->ret == 0 || ctx->ret == -EINPROGRESS); }

SEC("tracepoint/syscalls/sys_enter_sendto")
int se_enter_sendto(struct syscall_trace_enter *ctx) { return remember_fd(ctx); }
SEC("tracepoint/syscalls/sys_exit_sendto")
int se_exit_sendto(struct syscall_trace_exit *ctx) { return track_remembered(ctx, ctx->ret >= 0); }

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int se_enter_sendmsg(struct syscall_trace_enter *ctx) { return remember_fd(ctx); }
SEC("tracepoint/syscalls/sys_exit_sendmsg")
int se_exit_sendmsg(struct syscall_trace_exit *ctx) { return track_remembered(ctx, ctx->ret >= 0); }

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int se_enter_sendmmsg(struct syscall_trace_enter *ctx) { return remember_fd(ctx); }
SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int se_exit_sendmmsg(struct syscall_trace_exit *ctx) { return track_remembered(ctx, ctx->ret >= 0); }

/* accept returns the new socket's fd */
SEC("tracepoint/syscalls/sys_exit_accept")
int se_exit_accept(struct syscall_trace_exit *ctx)
{
	if (ctx->ret >= 0)
		track_sock(sock_of_fd((int)ctx->ret));
	return 0;
}
SEC("tracepoint/syscalls/sys_exit_accept4")
int se_exit_accept4(struct syscall_trace_exit *ctx)
{
	if (ctx->ret >= 0)
		track_sock(sock_of_fd((int)ctx->ret));
	return 0;
}

/* (struct sk_buff *skb). A raw tracepoint, not tp_btf: a tp_btf program makes libbpf parse the kernel's whole BTF
 * for its attach point at every load (≈12 ms of CPU before a gadget's first event). */
SEC("raw_tracepoint/net_dev_queue")
int se_dev_queue(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
	struct sock *sk = BPF_CORE_READ(skb, sk);
	struct socket *sock;
	__u16 proto;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__s32 *fd;

	if (!sk)
		return 0;
	/* Only a packet sent by the system call this thread is in (the connect/send remembered above) tells its
	 * owner: retransmissions and other packets sent from timers and softirqs run in whatever task was
	 * interrupted, which would be recorded as the owner (a SYN retransmit showed an unrelated node process). */
	fd = bpf_map_lookup_elem(&tracked_fds, &tid);
	if (!fd || sock_of_fd(*fd) != sk)
		return 0;
	/* a socket of a user-space process (kernel sockets, e.g. tunnels, have no file) */
	sock = BPF_CORE_READ(sk, sk_socket);
	if (!sock || !BPF_CORE_READ(sock, file))
		return 0;
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto == IPPROTO_UDP ||
	    (proto == IPPROTO_TCP && BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_SYN_SENT))
		track_sock(sk);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int se_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct sock *sk = (struct sock *)ctx->skaddr;
	struct gadget_socket_key key;
	struct gadget_socket_value *v;

	if (ctx->newstate != TCP_CLOSE || ctx->protocol != IPPROTO_TCP || key_of(sk, &key))
		return 0;
	v = bpf_map_lookup_elem(&gadget_sockets, &key);
	if (v && v->sock == (__u64)(long)sk)
		bpf_map_delete_elem(&gadget_sockets, &key);
	return 0;
}

char _license[] SEC("license") = "GPL";
