/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: small map helpers.
 */

#ifndef __GADGET_MAPS_BPF_H
#define __GADGET_MAPS_BPF_H

#include <bpf/bpf_helpers.h>

/* errno values (EEXIST, ENOENT, ...): upstream gadgets get them from here */
#include <asm-generic/errno.h>

/*
 * Look `key` up in `map`; if it is missing, insert `init` (without
 * overwriting an entry another CPU may have just created) and look it up
 * again. Returns NULL only if the map is full or the insert failed otherwise.
 */
static __always_inline void *
bpf_map_lookup_or_try_init(void *map, const void *key, const void *init)
{
	void *val;
	long err;

	val = bpf_map_lookup_elem(map, key);
	if (val)
		return val;

	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return NULL;

	return bpf_map_lookup_elem(map, key);
}

#endif /* __GADGET_MAPS_BPF_H */
