// SPDX-License-Identifier: GPL-2.0
/*
 * trace_bind: report bind(2) calls on IPv4/IPv6 sockets.
 *
 * sys_enter_bind remembers the socket fd; sys_exit_bind looks the socket up
 * through the fd table and reads the bound address and port from the socket
 * itself (so an ephemeral port chosen by the kernel for port 0 is shown),
 * plus the socket options relevant to binding.
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
#define S_IFMT 00170000
#define S_IFSOCK 0140000

enum bind_options_set : __u8 {
	FREEBIND = 0x1,
	TRANSPARENT = 0x2,
	BIND_ADDRESS_NO_PORT = 0x4,
	REUSEADDRESS = 0x8,
	REUSEPORT = 0x10,
};

/* Member order gives the default columns: COMM PID TID UID GID ADDR ... */
struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;
	struct gadget_l4endpoint_t addr;

	gadget_errno error_raw;
	enum bind_options_set opts_raw;
	/* Interface index the socket is bound to (SO_BINDTODEVICE), 0 if none. */
	__u32 bound_dev_if;
};

/* Do not report failed bind calls. */
const volatile bool ignore_errors = true;
GADGET_PARAM(ignore_errors);

/* Arguments saved at entry, keyed by thread id. */
struct bind_args {
	const void *uaddr;
	int fd;
	int addrlen;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct bind_args);
} fds SEC(".maps");

GADGET_TRACER_MAP(events, 1024 * 256);

GADGET_TRACER(bind, events, event);

/* Before Linux 6.6 these flags were bitfields of struct inet_sock. */
struct inet_sock___old {
	__u8 freebind : 1;
	__u8 transparent : 1;
	__u8 bind_address_no_port : 1;
} __attribute__((preserve_access_index));

/* Bit numbers in inet_sock::inet_flags (Linux >= 6.6). */
#define IG_INET_FLAGS_FREEBIND 11
#define IG_INET_FLAGS_TRANSPARENT 15
#define IG_INET_FLAGS_BIND_ADDRESS_NO_PORT 18

static __always_inline __u8 bind_options(struct sock *sk)
{
	struct inet_sock *inet = (struct inet_sock *)sk;
	struct inet_sock___old *old = (void *)sk;
	__u8 opts = 0;

	if (bpf_core_field_exists(inet->inet_flags)) {
		unsigned long flags = BPF_CORE_READ(inet, inet_flags);

		if (flags & (1UL << IG_INET_FLAGS_FREEBIND))
			opts |= FREEBIND;
		if (flags & (1UL << IG_INET_FLAGS_TRANSPARENT))
			opts |= TRANSPARENT;
		if (flags & (1UL << IG_INET_FLAGS_BIND_ADDRESS_NO_PORT))
			opts |= BIND_ADDRESS_NO_PORT;
	} else {
		if (BPF_CORE_READ_BITFIELD_PROBED(old, freebind))
			opts |= FREEBIND;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, transparent))
			opts |= TRANSPARENT;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, bind_address_no_port))
			opts |= BIND_ADDRESS_NO_PORT;
	}

	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse))
		opts |= REUSEADDRESS;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
		opts |= REUSEPORT;
	return opts;
}

/* struct sock of socket file descriptor `fd` of the current task. */
static __always_inline struct sock *sock_from_fd(int fd)
{
	struct file *file = get_struct_file_for_fd(fd);
	struct socket *sock;
	umode_t mode;

	if (!file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int ig_bind_e(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct bind_args a = {};

	if (gadget_should_discard_data_current())
		return 0;

	a.fd = (int)ctx->args[0];
	a.uaddr = (const void *)ctx->args[1];
	a.addrlen = (int)ctx->args[2];
	bpf_map_update_elem(&fds, &tid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int ig_bind_x(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long ret = ctx->ret;
	struct event *event;
	struct sock *sk;
	__u16 family;
	struct bind_args *a;

	a = bpf_map_lookup_elem(&fds, &tid);
	if (!a)
		return 0;

	if (ignore_errors && ret != 0)
		goto cleanup;

	sk = sock_from_fd(a->fd);
	if (!sk)
		goto cleanup;

	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		goto cleanup;

	event = gadget_reserve_buf(&events, sizeof(*event));
	if (!event)
		goto cleanup;

	__builtin_memset(&event->addr, 0, sizeof(event->addr));
	event->timestamp_raw = bpf_ktime_get_boot_ns();
	gadget_process_populate(&event->proc);
	event->error_raw = ret < 0 ? (__u32)-ret : 0;
	event->opts_raw = bind_options(sk);
	event->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);

	event->addr.proto_raw = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	if (ret != 0) {
		/* Not bound: report the address that was asked for. */
		struct sockaddr_in6 sa = {};

		bpf_probe_read_user(&sa, sizeof(sa), a->uaddr);
		event->addr.port = bpf_ntohs(sa.sin6_port);
		if (sa.sin6_family == AF_INET) {
			event->addr.version = 4;
			event->addr.addr_raw.v4 =
				((struct sockaddr_in *)&sa)->sin_addr.s_addr;
		} else {
			event->addr.version = 6;
			__builtin_memcpy(event->addr.addr_raw.v6,
					 &sa.sin6_addr, 16);
		}
	} else if (family == AF_INET) {
		event->addr.port = bpf_ntohs(
			BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
		event->addr.version = 4;
		event->addr.addr_raw.v4 =
			BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	} else {
		event->addr.port = bpf_ntohs(
			BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
		event->addr.version = 6;
		BPF_CORE_READ_INTO(&event->addr.addr_raw.v6, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
	}

	gadget_submit_buf(ctx, &events, event, sizeof(*event));

cleanup:
	bpf_map_delete_elem(&fds, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
