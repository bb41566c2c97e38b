/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: the pinned maps a GPU metrics bridge fills (records in gpu_types.h).
 * Define the GPU_BRIDGE_WANT_* macros for the maps a gadget reads
 * (GPU_BRIDGE_WANT_ALL for all) before including this header. The maps are
 * pinned by name, so every gadget shares the bridge's copy.
 */

#ifndef __GADGET_GPU_BRIDGE_MAPS_H
#define __GADGET_GPU_BRIDGE_MAPS_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include <gadget/gpu_types.h>

#ifdef GPU_BRIDGE_WANT_ALL
#define GPU_BRIDGE_WANT_META
#define GPU_BRIDGE_WANT_DEVICE
#define GPU_BRIDGE_WANT_PER_PID
#define GPU_BRIDGE_WANT_PER_PID_PER_DEVICE
#endif

#ifdef GPU_BRIDGE_WANT_META
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gpu_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gpu_meta SEC(".maps");

/* The bridge's state if it ticked within the last `stale_ms`, else NULL. */
static __always_inline struct gpu_meta *gpu_meta_fresh(__u64 now_boot_ns,
						       __u64 stale_ms)
{
	__u32 key = 0;
	struct gpu_meta *m = bpf_map_lookup_elem(&gpu_meta, &key);

	if (!m || now_boot_ns - m->last_update_boottime_ns > stale_ms * 1000000ULL)
		return NULL;
	return m;
}
#endif

#ifdef GPU_BRIDGE_WANT_DEVICE
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GPU_MAX_DEVICES);
	__type(key, __u32);
	__type(value, struct gpu_device_metrics);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gpu_device SEC(".maps");
#endif

#ifdef GPU_BRIDGE_WANT_PER_PID
/* key: host tgid */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct gpu_pid_metrics_aggregated);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gpu_per_pid SEC(".maps");

/* The process' aggregated record if it holds at least `min_bytes`, else NULL. */
static __always_inline struct gpu_pid_metrics_aggregated *
gpu_pid_holder(__u32 tgid, __u64 min_bytes)
{
	struct gpu_pid_metrics_aggregated *g =
		bpf_map_lookup_elem(&gpu_per_pid, &tgid);

	if (!g || g->used_gpu_memory_total < min_bytes)
		return NULL;
	return g;
}
#endif

#ifdef GPU_BRIDGE_WANT_PER_PID_PER_DEVICE
/* key: (host tgid << 32) | device index */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct gpu_pid_metrics);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gpu_per_pid_per_device SEC(".maps");
#endif

#endif /* __GADGET_GPU_BRIDGE_MAPS_H */
