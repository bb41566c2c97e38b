// SPDX-License-Identifier: GPL-2.0
/*
 * profile_tcprtt: histogram of TCP smoothed round-trip times.
 *
 * tcp/tcp_probe fires in tcp_rcv_established() for each segment received
 * on an established connection and carries the socket's smoothed RTT (µs).
 * Each sample goes to a log2 histogram (µs, or ms with --ms), optionally
 * one per local or remote address. User space reads the `hists` map
 * (GADGET_MAPITER).
 */

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <gadget/bits.bpf.h>
#include <gadget/macros.h>
#include <gadget/maps.bpf.h>
#include <gadget/types.h>

#ifndef PROFILER_MAX_SLOTS
#define PROFILER_MAX_SLOTS 27
#endif

#define AF_INET 2
#define AF_INET6 10

/* Only connections with this local / remote port (0: any). */
const volatile __u16 targ_sport = 0;
GADGET_PARAM(targ_sport);
const volatile __u16 targ_dport = 0;
GADGET_PARAM(targ_dport);

/* Only connections with this local / remote IP address. */
const volatile struct gadget_l3endpoint_t targ_laddr = {};
GADGET_PARAM(targ_laddr);
const volatile struct gadget_l3endpoint_t targ_raddr = {};
GADGET_PARAM(targ_raddr);

/* One histogram per local address / per remote address. */
const volatile bool targ_laddr_hist = false;
GADGET_PARAM(targ_laddr_hist);
const volatile bool targ_raddr_hist = false;
GADGET_PARAM(targ_raddr_hist);

/* Use milliseconds instead of microseconds. */
const volatile bool targ_ms = false;
GADGET_PARAM(targ_ms);

struct hist_key {
	/* Local or remote address with --*-addr-hist, zero otherwise. */
	struct gadget_l3endpoint_t addr;
};

struct hist_value {
	gadget_histogram_slot__u32 latency[PROFILER_MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, struct hist_value);
} hists SEC(".maps");

GADGET_MAPITER(tcprtt, hists);

static const struct hist_value zero;

/* Compare a filter address with a socket address (v4 or v6). */
static __always_inline bool addr_mismatch(const volatile struct gadget_l3endpoint_t *f,
					  __u16 family, const __u8 *a)
{
	if (f->version == 0)
		return false;
	if (f->version == 4)
		return family != AF_INET ||
		       f->addr_raw.v4 != *(const __u32 *)a;
	if (family != AF_INET6)
		return true;
	for (int i = 0; i < 16; i++) {
		if (f->addr_raw.v6[i] != a[i])
			return true;
	}
	return false;
}

SEC("tracepoint/tcp/tcp_probe")
int ig_tcprtt(struct trace_event_raw_tcp_probe *ctx)
{
	struct sock *sk = (struct sock *)ctx->skaddr;
	/*
	 * Plain byte arrays rather than union gadget_ip_addr_t locals: the
	 * union is 16-byte aligned, which lets clang combine stack pointers
	 * with `|`, something the verifier rejects.
	 */
	__u8 laddr[16] __attribute__((aligned(8))) = {};
	__u8 raddr[16] __attribute__((aligned(8))) = {};
	struct hist_key key = {};
	struct hist_value *histp;
	__u16 family = ctx->family;
	__u32 srtt = ctx->srtt;
	__u64 slot;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (targ_sport && targ_sport != ctx->sport)
		return 0;
	if (targ_dport && targ_dport != ctx->dport)
		return 0;

	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&laddr, sk,
				   __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&raddr, sk,
				   __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	if (addr_mismatch(&targ_laddr, family, laddr) ||
	    addr_mismatch(&targ_raddr, family, raddr))
		return 0;

	if (targ_laddr_hist || targ_raddr_hist) {
		key.addr.version = family == AF_INET ? 4 : 6;
		if (targ_laddr_hist)
			__builtin_memcpy(key.addr.addr_raw.v6, laddr, 16);
		else
			__builtin_memcpy(key.addr.addr_raw.v6, raddr, 16);
	}

	histp = bpf_map_lookup_or_try_init(&hists, &key, &zero);
	if (!histp)
		return 0;

	if (targ_ms)
		srtt /= 1000U;
	slot = get_slot_idx(srtt, PROFILER_MAX_SLOTS);
	__sync_fetch_and_add(&histp->latency[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
