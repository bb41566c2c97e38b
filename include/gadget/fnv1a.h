/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: FNV-1a hashes (32 and 64 bit), usable in eBPF code.
 */

#ifndef __GADGET_FNV1A_H
#define __GADGET_FNV1A_H

#define GADGET_FNV1A_32_OFFSET 2166136261U
#define GADGET_FNV1A_32_PRIME 16777619U
#define GADGET_FNV1A_64_OFFSET 14695981039346656037ULL
#define GADGET_FNV1A_64_PRIME 1099511628211ULL

/* Continue a 32-bit FNV-1a hash `h` with `len` bytes of `data`. */
static __always_inline __u32 fnv1a_32_update(__u32 h, const void *data,
					     __u32 len)
{
	const __u8 *p = data;

	for (__u32 i = 0; i < len; i++) {
		h ^= p[i];
		h *= GADGET_FNV1A_32_PRIME;
	}
	return h;
}

static __always_inline __u32 fnv1a_32(const void *data, __u32 len)
{
	return fnv1a_32_update(GADGET_FNV1A_32_OFFSET, data, len);
}

/* Continue a 64-bit FNV-1a hash `h` with `len` bytes of `data`. */
static __always_inline __u64 fnv1a_64_update(__u64 h, const void *data,
					     __u32 len)
{
	const __u8 *p = data;

	for (__u32 i = 0; i < len; i++) {
		h ^= p[i];
		h *= GADGET_FNV1A_64_PRIME;
	}
	return h;
}

static __always_inline __u64 fnv1a_64(const void *data, __u32 len)
{
	return fnv1a_64_update(GADGET_FNV1A_64_OFFSET, data, len);
}

/* Hash one 32/64-bit value without a byte loop. */
static __always_inline __u32 fnv1a_32_u64(__u32 h, __u64 v)
{
#pragma unroll
	for (int i = 0; i < 8; i++) {
		h ^= (__u8)(v >> (8 * i));
		h *= GADGET_FNV1A_32_PRIME;
	}
	return h;
}

#endif /* __GADGET_FNV1A_H */
