/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: records shared with a GPU metrics bridge (a user-space helper that
 * reads NVML and writes these structs into pinned BPF maps, see
 * gpu_bridge_maps.h). The layouts are an ABI with that helper: same member
 * order, sizes and padding as upstream Inspektor Gadget's gpu-ebpf-bridge,
 * schema version 1.
 *
 * ig ships no bridge: gadgets using these maps build, and read zeroes (or
 * stale data, which gpu_meta_fresh() detects) unless such a helper runs.
 */

#ifndef __GADGET_GPU_TYPES_H
#define __GADGET_GPU_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define GPU_SCHEMA_VERSION 1

/* devices indexed by the bridge */
#define GPU_MAX_DEVICES 16

/* gpu_device_primary value when a process uses several devices */
#define GPU_DEVICE_PRIMARY_MULTI 0xFF

/* Bridge state; last_update_boottime_ns tells whether the data is fresh. */
struct gpu_meta {
	__u32 schema_version;
	__u32 n_devices;
	__u64 last_update_boottime_ns; /* CLOCK_BOOTTIME */
	__u32 helper_pid;
	__u32 _reserved;
	__s64 clock_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
};

/* One device (index = NVML device index). */
struct gpu_device_metrics {
	__u64 timestamp_ns;
	__u32 sm_util_pct;
	__u32 mem_util_pct;
	__u64 mem_total; /* bytes */
	__u64 mem_used; /* bytes, without mem_reserved */
	__u64 mem_reserved; /* bytes */
	__u32 temp_c;
	__u32 power_mw;
	__u32 sm_clock_mhz;
	__u32 mem_clock_mhz;
	__u64 throttle_reasons; /* NVML clock event reason bits */
	__u64 pcie_tx_kbps;
	__u64 pcie_rx_kbps;
	__u32 enc_util_pct;
	__u32 dec_util_pct;
	__u64 nvlink_tx_kbps;
	__u64 nvlink_rx_kbps;
	__u64 ecc_corrected_total;
	__u64 ecc_uncorrected_total;
	__u32 fan_speed_pct;
	__u32 compute_mode;
};

/* One process on one device. */
struct gpu_pid_metrics {
	__u64 timestamp_ns;
	__u64 used_gpu_memory; /* bytes */
	__u32 sm_util_pct;
	__u32 mem_util_pct;
	__u32 enc_util_pct;
	__u32 dec_util_pct;
	__u8 gpu_device;
	__u8 mig_instance;
	__u16 _pad;
};

/* One process over all its devices. */
struct gpu_pid_metrics_aggregated {
	__u64 timestamp_ns;
	__u64 used_gpu_memory_total; /* bytes */
	__u32 sm_util_pct_max;
	__u32 mem_util_pct_max;
	__u8 gpu_device_primary;
	__u8 device_count;
	__u16 _pad;
};

#endif /* __GADGET_GPU_TYPES_H */
