// SPDX-License-Identifier: GPL-2.0
/*
 * trace_ssl: the clear text of TLS connections made with OpenSSL, and the
 * time each call took.
 *
 * uprobes on libssl's SSL_read() / SSL_write() remember the caller's buffer
 * per thread; the matching uretprobes copy what was read or written (up to
 * 8191 bytes, with --record-data) into the event. SSL_do_handshake() is timed
 * the same way and reports its result. Events are variable-sized: the
 * record ends after the copied part of `buf`.
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define GADGET_NO_BUF_RESERVE
#include <gadget/buffer.h>
#include <gadget/common.h>
#include <gadget/filter.h>
#include <gadget/macros.h>
#include <gadget/types.h>

#define MAX_BUF_SIZE 8192 /* a power of two: the copy size is masked with it */
#define MAX_CALLS 8192

/* Operations, with upstream's names (this gadget attaches to libssl). */
enum operation {
	libssl_SSL_do_handshake,
	libssl_SSL_read,
	libssl_SSL_write,
	libgnutls_gnutls_record_send,
	libgnutls_gnutls_record_recv,
	libnss_PR_Write,
	libnss_PR_Send,
	libnss_PR_Read,
	libnss_PR_Recv,
	libcrypto_rsa_ossl_public_encrypt,
	libcrypto_rsa_ossl_public_decrypt,
	libcrypto_rsa_ossl_private_encrypt,
	libcrypto_rsa_ossl_private_decrypt,
	libcrypto_RSA_sign,
	libcrypto_RSA_verify,
	libcrypto_ossl_ecdsa_sign,
	libcrypto_ossl_ecdsa_verify,
	libcrypto_ossl_ecdh_compute_key,
};

struct event {
	gadget_timestamp timestamp_raw;
	struct gadget_process proc;

	enum operation operation_raw;
	gadget_duration latency_ns_raw;
	/* bytes read or written (the return value); buf holds at most 8 KiB of them */
	__u32 len;
	gadget_errno error_raw;
	char buf[MAX_BUF_SIZE]; /* shown as text (up to the first NUL) */
};

#define HEADER_SIZE ((__u64)(&((struct event *)0)->buf))

/* Copy the data read or written into `buf`. */
const volatile bool record_data = true;
GADGET_PARAM(record_data);

GADGET_TRACER_MAP(events, 1024 * 1024);
GADGET_TRACER(ssl, events, event);

/* A call in progress, per thread. */
struct call {
	__u64 start;
	const void *buf;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CALLS);
	__type(key, __u32);
	__type(value, struct call);
} calls SEC(".maps");

/* The event is built here and only its used part is copied to the ring. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

static __always_inline int call_enter(const void *buf)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call c = { .start = bpf_ktime_get_boot_ns(), .buf = buf };

	if (gadget_should_discard_data_current())
		return 0;
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline int call_exit(struct pt_regs *ctx, enum operation op,
				     bool data)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	int ret = (int)PT_REGS_RC(ctx);
	struct call *c;
	struct event *e;
	__u32 n = 0, zero = 0;
	__u64 now = bpf_ktime_get_boot_ns();

	c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	/* a read or write that moved nothing is not reported */
	if (data && ret <= 0)
		goto out;

	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		goto out;
	e->timestamp_raw = now;
	gadget_process_populate(&e->proc);
	e->operation_raw = op;
	e->latency_ns_raw = now - c->start;
	e->len = ret > 0 ? ret : 0;
	/* OpenSSL returns <= 0 on failure: not an errno, reported as upstream does */
	e->error_raw = ret <= 0 ? -ret : 0;
	if (data && record_data) {
		/* at most MAX_BUF_SIZE - 1 bytes: the mask is what the verifier needs */
		n = (__u32)ret >= MAX_BUF_SIZE ? MAX_BUF_SIZE - 1 : (__u32)ret;
		n &= MAX_BUF_SIZE - 1;
		if (bpf_probe_read_user(e->buf, n, c->buf))
			n = 0;
	}
	/* variable-sized record: user space zero-pads the rest of buf */
	if (n <= MAX_BUF_SIZE)
		gadget_output_buf(ctx, &events, e, HEADER_SIZE + n);
out:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

SEC("uprobe/libssl:SSL_write")
int ig_ssl_write_e(struct pt_regs *ctx)
{
	return call_enter((const void *)PT_REGS_PARM2(ctx));
}

SEC("uretprobe/libssl:SSL_write")
int ig_ssl_write_x(struct pt_regs *ctx)
{
	return call_exit(ctx, libssl_SSL_write, true);
}

SEC("uprobe/libssl:SSL_read")
int ig_ssl_read_e(struct pt_regs *ctx)
{
	return call_enter((const void *)PT_REGS_PARM2(ctx));
}

SEC("uretprobe/libssl:SSL_read")
int ig_ssl_read_x(struct pt_regs *ctx)
{
	return call_exit(ctx, libssl_SSL_read, true);
}

SEC("uprobe/libssl:SSL_do_handshake")
int ig_ssl_hs_e(struct pt_regs *ctx)
{
	return call_enter(NULL);
}

SEC("uretprobe/libssl:SSL_do_handshake")
int ig_ssl_hs_x(struct pt_regs *ctx)
{
	return call_exit(ctx, libssl_SSL_do_handshake, false);
}

/* A thread killed between a uprobe and its uretprobe leaves an entry. */
SEC("tracepoint/sched/sched_process_exit")
int ig_ssl_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
