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

/*
 * Upstream's interface: an accumulator updated with integers, least
 * significant byte first (used by user_stack_map.h for base_addr_hash).
 */
#define FNV1_32_INIT ((__u32)GADGET_FNV1A_32_OFFSET)
#define FNV1_32_PRIME ((__u32)GADGET_FNV1A_32_PRIME)
#define FNV1_64_INIT ((__u64)GADGET_FNV1A_64_OFFSET)
#define FNV1_64_PRIME ((__u64)GADGET_FNV1A_64_PRIME)

static __always_inline __u32 fnv_32a_init(void)
{
	return FNV1_32_INIT;
}

static __always_inline __u64 fnv_64a_init(void)
{
	return FNV1_64_INIT;
}

#define __GADGET_FNV_UPDATE_FN(fn, acc_t, val_t, prime)           \
	static __always_inline void fn(acc_t *acc, val_t v)        \
	{                                                          \
		for (unsigned int b = 0; b < sizeof(val_t); b++) { \
			*acc ^= (acc_t)((v >> (8 * b)) & 0xff);      \
			*acc *= prime;                             \
		}                                                  \
	}

__GADGET_FNV_UPDATE_FN(fnv_32a_update_u8, __u32, __u8, FNV1_32_PRIME)
__GADGET_FNV_UPDATE_FN(fnv_32a_update_u16, __u32, __u16, FNV1_32_PRIME)
__GADGET_FNV_UPDATE_FN(fnv_32a_update_u32, __u32, __u32, FNV1_32_PRIME)
__GADGET_FNV_UPDATE_FN(fnv_32a_update_u64, __u32, __u64, FNV1_32_PRIME)
__GADGET_FNV_UPDATE_FN(fnv_64a_update_u8, __u64, __u8, FNV1_64_PRIME)
__GADGET_FNV_UPDATE_FN(fnv_64a_update_u16, __u64, __u16, FNV1_64_PRIME)
__GADGET_FNV_UPDATE_FN(fnv_64a_update_u32, __u64, __u32, FNV1_64_PRIME)
__GADGET_FNV_UPDATE_FN(fnv_64a_update_u64, __u64, __u64, FNV1_64_PRIME)

#undef __GADGET_FNV_UPDATE_FN

#endif /* __GADGET_FNV1A_H */
