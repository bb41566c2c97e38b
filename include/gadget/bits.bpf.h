/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: integer log2 and histogram slot helpers.
 *
 * Histograms are arrays of gadget_histogram_slot__u32/u64 counters where slot
 * i counts values v with floor(log2(v)) == i (slot 0 also counts v == 0).
 */

#ifndef __GADGET_BITS_BPF_H
#define __GADGET_BITS_BPF_H

#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, val) ((*(volatile typeof(x) *)&(x)) = (val))

/* floor(log2(v)) for a 32-bit value, 0 for v == 0. Branch-free. */
static __always_inline __u64 log2(__u32 v)
{
	__u32 r = 0, step;

	step = (v > 0xFFFF) << 4;
	v >>= step;
	r |= step;
	step = (v > 0xFF) << 3;
	v >>= step;
	r |= step;
	step = (v > 0xF) << 2;
	v >>= step;
	r |= step;
	step = (v > 0x3) << 1;
	v >>= step;
	r |= step;
	r |= (v >> 1);
	return r;
}

/* floor(log2(v)) for a 64-bit value, 0 for v == 0. */
static __always_inline __u64 log2l(__u64 v)
{
	__u32 hi = v >> 32;

	if (hi)
		return log2(hi) + 32;
	return log2((__u32)v);
}

/* Histogram slot index of `value`, clamped to [0, max_slots - 1]. */
/*
 * Histogram slot of `value`, in one of two conventions (picked by the number
 * of arguments):
 *  - get_slot_idx(value), as upstream's gadgets use it: 0 for 0, else
 *    log2(value) + 1, so slot i (i > 0) holds [2^(i-1), 2^i);
 *  - get_slot_idx(value, max_slots), ig's: log2(value), so slot i holds
 *    [2^i, 2^(i+1)) (and 0, 1 share slot 0), capped at max_slots - 1.
 * Callers bound the result themselves in the one-argument form (it is at
 * most 64).
 */
static __always_inline __u64 __gadget_slot_idx_upstream(__u64 value)
{
	if (value == 0)
		return 0;
	return log2l(value) + 1;
}

static __always_inline __u32 __gadget_slot_idx_capped(__u64 value,
						      __u32 max_slots)
{
	__u64 slot = log2l(value);

	if (slot >= max_slots)
		slot = max_slots - 1;
	return (__u32)slot;
}

#define __GADGET_SLOT_IDX_PICK(_1, _2, name, ...) name
#define get_slot_idx(...)                                                \
	__GADGET_SLOT_IDX_PICK(__VA_ARGS__, __gadget_slot_idx_capped,       \
			       __gadget_slot_idx_upstream)(__VA_ARGS__)

#endif /* __GADGET_BITS_BPF_H */
