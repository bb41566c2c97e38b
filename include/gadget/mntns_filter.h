/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: in-kernel container filtering by mount namespace.
 *
 * When ig runs without --host, it replaces `gadget_mntns_filter_map` with a
 * map holding the mount namespaces of the selected containers and sets
 * `gadget_filter_by_mntns` to true before loading. Gadgets call
 * gadget_should_discard_mntns_id() (or the helpers of filter.h) early and
 * drop the event when it returns true.
 */

#ifndef __GADGET_MNTNS_FILTER_H
#define __GADGET_MNTNS_FILTER_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
/* gadgets that include only this header still get BPF_KPROBE() & co, as upstream */
#include <bpf/bpf_tracing.h>

#include <gadget/types.h>

/* Upper bound on the number of containers per node. */
#define GADGET_MAX_CONTAINERS_PER_NODE 1024

/* Set by user space when the map below holds the allowed mount namespaces. */
const volatile bool gadget_filter_by_mntns = false;

/* Mount namespace inode -> 1, for every selected container. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GADGET_MAX_CONTAINERS_PER_NODE);
	__type(key, gadget_mntns_id);
	__type(value, __u32);
} gadget_mntns_filter_map SEC(".maps");

/* True when filtering is on and `mntns_id` is not one of the selected ones. */
static __always_inline bool
gadget_should_discard_mntns_id(gadget_mntns_id mntns_id)
{
	if (!gadget_filter_by_mntns)
		return false;

	return bpf_map_lookup_elem(&gadget_mntns_filter_map, &mntns_id) == NULL;
}

#endif /* __GADGET_MNTNS_FILTER_H */
