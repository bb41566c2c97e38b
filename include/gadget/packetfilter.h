/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: pcap-style packet filters (tcpdump's --pf).
 *
 * GADGET_PF(name) defines a non-inlined function gadget_pf_<name>() that
 * decides whether a packet matches; gadget_pf_matches([name,] skb, data,
 * data_end) calls it. The body compiled here accepts every non-empty packet:
 * it is the place where a loader can splice in a filter compiled from pcap
 * syntax (the skb pointer is passed three times so that the replacement
 * finds it in the registers a classic-BPF-to-eBPF translation expects).
 * GADGET_PF() with no name defines gadget_pf_().
 */

#ifndef __GADGET_PACKETFILTER_H
#define __GADGET_PACKETFILTER_H

#define GADGET_PF(name)                                                      \
	static __noinline bool gadget_pf_##name(void *skb1, void *skb2,       \
						void *skb3, void *data,       \
						void *data_end)               \
	{                                                                    \
		/* keep all arguments live so the signature survives -O2 */  \
		return data != data_end && skb1 == skb2 && skb2 == skb3;      \
	}

#define __GADGET_PF_CALL(name, skb, data, data_end) \
	gadget_pf_##name(skb, skb, skb, data, data_end)

#define __GADGET_PF_MATCHES_3(skb, data, data_end) \
	__GADGET_PF_CALL(, skb, data, data_end)
#define __GADGET_PF_MATCHES_4(name, skb, data, data_end) \
	__GADGET_PF_CALL(name, skb, data, data_end)
#define __GADGET_PF_MATCHES_BAD(...) \
	_Static_assert(0, "gadget_pf_matches: takes ([name,] skb, data, data_end)")

#define __GADGET_PF_PICK(_1, _2, _3, _4, which, ...) which
#define gadget_pf_matches(...)                                             \
	__GADGET_PF_PICK(__VA_ARGS__, __GADGET_PF_MATCHES_4,                \
			 __GADGET_PF_MATCHES_3, __GADGET_PF_MATCHES_BAD,    \
			 __GADGET_PF_MATCHES_BAD)(__VA_ARGS__)

#endif /* __GADGET_PACKETFILTER_H */
