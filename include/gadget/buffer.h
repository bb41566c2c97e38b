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
 * When the reader is woken up.
 *
 * A gadget that defines GADGET_RINGBUF_SUBMIT_FLAGS gets those flags on every
 * bpf_ringbuf_submit/output, as before (0: the kernel wakes the reader each
 * time it had caught up, i.e. for nearly every record of a stream it keeps up
 * with; BPF_RB_NO_WAKEUP if user space polls on a timer).
 *
 * Otherwise the ring is paced: a record forces a wake-up when the data waiting
 * passes a multiple of 1/2^GADGET_RINGBUF_WAKE_SHIFT of the ring (1/8: a storm
 * is read in slices of 1 MiB of an 8 MiB ring, ~4 ms of a 280k/s open() storm,
 * long before it fills), or when the last paced wake-up of this ring is
 * GADGET_RINGBUF_PACE_NS old (the first record after a quiet spell wakes the
 * reader at once); every other record is submitted without one. An exec storm
 * (~600 records/s) then wakes the reader 13 times a second instead of for
 * every record or two (a context switch each, 20-100 us of CPU in a VM; ~50 us
 * per wake-up here: a 75 ms pace took 180-200 wake-ups per 4,000 execs where
 * 40 ms took 315-383, and the reader thread 26-37 ms of CPU instead of 36-46).
 * The pace stays under the reader's 80 ms clock, so that a steady stream is
 * read at the kernel's wake-ups and the clock only ends bursts. The
 * reader reads such a ring on its own clock too (native/src/reader.c: 80 ms
 * after it last took records): a record that came within the pace of the last
 * wake-up, at the end of a burst, waits at most that long. The marker
 * gadget_ringbuf_paced_<name> tells user space the ring is paced, so keep the
 * pace below 80 ms. Crossing a level rather than being above it: a slow reader
 * gets 8 wake-ups per ring, not one per record (each an IPI).
 */
#ifdef GADGET_RINGBUF_SUBMIT_FLAGS
#define __GADGET_RINGBUF_PACED 0
#else
#define __GADGET_RINGBUF_PACED 1
#define GADGET_RINGBUF_SUBMIT_FLAGS 0
#endif
#ifndef GADGET_RINGBUF_PACE_NS
#define GADGET_RINGBUF_PACE_NS 75000000ull
#endif
#ifndef GADGET_RINGBUF_WAKE_SHIFT
#define GADGET_RINGBUF_WAKE_SHIFT 3
#endif

#if __GADGET_RINGBUF_PACED
/* When this ring last forced a wake-up by the clock (racy across CPUs: at worst two wake-ups). */
#define __GADGET_RINGBUF_PACE_STATE(name)                                    \
	const void *gadget_ringbuf_paced_##name __attribute__((unused));     \
	static __u64 name##_woken_ns __attribute__((unused));
#else
#define __GADGET_RINGBUF_PACE_STATE(name)
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
	} name##_lost_samples SEC(".maps");                          \
	__GADGET_RINGBUF_PACE_STATE(name)

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

/*
 * The flags of a record of `len` bytes (header and padding included) on a
 * paced ring; `queued`: the record is reserved already (counted in the data
 * waiting). Kernels without bpf_ringbuf_query get GADGET_RINGBUF_SUBMIT_FLAGS.
 */
static __always_inline __u64 __gadget_ringbuf_flags(void *map, __u64 *woken,
						    __u64 size, int queued)
{
	__u64 len = (size + 8 + 7) & ~7ull, after, step, now;

	if (!woken || !__gadget_have_ringbuf(query))
		return GADGET_RINGBUF_SUBMIT_FLAGS;
	after = bpf_ringbuf_query(map, BPF_RB_AVAIL_DATA);
	if (!queued)
		after += len;
	step = bpf_ringbuf_query(map, BPF_RB_RING_SIZE) >>
	       GADGET_RINGBUF_WAKE_SHIFT;
	/* This record takes the data waiting across a multiple of step (step is a power of two). */
	if ((after ^ (after - len)) >= step)
		return BPF_RB_FORCE_WAKEUP;
	now = bpf_ktime_get_ns();
	if (now - *woken >= GADGET_RINGBUF_PACE_NS) {
		*woken = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

#if __GADGET_RINGBUF_PACED
#define __gadget_woken(map) map##_woken_ns
#else
#define __gadget_woken(map) ((__u64 *)0)
#endif

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
						void *lost_samples,
						__u64 *woken, void *buf,
						__u64 size)
{
	long err;

	if (__gadget_have_ringbuf(submit)) {
		bpf_ringbuf_submit(buf, __gadget_ringbuf_flags(map, woken,
							       size, 1));
		return 0;
	}

	err = bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, buf, size);
	if (err)
		__gadget_count_lost(lost_samples);
	return err;
}

/* Send a buffer obtained from gadget_reserve_buf(). */
#define gadget_submit_buf(ctx, map, buf, size)                            \
	__gadget_submit_buf(ctx, map, map##_lost_samples, __gadget_woken(map), \
			    buf, size)

#endif /* !GADGET_NO_BUF_RESERVE */

static __always_inline long __gadget_output_buf(void *ctx, void *map,
						void *lost_samples,
						__u64 *woken, void *buf,
						__u64 size)
{
	long err;

	if (__gadget_have_ringbuf(output))
		err = bpf_ringbuf_output(map, buf, size,
					 __gadget_ringbuf_flags(map, woken,
								size, 0));
	else
		err = bpf_perf_event_output(ctx, map, BPF_F_CURRENT_CPU, buf,
					    size);
	if (err)
		__gadget_count_lost(lost_samples);
	return err;
}

/* Copy `size` bytes from `buf` into the tracer map as one event. */
#define gadget_output_buf(ctx, map, buf, size)                            \
	__gadget_output_buf(ctx, map, map##_lost_samples, __gadget_woken(map), \
			    buf, size)

#endif /* __GADGET_BUFFER_H */
