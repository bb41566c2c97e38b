/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ig: sending events from eBPF to user space.
 *
 * GADGET_TRACER_MAP(name, size) declares a BPF ring buffer of `size` bytes
 * plus a per-CPU counter `name_lost_samples` of events that could not be
 * sent. On kernels without ring buffers, user space turns `name` into a
 * PERF_EVENT_ARRAY before loading; the helpers below notice that at load time
 * (through a CO-RE check of enum bpf_func_id against the kernel's BTF) and
 * fall back to bpf_perf_event_output() with a per-CPU scratch buffer.
 *
 * Two ways to emit an event:
 *
 *   reserve/submit (no copy):
 *     struct event *e = gadget_reserve_buf(&events, sizeof(*e));
 *     if (!e) return 0;          // already counted as lost
 *     ... fill e ...
 *     gadget_submit_buf(ctx, &events, e, sizeof(*e));   // or gadget_discard_buf(e)
 *
 *   output (copy from a buffer you own, e.g. a map value):
 *     gadget_output_buf(ctx, &events, e, len);
 *
 * `map` must be given as `&<name>` of a map declared with GADGET_TRACER_MAP:
 * the macros derive the lost-samples counter from the name.
 * Define GADGET_NO_BUF_RESERVE before including this header to drop the
 * reserve API and the `gadget_heap` map.
 */

#ifndef __GADGET_BUFFER_H
#define __GADGET_BUFFER_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Largest event the perf-buffer fallback can carry (size of gadget_heap). */
#ifndef GADGET_MAX_EVENT_SIZE
#define GADGET_MAX_EVENT_SIZE 10240
#endif

/*
 * Flags passed to bpf_ringbuf_submit/output. 0 wakes the reader on every
 * event; a gadget may define BPF_RB_NO_WAKEUP if user space polls on a timer.
 */
#ifndef GADGET_RINGBUF_SUBMIT_FLAGS
#define GADGET_RINGBUF_SUBMIT_FLAGS 0
#endif

#define GADGET_TRACER_MAP(name, size)                                \
	struct {                                                     \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                  \
		__uint(max_entries, size);                           \
	} name SEC(".maps");                                         \
	const void *gadget_map_tracer_##name __attribute__((unused)); \
	struct {                                                     \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);             \
		__uint(max_entries, 1);                              \
		__type(key, __u32);                                  \
		__type(value, __u64);                                \
	} name##_lost_samples SEC(".maps");

/* Count one lost event in a `<name>_lost_samples` map. */
static __always_inline void __gadget_count_lost(void *lost_samples)
{
	__u32 zero = 0;
	__u64 *cnt = bpf_map_lookup_elem(lost_samples, &zero);

	if (cnt)
		*cnt += 1;
}

#define __gadget_have_ringbuf(fn) \
	bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_ringbuf_##fn)

#ifndef GADGET_NO_BUF_RESERVE

/* Per-CPU scratch event used when ring buffers are not available. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, GADGET_MAX_EVENT_SIZE);
} gadget_heap SEC(".maps");

static __always_inline void *__gadget_reserve_buf(void *map,
						  void *lost_samples,
						  __u64 size)
{
	__u32 zero = 0;
	void *buf;

	if (__gadget_have_ringbuf(reserve)) {
		buf = bpf_ringbuf_reserve(map, size, 0);
		if (!buf)
			__gadget_count_lost(lost_samples);
		return buf;
	}

	if (size > GADGET_MAX_EVENT_SIZE) {
		__gadget_count_lost(lost_samples);
		return NULL;
	}
	return bpf_map_lookup_elem(&gadget_heap, &zero);
}

/*
 * Reserve `size` bytes for an event. Returns NULL (and counts a lost event)
 * when the ring buffer is full.
 */
#define gadget_reserve_buf(map, size) \
	__gadget_reserve_buf(map, map##_lost_samples, size)

/* Give back a buffer obtained from gadget_reserve_buf() without sending it. */
static __always_inline void gadget_discard_buf(void *buf)
{
	if (__gadget_have_ringbuf(discard))
		bpf_ringbuf_discard(buf, 0);
}

static __always_inline long __gadget_submit_buf(void *ctx, void *map,
						void *lost_samples, void *buf,
						__u64 size)
{
	long err;

	if (__gadget_have_ringbuf(submit)) {
		bpf_ringbuf_submit(buf, GADGET_RINGBUF_SUBMIT_FLAGS);
		return 0;
	}

	err = bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, buf, size);
	if (err)
		__gadget_count_lost(lost_samples);
	return err;
}

/* Send a buffer obtained from gadget_reserve_buf(). */
#define gadget_submit_buf(ctx, map, buf, size) \
	__gadget_submit_buf(ctx, map, map##_lost_samples, buf, size)

#endif /* !GADGET_NO_BUF_RESERVE */

static __always_inline long __gadget_output_buf(void *ctx, void *map,
						void *lost_samples, void *buf,
						__u64 size)
{
	long err;

	if (__gadget_have_ringbuf(output))
		err = bpf_ringbuf_output(map, buf, size,
					 GADGET_RINGBUF_SUBMIT_FLAGS);
	else
		err = bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, buf,
					    size);
	if (err)
		__gadget_count_lost(lost_samples);
	return err;
}

/* Copy `size` bytes from `buf` into the tracer map as one event. */
#define gadget_output_buf(ctx, map, buf, size) \
	__gadget_output_buf(ctx, map, map##_lost_samples, buf, size)

#endif /* __GADGET_BUFFER_H */
