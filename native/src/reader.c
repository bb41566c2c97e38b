/* Ring buffer and perf buffer readers: one poll thread per reader, batches handed to JS through a
 * threadsafe function, bounded so that a slow JS side pushes back on the kernel ring.
 *
 * Thread model
 *   poll thread:  epoll_wait on {ring/perf epoll fd, stop eventfd}
 *                 -> ring_buffer__consume / perf_buffer__consume
 *                 -> sample callback appends [u32 len][u32 cpu][payload, 8-aligned] to the current batch
 *                 -> batch is queued when full, maxLatencyMs after its first record, or on stop
 *                 -> after a non-empty consume, sleep lingerUs (interruptible) so records pile up; with
 *                    lingerMaxUs, a linger that found records doubles the next one up to it (see adapt_linger).
 *                 A paced ring (opts.paced) wakes the thread itself only now and then: no linger (paced_loop).
 *   queue:        FIFO of ready batches guarded by a mutex; the poll thread waits on a condition
 *                 variable while `queue` batches are pending (back-pressure: the kernel ring fills
 *                 and the BPF side counts its drops). A queued batch triggers at most one pending
 *                 threadsafe-function call; the JS-thread callback pops batches one at a time,
 *                 wraps each in an external Buffer (freed by its finaliser) and calls cb(buf, count).
 *   readerStop:   sets the stop flag, wakes the thread (eventfd + condvar), joins it (the thread
 *                 never blocks once stop is set), then delivers every pending batch synchronously
 *                 and releases the threadsafe function. Idempotent.
 *   teardown:     the env cleanup hook, the handle finaliser and the threadsafe function's
 *                 finaliser each hard-stop a running reader (join, free without calling JS).
 *
 * Aggregate mode (opts.aggregate, metrics_agg.c): every record is counted per key on the poll thread and no
 * batch is queued; JS drains the aggregator when it collects.
 *
 * Why not napi_tsfn_blocking with max_queue_size: readerStop runs on the JS thread and must join
 * the poll thread; a thread blocked inside a full TSFN queue could only be released by the JS
 * thread itself, which would deadlock. A condition variable we control can be woken by stop. */
#include "addon.h"
#include "render_plan.h"
#include "metrics_agg.h"
#include "record_writer.h"
#include "batch_pool.h"
#include "wire_batch.h"

#include <uv.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

enum { READER_RING = 1, READER_PERF = 2 };
enum { TAG_STOP = 1, TAG_DATA = 2 };
enum { BATCH_RECORDS = 0, BATCH_REFRESH = 1, BATCH_FRAME = 2, BATCH_MEMO = 3 };
#define REFRESH_BATCH_BYTES (64u * 1024u)
#define WIRE_FRAME_SLACK (64u * 1024u)
#define IG_MAGIC_BATCH 0x1b0ba7c4u

typedef struct ig_batch {
  struct ig_batch *next;
  size_t len, cap;
  uint32_t count;
  uint32_t kind;  /* BATCH_RECORDS, BATCH_REFRESH: records whose stale memo fragments JS should recompute,
                   * BATCH_FRAME: one batch frame of the packet codec (wire mode), count records, or
                   * BATCH_MEMO: records the plan missed on: JS fills their memos, the poll thread renders them */
  uint32_t magic; /* IG_MAGIC_BATCH: readerFrameKept finds the batch of a frame Buffer */
  uint32_t reported; /* its size was reported to V8 as external memory */
  ig_batch_pool *pool; /* the pool this full-size batch goes back to (batch_pool.c), or NULL: malloc'd */
  uint8_t data[]; /* 8-aligned: header is 48 bytes */
} ig_batch;

struct ig_reader {
  uint32_t magic;
  uv_timer_t *rearm; /* defers the next delivery to the next loop turn (main thread only) */
  int kind;
  ig_env *ienv;
  ig_reader *next_live;

  /* BPF ring buffer, mapped here rather than through libbpf's ring_buffer: libbpf publishes the consumer
   * position after every record, and the producer reads that cache line on every reserve; we publish it
   * every RING_PUBLISH_BYTES and at the end of a poll. */
  uint64_t *cons_pos;       /* consumer page (rw) */
  const uint64_t *prod_pos; /* producer page, followed by the data pages mapped twice (ro) */
  const uint8_t *ring_data;  /* mapped once (the kernel would let us map it twice in a row, but every mapped
                              * page counts in RSS: records that wrap are copied into wrap_buf instead) */
  uint64_t ring_mask;
  uint8_t *wrap_buf;
  size_t wrap_cap;
  size_t cons_map_len, prod_map_len;
  bool discard;             /* opts.discard: advance over records without reading them (benchmark floor) */
  struct perf_buffer *pb;
  int efd, epfd;
  pthread_t thread;
  bool thread_running;

  napi_threadsafe_function tsfn;
  napi_ref cb_ref;
  napi_ref self_ref;

  pthread_mutex_t mu;
  pthread_cond_t cv;
  ig_batch *head, *tail; /* ready batches, guarded by mu */
  uint32_t qlen, qmax;
  bool wake_pending;

  /* poll-thread only */
  ig_batch *cur;
  ig_batch *refresh; /* render mode: records to hand to JS only for their memos (nothing printed) */
  uint64_t cur_first_ns;
  uint32_t appended;
  uint64_t drain_bytes, drain_limit;

  size_t max_batch;
  ig_batch_pool *pool; /* blocks of max_batch records, reused (NULL when out of memory: plain malloc) */
  uint64_t max_latency_ns, linger_ns;
  uint64_t linger_max_ns, linger_cur_ns; /* opts.lingerMaxUs; the linger in use (adapt_linger) */
  uint64_t last_records_ns;              /* growing lingers: when a consume last took records */
  uint64_t lingers_skipped;              /* atomic: consumes of a sparse stream not followed by a linger */
  uint64_t consumed_bytes;               /* poll thread: ring bytes the last consume took */
  uint64_t polls, linger_peak_ns;        /* atomic: consumes that took records; longest linger used */
  bool paced;                            /* opts.paced: the producer paces its wake-ups (paced_loop) */
  bool ring_busy;                        /* poll thread: the last consume stopped at a record not committed yet */
  uint64_t paced_timeouts;               /* atomic: paced consumes on the thread's own clock that took records */

  /* Render mode (opts.render): records become JSON lines on this thread, written to out.fd. A record the plan
   * cannot render (a memo miss) and the rest of that consume go to JS as a batch; the thread waits until JS has
   * rendered it (and filled the memos) before it goes on, so lines keep their order. */
  ig_plan *plan;
  ig_out out;
  bool fallback;         /* poll thread: records go to JS until the end of this consume */
  bool render_off;       /* poll thread: too many misses, JS renders everything from now on */
  uint32_t fallback_records, episodes;
  uint64_t window_rendered;
  uint64_t window_start_ns, now_ns;
  uint32_t in_flight;    /* batches popped and being delivered; guarded by mu */
  uint64_t rendered;     /* atomic */
  /* opts.memoRequests: a memo miss does not leave the thread: the records go to JS as a BATCH_MEMO (JS only fills
   * the memos), the thread waits, then renders them itself in place, in order; only a record that still misses
   * goes to JS to be rendered there (render_in_place). */
  bool memo_requests;
  bool in_place;         /* poll thread: this consume's fallback began with a memo miss */
  uint8_t *held;         /* poll thread: the records of the BATCH_MEMO, kept to render them afterwards */
  size_t held_cap;
  uint64_t in_place_done; /* atomic: records rendered here after JS filled their memos */

  /* Aggregate mode (opts.aggregate): every record is counted per key by a metrics aggregator on this thread and
   * none reaches JS (metrics_agg.c). */
  ig_magg *agg;
  uint64_t aggregated;   /* atomic */

  /* Record mode (opts.record, record_writer.c): every batch goes to the recorder as data source rec_ds when it is
   * flushed; none reaches JS. With render mode: the records the plan rendered go to the recorder, flushed before a
   * miss hands records to JS (which records those after the host facts it asked for), so the recording keeps the
   * order of the lines. */
  ig_recorder *rec;
  uint16_t rec_ds;

  /* Wire mode (opts.wire, wire_stream.c): records become batch frames of the packet codec on this thread; JS gets
   * one ready frame per batch. A memo miss hands the record (and the rest of that consume) to JS as in render
   * mode, after the frame so far, and the thread waits until JS has encoded them (and filled the memos). */
  ig_wire_stream *wire;
  uint64_t wire_first_ns;

  int stop;                                /* atomic */
  uint64_t records, batches, lost, dropped; /* atomic */
  int error;                               /* errno of a fatal poll error (set by the thread before exit) */

  bool stopped;       /* JS thread: stop done, resources released */
  bool paused;        /* JS thread: readerPause; batches stay queued, so the poll thread blocks and the ring fills */
  bool tsfn_released;
  int refs;           /* handle external + threadsafe function */
};

static bool stopping(ig_reader *r) { return __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) != 0; }

/* Every batch ends here: back to its pool, or freed. */
static void batch_release(ig_batch *b) {
  if (!b) return;
  if (b->pool)
    ig_batch_pool_give(b->pool, b);
  else
    free(b);
}

/* ---------------------------------------------------------------------------------------------
 * Poll thread side
 * ------------------------------------------------------------------------------------------- */
static void queue_batch(ig_reader *r, ig_batch *b) {
  pthread_mutex_lock(&r->mu);
  while (r->qlen >= r->qmax && !stopping(r)) pthread_cond_wait(&r->cv, &r->mu);
  b->next = NULL;
  if (r->tail)
    r->tail->next = b;
  else
    r->head = b;
  r->tail = b;
  r->qlen++;
  if (b->kind == BATCH_RECORDS || b->kind == BATCH_FRAME) {
    __atomic_add_fetch(&r->records, b->count, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->batches, 1, __ATOMIC_RELAXED);
  }
  bool wake = !r->wake_pending;
  r->wake_pending = true;
  pthread_mutex_unlock(&r->mu);
  if (wake && napi_call_threadsafe_function(r->tsfn, NULL, napi_tsfn_nonblocking) != napi_ok) {
    /* The threadsafe function is closing (env teardown): the batch stays queued and is freed by
     * the hard stop. */
    pthread_mutex_lock(&r->mu);
    r->wake_pending = false;
    pthread_mutex_unlock(&r->mu);
  }
}

static void flush(ig_reader *r) {
  ig_batch *b = r->cur;
  r->cur = NULL;
  if (!b) return;
  if (!b->count) {
    batch_release(b);
    return;
  }
  /* A batch flushed by the latency timer is often mostly empty: give the rest back before it waits in the
   * queue and lives on as a JS Buffer until the next GC. A pooled one is copied out and goes back to its pool,
   * unless JS hands batches back as soon as it has read them (batchRelease): then it keeps its block. */
  if (r->rec && !r->fallback) {
    ig_rec_batch(r->rec, r->rec_ds, b->data, b->len, b->count);
    __atomic_add_fetch(&r->records, b->count, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->batches, 1, __ATOMIC_RELAXED);
    b->len = 0;
    b->count = 0;
    r->cur = b; /* the next batch reuses it */
    return;
  }
  if (b->len < b->cap / 2 && b->pool && !ig_batch_pool_prompt(b->pool)) {
    ig_batch *small = malloc(sizeof *b + b->len);
    if (small) {
      memcpy(small, b, sizeof *b + b->len);
      small->cap = small->len;
      small->pool = NULL;
      batch_release(b);
      b = small;
    }
  } else if (b->len < b->cap / 2 && !b->pool) {
    ig_batch *small = realloc(b, sizeof *b + b->len);
    if (small) {
      b = small;
      b->cap = b->len;
    }
  }
  queue_batch(r, b);
}

static ig_batch *batch_new(size_t cap, uint32_t kind) {
  ig_batch *b = malloc(sizeof *b + cap);
  if (!b) return NULL;
  b->next = NULL;
  b->len = 0;
  b->cap = cap;
  b->count = 0;
  b->kind = kind;
  b->magic = IG_MAGIC_BATCH;
  b->reported = 0;
  b->pool = NULL;
  return b;
}

/* A batch of max_batch bytes for records, from the reader's pool when it has one. */
static ig_batch *batch_full(ig_reader *r) {
  if (!r->pool) return batch_new(r->max_batch, BATCH_RECORDS);
  ig_batch *b = ig_batch_pool_take(r->pool);
  if (!b) return NULL;
  b->next = NULL;
  b->len = 0;
  b->cap = r->max_batch;
  b->count = 0;
  b->kind = BATCH_RECORDS;
  b->magic = IG_MAGIC_BATCH;
  b->reported = 0;
  b->pool = r->pool;
  return b;
}

/* [u32 len][u32 cpu][payload padded to 8] at the end of b, which has room for it. */
static void batch_put(ig_batch *b, uint32_t cpu, const void *data, size_t size) {
  size_t need = 8 + ((size + 7) & ~(size_t)7);
  uint8_t *p = b->data + b->len;
  uint32_t hdr[2] = {(uint32_t)size, cpu};
  memcpy(p, hdr, 8);
  memcpy(p + 8, data, size);
  if (need - 8 > size) memset(p + 8 + size, 0, need - 8 - size);
  b->len += need;
  b->count++;
}

static int append(ig_reader *r, uint32_t cpu, const void *data, size_t size) {
  size_t need = 8 + ((size + 7) & ~(size_t)7);
  if (r->cur && r->cur->len + need > r->cur->cap) flush(r);
  if (r->cur && r->cur->len + need > r->cur->cap) { /* record mode reuses a flushed batch: too small for this one */
    batch_release(r->cur);
    r->cur = NULL;
  }
  if (!r->cur) {
    r->cur = r->max_batch >= need ? batch_full(r) : batch_new(need, BATCH_RECORDS);
    if (!r->cur) {
      __atomic_add_fetch(&r->dropped, 1, __ATOMIC_RELAXED);
      return 0;
    }
  }
  if (r->cur->count == 0) r->cur_first_ns = ig_mono_ns();
  batch_put(r->cur, cpu, data, size);
  r->appended++;
  return 0;
}

/* Wire mode: queue the frame of the records so far. A frame of 128 KiB or more (a storm's) takes a block of the pool,
 * which the daemon hands back once every client's socket has it (batchRelease): no fresh mapping, page faults and
 * zeroing per frame (malloc maps sizes from 128 KiB on). A smaller one is malloc'd to its size. */
#define WIRE_FRAME_POOLED (128u * 1024u)
static ig_batch *frame_new(ig_reader *r, size_t len) {
  size_t cap = r->pool ? ig_batch_pool_block(r->pool) - sizeof(ig_batch) : 0;
  if (len > cap || len < WIRE_FRAME_POOLED) return batch_new(len, BATCH_FRAME);
  ig_batch *b = batch_full(r);
  if (!b) return NULL;
  b->cap = cap;
  b->kind = BATCH_FRAME;
  return b;
}

static void wire_flush(ig_reader *r) {
  uint32_t n = ig_wire_stream_count(r->wire);
  if (!n) return;
  size_t len = ig_wire_stream_size(r->wire);
  ig_batch *b = frame_new(r, len);
  ig_wire_stream_take(r->wire, b ? b->data : NULL);
  if (!b) {
    __atomic_add_fetch(&r->dropped, n, __ATOMIC_RELAXED);
    return;
  }
  b->len = len;
  b->count = n;
  queue_batch(r, b);
}

/* Records handed to JS after a memo miss before the consume ends and JS renders them. */
#define FALLBACK_RECORDS_MAX 32
/* More fallbacks than this per second, and more than one per two records rendered, and rendering is left to JS
 * for good (e.g. a memo keyed by something that differs in every record). */
#define FALLBACK_EPISODES_MAX 200

/* A copy of a rendered record for a refresh batch; best effort (a full batch just skips it: it is asked again). */
static void append_refresh(ig_reader *r, uint32_t cpu, const void *data, size_t size) {
  size_t need = 8 + ((size + 7) & ~(size_t)7);
  if (!r->refresh && !(r->refresh = batch_new(need > REFRESH_BATCH_BYTES ? need : REFRESH_BATCH_BYTES, BATCH_REFRESH))) return;
  if (r->refresh->len + need <= r->refresh->cap) batch_put(r->refresh, cpu, data, size);
}

static int take(ig_reader *r, uint32_t cpu, const void *data, size_t size) {
  if (stopping(r)) {
    /* Final drain: take at most one ring's worth so a busy producer cannot keep us here. */
    r->drain_bytes += size + 8;
    if (r->drain_bytes > r->drain_limit) return -ECANCELED;
  }
  if (r->agg) {
    ig_magg_add(r->agg, data, size);
    r->appended++;
    __atomic_add_fetch(&r->aggregated, 1, __ATOMIC_RELAXED);
    return 0;
  }
  if (r->wire && !r->fallback) {
    if (!ig_wire_stream_count(r->wire)) r->wire_first_ns = r->now_ns;
    if (ig_wire_stream_add(r->wire, data, size, r->now_ns) == IG_WSTREAM_OK) {
      r->appended++;
      if (ig_wire_stream_size(r->wire) >= r->max_batch) wire_flush(r);
      return 0;
    }
    /* The frame so far goes first, then the records JS encodes. */
    wire_flush(r);
    r->fallback = true;
    r->fallback_records = 0;
  }
  if (r->plan && !r->fallback) {
    int rc = ig_plan_render(r->plan, data, size, r->now_ns, &r->out);
    if (rc != IG_RENDER_MISS) {
      if (rc == IG_RENDER_REFRESH) append_refresh(r, cpu, data, size);
      if (r->rec) append(r, cpu, data, size); /* for the recorder (flush() while not in fallback) */
      r->appended++;
      r->window_rendered++;
      __atomic_add_fetch(&r->rendered, 1, __ATOMIC_RELAXED);
      return 0;
    }
    /* What is rendered goes out before JS writes the lines of the records from here on. */
    ig_out_flush(&r->out);
    if (r->rec) flush(r); /* ... and is recorded before JS records the records from here on */
    r->fallback = true;
    r->in_place = r->memo_requests && !r->render_off && !stopping(r) && ig_plan_miss_is_memo(r->plan);
    r->fallback_records = 0;
  }
  int err = append(r, cpu, data, size);
  /* Not in the final drain: nothing renders after it, and ending it here left the rest of the ring unread (a stop
   * during a memo miss wrote 33 of 1,000 lines). The drain limit above bounds it instead. */
  if ((r->plan || r->wire) && !r->render_off && !stopping(r) && ++r->fallback_records >= FALLBACK_RECORDS_MAX)
    return -ECANCELED;
  return err;
}

static int ring_sample(void *ctx, void *data, size_t size) { return take(ctx, 0, data, size); }

static void perf_sample(void *ctx, int cpu, void *data, __u32 size) { take(ctx, (uint32_t)cpu, data, size); }

/* Render mode: wait until JS has taken every queued batch. False when stop came first. */
static bool wait_js(ig_reader *r) {
  pthread_mutex_lock(&r->mu);
  while ((r->qlen > 0 || r->in_flight > 0) && !stopping(r)) pthread_cond_wait(&r->cv, &r->mu);
  pthread_mutex_unlock(&r->mu);
  return !stopping(r);
}

/* The records since a memo miss (r->cur) go to JS as a BATCH_MEMO; once JS has filled their memos they are rendered
 * here, in order. True when every one was; otherwise the first that still misses and those after it are in r->cur
 * (or, on stop, all of them), for JS to render as before. */
static bool render_in_place(ig_reader *r) {
  ig_batch *b = r->cur;
  if (!b || !b->count) return false;
  if (r->held_cap < b->len) {
    uint8_t *h = realloc(r->held, b->len);
    if (!h) return false; /* JS renders them */
    r->held = h;
    r->held_cap = b->len;
  }
  size_t len = b->len;
  uint32_t count = b->count;
  memcpy(r->held, b->data, len);
  b->kind = BATCH_MEMO;
  flush(r);
  bool ok = wait_js(r);
  uint64_t now = ig_mono_ns();
  size_t at = 0, rec_bytes = 0; /* recording: the rendered records, a prefix of held */
  uint32_t rec_n = 0;
  for (uint32_t k = 0; k < count; k++) {
    uint32_t hdr[2];
    memcpy(hdr, r->held + at, 8);
    const uint8_t *data = r->held + at + 8;
    at += 8 + ((hdr[0] + 7) & ~(size_t)7);
    if (ok) {
      int rc = ig_plan_render(r->plan, data, hdr[0], now, &r->out);
      if (rc != IG_RENDER_MISS) {
        if (rc == IG_RENDER_REFRESH) append_refresh(r, hdr[1], data, hdr[0]);
        r->window_rendered++;
        __atomic_add_fetch(&r->rendered, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&r->in_place_done, 1, __ATOMIC_RELAXED);
        rec_bytes = at;
        rec_n = k + 1;
        continue;
      }
      ig_out_flush(&r->out);
      ok = false;
    }
    append(r, hdr[1], data, hdr[0]);
  }
  /* Recording: the records rendered here follow the facts JS asked while filling their memos, and precede the
   * rest, which JS renders and records. */
  if (r->rec && rec_n) {
    ig_rec_batch(r->rec, r->rec_ds, r->held, rec_bytes, rec_n);
    __atomic_add_fetch(&r->records, rec_n, __ATOMIC_RELAXED);
  }
  if (!ok) return false;
  ig_out_flush(&r->out);
  return true;
}

/* Render mode, after a consume: write the lines, or hand the records JS must render to JS and wait for it. */
static void render_settle(ig_reader *r) {
  if (r->refresh) {
    ig_batch *b = r->refresh;
    r->refresh = NULL;
    queue_batch(r, b); /* not waited for: the stale fragments serve until JS has fresh ones */
  }
  if (!r->fallback) {
    if (r->plan) ig_out_flush(&r->out);
    if (r->rec) flush(r);
    return;
  }
  bool in_place = r->in_place && !r->render_off && render_in_place(r);
  r->in_place = false;
  if (!in_place) {
    flush(r);
    if (r->render_off) return;
    if (!wait_js(r)) return; /* the final drain keeps handing records to JS, in order */
  }
  r->fallback = false;
  if (r->now_ns - r->window_start_ns > 1000000000ull) {
    r->window_start_ns = r->now_ns;
    r->episodes = 0;
    r->window_rendered = 0;
  }
  if (++r->episodes > FALLBACK_EPISODES_MAX && r->episodes > r->window_rendered / 2) {
    r->render_off = true;
    r->fallback = true;
  }
}

static void perf_lost(void *ctx, int cpu, __u64 cnt) {
  (void)cpu;
  ig_reader *r = ctx;
  __atomic_add_fetch(&r->lost, cnt, __ATOMIC_RELAXED);
}

#define RING_PUBLISH_BYTES (64u * 1024u)
#ifndef BPF_RINGBUF_BUSY_BIT
#define BPF_RINGBUF_BUSY_BIT (1u << 31)
#define BPF_RINGBUF_DISCARD_BIT (1u << 30)
#define BPF_RINGBUF_HDR_SZ 8
#endif

/* Take every committed record of the ring, in order. A record a callback refuses (-ECANCELED) is consumed and
 * ends the poll, as with libbpf. */
static int ring_consume(ig_reader *r) {
  uint64_t cons = *r->cons_pos, published = cons, start = cons;
  int err = 0;
  r->ring_busy = false;
  for (;;) {
    uint64_t prod = __atomic_load_n(r->prod_pos, __ATOMIC_ACQUIRE);
    while (cons < prod) {
      const uint32_t *hdr = (const uint32_t *)(r->ring_data + (cons & r->ring_mask));
      uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
      if (len & BPF_RINGBUF_BUSY_BIT) { /* reserved, not committed yet: the commit wakes us (unless paced) */
        r->ring_busy = true;
        goto out;
      }
      uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      cons += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7u;
      /* The next record is most likely the same size: have its lines on the way while this one renders. */
      if (r->plan) ig_plan_prefetch(r->plan, r->ring_data + (cons & r->ring_mask) + BPF_RINGBUF_HDR_SZ);
      if (r->discard) {
        r->appended++; /* counts for the linger: a drained ring would otherwise wake us for every record */
      } else if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
        const uint8_t *data = (const uint8_t *)hdr + BPF_RINGBUF_HDR_SZ;
        size_t at = (size_t)(data - r->ring_data), ring = (size_t)r->ring_mask + 1;
        if (at + size > ring) {
          if (r->wrap_cap < size) {
            uint8_t *nb = realloc(r->wrap_buf, size);
            if (!nb) {
              __atomic_add_fetch(&r->dropped, 1, __ATOMIC_RELAXED);
              goto next;
            }
            r->wrap_buf = nb;
            r->wrap_cap = size;
          }
          memcpy(r->wrap_buf, data, ring - at);
          memcpy(r->wrap_buf + (ring - at), r->ring_data, size - (ring - at));
          data = r->wrap_buf;
        }
        err = ring_sample(r, (void *)data, size);
        if (err < 0) goto out;
      }
    next:
      if (cons - published >= RING_PUBLISH_BYTES) {
        __atomic_store_n(r->cons_pos, cons, __ATOMIC_RELEASE);
        published = cons;
      }
    }
    __atomic_store_n(r->cons_pos, cons, __ATOMIC_RELEASE);
    published = cons;
    if (__atomic_load_n(r->prod_pos, __ATOMIC_ACQUIRE) != cons) continue;
    /* About to find the ring empty and sleep. A record reserved before the store may have seen an old consumer
     * position and not woken us: the kernel's commit is a full barrier (xchg of the header) then a load of
     * consumer_pos, so ours needs one too between the store and the re-read, else x86 may read prod_pos before the
     * store leaves its buffer, neither side sees the other and the record waits for the idle guard (100 ms). Only
     * on this path: a reader keeping pace with a storm passes here about once per record. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(r->prod_pos, __ATOMIC_ACQUIRE) == cons) break;
  }
out:
  if (cons != published) __atomic_store_n(r->cons_pos, cons, __ATOMIC_RELEASE);
  r->consumed_bytes = cons - start;
  return err;
}

static int consume(ig_reader *r) {
  if (r->plan || r->wire) r->now_ns = ig_mono_ns();
  int err = r->kind == READER_RING ? ring_consume(r) : perf_buffer__consume(r->pb);
  return err < 0 ? err : 0;
}

/* JS has not taken the last batch yet (a subscriber such as a WASM module is busy with one): a batch due by the
 * latency timer is not queued then but keeps filling, up to its size, and goes when the queue is empty. Under a
 * burst JS then gets few large batches (per-batch costs paid once per up to max_batch bytes) and the 8-batch
 * queue holds 8 full batches instead of 8 one-millisecond slices, so the kernel ring drains while JS works.
 * Not in render mode (its fallback batches are waited for). */
static bool js_behind(ig_reader *r) {
  if (r->plan || r->wire || r->cur->len + r->cur->len / 4 >= r->cur->cap) return false;
  pthread_mutex_lock(&r->mu);
  bool behind = r->qlen > 0;
  pthread_mutex_unlock(&r->mu);
  return behind;
}

/* The next linger, and whether to linger at all. A consume right after a linger that took records, and less than 1/16
 * of the ring, doubles it up to linger_max_ns: a steady stream too slow to fill a linger (an exec storm: 200-2,000
 * records/s, under one per 1 ms linger) is then read every 16 ms instead of waking the thread for every record or two
 * (each wake-up a context switch, ~20-100 us of CPU in this VM), while a storm that fills a quarter of the ring halves
 * it again, so the ring never holds more than ~2/16 of itself at the longer lingers. A consume woken by epoll (the
 * ring was idle) takes its records at once; then, with a growing linger:
 *  - the last records came more than linger_max_ns ago (a sparse stream: 40 execs/s): no linger, back to epoll. A
 *    linger would end empty and the next record wake the thread again: 2 wake-ups per record instead of 1;
 *  - they came within linger_max_ns (the ring ran dry inside a storm): the linger doubles (up to the max), as a
 *    longer one would have caught this record; starting over from linger_ns woke the thread for 1-2 short empty
 *    lingers per record at 100 execs/s (~1.4 wake-ups per exec, a 4 ms linger never finding a second record).
 * A storm after a pause longer than linger_max_ns starts from linger_ns as before. Ring readers only (a perf
 * buffer's per-CPU sizes are not known here). */
static bool adapt_linger(ig_reader *r, bool after_linger) {
  uint64_t cur = r->linger_cur_ns, ring = r->kind == READER_RING ? r->ring_mask + 1 : 0;
  bool grows = ring && r->linger_max_ns > r->linger_ns, go = true;
  if (!grows) {
    cur = r->linger_ns;
  } else {
    uint64_t now = ig_mono_ns(), gap = now - r->last_records_ns;
    r->last_records_ns = now;
    if (!after_linger) {
      if (gap > r->linger_max_ns) {
        cur = r->linger_ns;
        go = false;
      } else {
        cur = cur * 2 < r->linger_max_ns ? cur * 2 : r->linger_max_ns;
      }
    } else if (r->consumed_bytes * 4 > ring) {
      cur = cur / 2 > r->linger_ns ? cur / 2 : r->linger_ns;
    } else if (r->consumed_bytes * 16 <= ring) {
      cur = cur * 2 < r->linger_max_ns ? cur * 2 : r->linger_max_ns;
    }
  }
  /* The slack follows the linger (a quarter of it, as at the thread's start): a 16 ms linger then ends on the 4 ms
   * tick or another interrupt instead of a timer of its own; one prctl per change, not per linger. */
  if (cur != r->linger_cur_ns && r->linger_ns >= 1000000) prctl(PR_SET_TIMERSLACK, (unsigned long)(cur / 4), 0, 0, 0);
  r->linger_cur_ns = cur;
  if (cur > __atomic_load_n(&r->linger_peak_ns, __ATOMIC_RELAXED)) __atomic_store_n(&r->linger_peak_ns, cur, __ATOMIC_RELAXED);
  if (!go) __atomic_add_fetch(&r->lingers_skipped, 1, __ATOMIC_RELAXED);
  return go;
}

/* Sleep the current linger unless stop is signalled. Returns true when stop was signalled. */
static bool linger(ig_reader *r) {
  struct pollfd pfd = {.fd = r->efd, .events = POLLIN};
  struct timespec ts = {.tv_sec = (time_t)(r->linger_cur_ns / 1000000000ull),
                        .tv_nsec = (long)(r->linger_cur_ns % 1000000000ull)};
  int n = ppoll(&pfd, 1, &ts, NULL);
  return n > 0 || stopping(r);
}

/* A paced ring (include/gadget/buffer.h) wakes the thread when the data waiting passes each 1/8 of the ring, and for
 * the first record at least 75 ms (its pace) after its last such wake-up; the records in between come without one.
 * So the thread takes the ring at every wake-up, with no linger (the wake-ups are already ~13/s under an exec storm,
 * one per MiB under an open() storm), and on its own clock: PACED_BACKSTOP_MS after a wake-up or a consume that took
 * records, for the end of a burst, which no wake-up follows. A timed consume that finds nothing comes more than the
 * pace after the last wake-up, when any new record wakes the thread itself: it then sleeps PACED_IDLE_MS (a backstop
 * only; idle it wakes once a second, not ten times). Worst-case delay of a record: 80 ms + 8 ms of timer slack. */
#define PACED_BACKSTOP_MS 80
#define PACED_IDLE_MS 1000
#define PACED_SLACK_NS 8000000ul

/* When the current batch must go: -1 (none, or flush()ed now that it is due), else a timeout in ms (1 while JS is
 * behind: look again then, keep filling meanwhile). */
static int batch_due(ig_reader *r) {
  if (!r->cur || !r->cur->count) return -1;
  uint64_t now = ig_mono_ns(), deadline = r->cur_first_ns + r->max_latency_ns;
  if (now >= deadline && !js_behind(r)) {
    flush(r);
    return -1;
  }
  return now >= deadline ? 1 : (int)((deadline - now + 999999ull) / 1000000ull);
}

static void paced_loop(ig_reader *r) {
  struct epoll_event ev[4];
  int timeout = PACED_BACKSTOP_MS;
  prctl(PR_SET_TIMERSLACK, PACED_SLACK_NS, 0, 0, 0);
  while (!stopping(r)) {
    int due = batch_due(r), t = due >= 0 && due < timeout ? due : timeout;
    int n = epoll_wait(r->epfd, ev, 4, t);
    if (n < 0) {
      if (errno == EINTR) continue;
      r->error = errno;
      return;
    }
    bool woken = false;
    for (int i = 0; i < n; i++) {
      if (ev[i].data.u32 == TAG_STOP) return;
      woken = true;
    }
    if (n == 0 && t < timeout) continue; /* the batch's deadline, not ours */
    r->appended = 0;
    int err = r->prod_pos && __atomic_load_n(r->prod_pos, __ATOMIC_ACQUIRE) != *r->cons_pos ? consume(r) : 0;
    if (err < 0 && err != -EINTR && err != -ECANCELED) {
      r->error = -err;
      return;
    }
    if (r->plan || r->wire) render_settle(r);
    if (r->appended) {
      __atomic_add_fetch(&r->polls, 1, __ATOMIC_RELAXED);
      if (!woken) __atomic_add_fetch(&r->paced_timeouts, 1, __ATOMIC_RELAXED);
    }
    /* Nothing more comes before the next wake-up: hand over what this consume took. */
    if (r->cur && r->cur->count && !js_behind(r)) flush(r);
    if (r->wire) wire_flush(r);
    timeout = woken || r->appended ? PACED_BACKSTOP_MS : PACED_IDLE_MS;
    /* Cut short (records handed to JS after a memo miss), or at a record being written: the rest at once / in 1 ms. */
    if (err == -ECANCELED) timeout = 0;
    else if (r->ring_busy) timeout = 1;
  }
}

static void *reader_main(void *arg) {
  ig_reader *r = arg;
  struct epoll_event ev[4];
  bool lingered = false;
  if (r->paced) {
    paced_loop(r);
    goto drain;
  }
  /* Let the kernel end the linger with a timer interrupt it takes anyway (the 4 ms tick, another timer) within a
   * quarter of the linger: a sleep of its own costs a timer interrupt and, in a VM, exits to program it. */
  if (r->linger_ns >= 1000000) prctl(PR_SET_TIMERSLACK, (unsigned long)(r->linger_ns / 4), 0, 0, 0);
  while (!stopping(r)) {
    int timeout = batch_due(r);
    if (r->wire && ig_wire_stream_count(r->wire)) {
      uint64_t now = ig_mono_ns(), deadline = r->wire_first_ns + r->max_latency_ns;
      if (now >= deadline) {
        wire_flush(r);
        continue;
      }
      int t = (int)((deadline - now + 999999ull) / 1000000ull);
      if (timeout < 0 || t < timeout) timeout = t;
    }
    /* A wake-up lost to a race in the ring protocol costs at most this long. */
    if (r->kind == READER_RING && (timeout < 0 || timeout > 100)) timeout = 100;
    /* Right after a linger the ring most likely holds records: take them without asking epoll first (the check
     * below sees them; one syscall fewer per poll). */
    bool after_linger = lingered && r->kind == READER_RING && r->prod_pos &&
                        __atomic_load_n(r->prod_pos, __ATOMIC_ACQUIRE) != *r->cons_pos;
    int n = after_linger ? 0 : epoll_wait(r->epfd, ev, 4, timeout);
    lingered = false;
    if (n < 0) {
      if (errno == EINTR) continue;
      r->error = errno;
      break;
    }
    bool data = false, stop = false;
    for (int i = 0; i < n; i++) {
      if (ev[i].data.u32 == TAG_STOP)
        stop = true;
      else
        data = true;
    }
    if (stop) break;
    /* The timeout above is there for lost wake-ups: look at the ring then too, or a record committed without a
     * wake-up would wait for the next one (the last exec of a storm printed only at the end of the run). */
    if (!data && n == 0 && r->kind == READER_RING && r->prod_pos &&
        __atomic_load_n(r->prod_pos, __ATOMIC_ACQUIRE) != *r->cons_pos)
      data = true;
    if (!data) continue;
    r->appended = 0;
    int err = consume(r);
    if (err < 0 && err != -EINTR && err != -ECANCELED) {
      r->error = -err;
      break;
    }
    if (r->plan || r->wire) render_settle(r);
    if (r->appended) __atomic_add_fetch(&r->polls, 1, __ATOMIC_RELAXED);
    if (r->appended && r->linger_ns && adapt_linger(r, after_linger)) {
      if (linger(r)) break;
      lingered = true;
    }
  }
drain:
  /* Deliver what the kernel already holds, then what we hold. */
  r->drain_bytes = 0;
  consume(r);
  if (r->plan) ig_out_flush(&r->out);
  if (r->wire) wire_flush(r);
  flush(r);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * JS thread side
 * ------------------------------------------------------------------------------------------- */
static void batch_free_cb(napi_env env, void *data, void *hint) {
  (void)data;
  ig_batch *b = hint;
  /* V8 was told about this memory when the Buffer was made (or kept); tell it it is gone. */
  int64_t unused;
  if (b->reported) napi_adjust_external_memory(env, -(int64_t)(sizeof *b + b->cap), &unused);
  b->magic = 0;
  batch_release(b);
}

static ig_batch *pop(ig_reader *r) {
  pthread_mutex_lock(&r->mu);
  ig_batch *b = r->head;
  if (b) {
    r->head = b->next;
    if (!r->head) r->tail = NULL;
    r->qlen--;
    r->in_flight++;
    pthread_cond_broadcast(&r->cv);
  }
  pthread_mutex_unlock(&r->mu);
  return b;
}

/* A popped batch was delivered (or dropped): a render-mode poll thread waiting for JS may go on. */
static void delivered(ig_reader *r) {
  pthread_mutex_lock(&r->mu);
  if (r->in_flight) r->in_flight--;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

/* Call cb(buf, count) for one batch; ownership of b moves to the Buffer. Returns false when the
 * callback threw (the exception stays pending). */
static bool deliver_one(napi_env env, napi_value cb, ig_batch *b) {
  uint32_t count = b->count;
  napi_value argv[3], undef, res;
  if (napi_create_uint32(env, count, &argv[1]) != napi_ok || napi_create_uint32(env, b->kind, &argv[2]) != napi_ok ||
      napi_get_undefined(env, &undef) != napi_ok) {
    batch_release(b);
    return false;
  }
  napi_status st = napi_create_external_buffer(env, b->len, b->data, batch_free_cb, b, &argv[0]);
  if (st == napi_ok) {
    /* Batches are malloc'd outside V8's heap: without this, GC runs as if they cost nothing and hundreds of
     * them pile up waiting for finalisation (RSS in the hundreds of MiB under a storm). */
    /* Not frames (wire mode): the daemon copies each into gRPC messages at once, whose own buffers V8 counts, so
     * the frame's Buffer dies young and goes with the next scavenge; counted too, they made V8 run a full
     * mark-compact every ~0.5 s under a storm (22 instead of 2 in 300,000 events; peak RSS the same). A frame
     * JS keeps (no client took it, an instance's event buffer) is counted then: readerFrameKept. */
    if (b->kind != BATCH_FRAME) {
      int64_t unused;
      napi_adjust_external_memory(env, (int64_t)(sizeof *b + b->cap), &unused);
      b->reported = 1;
    }
    /* batchRelease may hand it back early; a failed tag only means it waits for the finaliser. */
    (void)ig_batch_tag(env, argv[0]);
  } else {
    /* Runtimes that forbid external buffers: copy. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
    }
    st = napi_create_buffer_copy(env, b->len, b->data, NULL, &argv[0]);
    batch_release(b);
    if (st != napi_ok) return false;
  }
  return napi_call_function(env, undef, cb, 3, argv, &res) == napi_ok;
}

static void rearm_fire(uv_timer_t *t) {
  ig_reader *r = t->data;
  if (!r) return;
  if (r->tsfn_released || napi_call_threadsafe_function(r->tsfn, NULL, napi_tsfn_nonblocking) != napi_ok) {
    pthread_mutex_lock(&r->mu);
    r->wake_pending = false;
    pthread_mutex_unlock(&r->mu);
  }
}

static void rearm_free(uv_handle_t *h) { free(h); }

static void rearm_close(ig_reader *r) {
  if (!r->rearm) return;
  uv_timer_stop(r->rearm);
  r->rearm->data = NULL;
  uv_close((uv_handle_t *)r->rearm, rearm_free);
  r->rearm = NULL;
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)data;
  if (!env || !js_cb) return; /* teardown: the context may already be gone */
  ig_reader *r = context;
  uint32_t n;
  /* wake_pending stays set while we deliver: the poll thread then does not queue more wake-ups, which Node
   * would run in this same loop turn. */
  pthread_mutex_lock(&r->mu);
  n = r->qlen;
  pthread_mutex_unlock(&r->mu);
  /* Deliver what was queued on entry, not more: a busy producer must not starve the event loop. */
  for (uint32_t i = 0; i < n; i++) {
    /* Paused (also from inside the callback): wake_pending stays set, so the poll thread queues no wake-up;
     * readerPause(false) delivers the rest. */
    if (r->paused) return;
    ig_batch *b = pop(r);
    if (!b) break;
    bool ok = deliver_one(env, js_cb, b);
    delivered(r);
    if (!ok) {
      /* The callback threw. Node-API would only print a deprecation warning for an exception left
       * pending here, so raise it as a real uncaught exception. */
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ex;
        if (napi_get_and_clear_last_exception(env, &ex) == napi_ok) napi_fatal_exception(env, ex);
      }
      break;
    }
  }
  if (r->tsfn_released || r->paused) return;
  pthread_mutex_lock(&r->mu);
  bool again = r->head != NULL;
  if (!again) r->wake_pending = false;
  pthread_mutex_unlock(&r->mu);
  if (!again) return;
  /* More batches arrived while we delivered. Re-arming the threadsafe function right here would run in this
   * same loop turn (Node drains up to 1000 calls per turn), starving timers, signals and the finalisers that
   * free delivered batches during a storm. A 0 ms timer hands the next delivery to the next turn. */
  if (r->rearm) {
    uv_timer_start(r->rearm, rearm_fire, 0, 0);
  } else if (napi_call_threadsafe_function(r->tsfn, NULL, napi_tsfn_nonblocking) != napi_ok) {
    pthread_mutex_lock(&r->mu);
    r->wake_pending = false;
    pthread_mutex_unlock(&r->mu);
  }
}

static void free_queue(ig_reader *r) {
  ig_batch *b;
  while ((b = pop(r))) {
    batch_release(b);
    delivered(r);
  }
  batch_release(r->cur);
  r->cur = NULL;
  batch_release(r->refresh);
  r->refresh = NULL;
}

static void signal_and_join(ig_reader *r) {
  pthread_mutex_lock(&r->mu);
  __atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  if (r->efd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(r->efd, &one, sizeof one);
    (void)w;
  }
  if (r->thread_running) {
    pthread_join(r->thread, NULL);
    r->thread_running = false;
  }
}

static void unlink_live(ig_reader *r) {
  if (!r->ienv) return;
  for (ig_reader **pp = &r->ienv->readers; *pp; pp = &(*pp)->next_live) {
    if (*pp == r) {
      *pp = r->next_live;
      break;
    }
  }
  r->next_live = NULL;
}

static void release_kernel_side(ig_reader *r) {
  if (r->cons_pos) munmap(r->cons_pos, r->cons_map_len);
  if (r->prod_pos) munmap((void *)r->prod_pos, r->prod_map_len);
  r->cons_pos = NULL;
  r->prod_pos = NULL;
  r->ring_data = NULL;
  free(r->wrap_buf);
  r->wrap_buf = NULL;
  r->wrap_cap = 0;
  if (r->pb) perf_buffer__free(r->pb);
  r->pb = NULL;
  if (r->epfd >= 0) close(r->epfd);
  if (r->efd >= 0) close(r->efd);
  r->epfd = r->efd = -1;
}

static void release_render(ig_reader *r) {
  ig_out_free(&r->out);
  free(r->held);
  r->held = NULL;
  if (r->plan) ig_plan_unref(r->plan);
  r->plan = NULL;
  if (r->agg) ig_magg_unref(r->agg);
  r->agg = NULL;
  if (r->rec) ig_rec_unref(r->rec);
  r->rec = NULL;
  ig_wire_stream_free(r->wire);
  r->wire = NULL;
}

static void reader_unref(ig_reader *r) {
  if (--r->refs > 0) return;
  release_render(r);
  ig_batch_pool_unref(r->pool); /* batches still held by JS keep it until they come back */
  r->pool = NULL;
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  r->magic = 0;
  free(r);
}

/* Stop without calling JS: used on teardown and by finalisers. */
static void hard_stop(napi_env env, ig_reader *r, bool tsfn_dying) {
  rearm_close(r);
  if (r->stopped) return;
  r->stopped = true;
  signal_and_join(r);
  unlink_live(r);
  release_kernel_side(r);
  free_queue(r);
  if (!r->tsfn_released) {
    r->tsfn_released = true;
    if (!tsfn_dying) napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
  }
  if (env && r->cb_ref) napi_delete_reference(env, r->cb_ref);
  if (env && r->self_ref) napi_delete_reference(env, r->self_ref);
  r->cb_ref = r->self_ref = NULL;
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  ig_reader *r = data;
  hard_stop(env, r, true);
  r->tsfn_released = true;
  reader_unref(r);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  ig_reader *r = data;
  hard_stop(env, r, false);
  reader_unref(r);
}

void ig_readers_shutdown(ig_env *e) {
  while (e->readers) {
    ig_reader *r = e->readers;
    hard_stop(e->env, r, false); /* unlinks r */
  }
}

static napi_value stats_object(napi_env env, ig_reader *r) {
  napi_value o;
  NAPI_TRY(env, napi_create_object(env, &o));
  ig_set_num(env, o, "records", (double)__atomic_load_n(&r->records, __ATOMIC_RELAXED));
  ig_set_num(env, o, "batches", (double)__atomic_load_n(&r->batches, __ATOMIC_RELAXED));
  ig_set_num(env, o, "polls", (double)__atomic_load_n(&r->polls, __ATOMIC_RELAXED));
  ig_set_num(env, o, "lingerPeakUs", (double)(__atomic_load_n(&r->linger_peak_ns, __ATOMIC_RELAXED) / 1000ull));
  ig_set_num(env, o, "lingersSkipped", (double)__atomic_load_n(&r->lingers_skipped, __ATOMIC_RELAXED));
  if (r->paced) ig_set_num(env, o, "pacedTimeouts", (double)__atomic_load_n(&r->paced_timeouts, __ATOMIC_RELAXED));
  if (r->plan) {
    ig_set_num(env, o, "rendered", (double)__atomic_load_n(&r->rendered, __ATOMIC_RELAXED));
    if (r->memo_requests) ig_set_num(env, o, "renderedInPlace", (double)__atomic_load_n(&r->in_place_done, __ATOMIC_RELAXED));
    int out_err = ig_out_error(&r->out); /* the poll thread may be writing it right now */
    if (out_err) {
      ig_set_str(env, o, "outputError", strerror(out_err));
      ig_set_num(env, o, "outputErrno", out_err);
    }
  }
  if (r->agg) ig_set_num(env, o, "aggregated", (double)__atomic_load_n(&r->aggregated, __ATOMIC_RELAXED));
  if (r->pool) ig_set_num(env, o, "batchBlocks", (double)ig_batch_pool_allocated(r->pool));
  ig_set_num(env, o, "lost",
             (double)(__atomic_load_n(&r->lost, __ATOMIC_RELAXED) + __atomic_load_n(&r->dropped, __ATOMIC_RELAXED)));
  if (r->stopped && r->error) {
    char msg[256];
    snprintf(msg, sizeof msg, "poll thread stopped: %s", strerror(r->error));
    ig_set_str(env, o, "error", msg);
  }
  return o;
}

static bool parse_opts(napi_env env, napi_value opts, ig_reader *r) {
  int64_t max_batch = 1 << 20, lat_ms = 1, linger_us = 1000, linger_max_us = 0, queue = 8;
  if (!ig_opt_i64(env, opts, "maxBatchBytes", &max_batch, NULL) ||
      !ig_opt_i64(env, opts, "maxLatencyMs", &lat_ms, NULL) || !ig_opt_i64(env, opts, "lingerUs", &linger_us, NULL) ||
      !ig_opt_i64(env, opts, "lingerMaxUs", &linger_max_us, NULL) || !ig_opt_i64(env, opts, "queue", &queue, NULL))
    return false;
  if (max_batch < 64) max_batch = 64;
  if (max_batch > (1ll << 30)) max_batch = 1ll << 30;
  if (lat_ms < 0) lat_ms = 0;
  if (linger_us < 0) linger_us = 0;
  if (linger_us > 1000000) linger_us = 1000000;
  if (queue < 1) queue = 1;
  if (queue > 1 << 20) queue = 1 << 20;
  r->max_batch = (size_t)((max_batch + 7) & ~7ll);
  r->max_latency_ns = (uint64_t)lat_ms * 1000000ull;
  r->linger_ns = r->linger_cur_ns = (uint64_t)linger_us * 1000ull;
  if (linger_max_us > 1000000) linger_max_us = 1000000;
  r->linger_max_ns = linger_max_us > linger_us ? (uint64_t)linger_max_us * 1000ull : r->linger_ns;
  r->qmax = (uint32_t)queue;
  napi_value dv;
  if (!ig_is_nullish(env, opts) && napi_get_named_property(env, opts, "discard", &dv) == napi_ok && !ig_is_nullish(env, dv) &&
      !ig_arg_bool(env, dv, "discard", &r->discard))
    return false;
  napi_value pv;
  if (!ig_is_nullish(env, opts) && napi_get_named_property(env, opts, "paced", &pv) == napi_ok && !ig_is_nullish(env, pv) &&
      !ig_arg_bool(env, pv, "paced", &r->paced))
    return false;
  if (r->kind != READER_RING) r->paced = false;
  napi_value plan;
  if (!ig_is_nullish(env, opts) && napi_get_named_property(env, opts, "render", &plan) == napi_ok &&
      !ig_is_nullish(env, plan)) {
    int64_t fd = 1;
    if (!ig_opt_i64(env, opts, "outFd", &fd, NULL)) return false;
    ig_plan *p = ig_plan_arg(env, plan);
    if (!p) return false;
    if (!ig_out_init(&r->out, (int)fd, 1 << 18)) {
      ig_throw_msg(env, "reader: out of memory");
      return false;
    }
    ig_plan_ref(p);
    r->plan = p;
    r->out.cancel = &r->stop;
    napi_value mr;
    if (napi_get_named_property(env, opts, "memoRequests", &mr) == napi_ok && !ig_is_nullish(env, mr) &&
        !ig_arg_bool(env, mr, "memoRequests", &r->memo_requests))
      return false;
    /* A preamble (a columns header) goes out now, before the poll thread exists: no line can precede it. */
    napi_value pre;
    if (napi_get_named_property(env, opts, "preamble", &pre) == napi_ok && !ig_is_nullish(env, pre)) {
      void *data;
      size_t len;
      if (!ig_arg_bytes(env, pre, "preamble", &data, &len)) return false;
      ig_out_write(&r->out, data, len);
    }
  }
  napi_value agg;
  if (!ig_is_nullish(env, opts) && napi_get_named_property(env, opts, "aggregate", &agg) == napi_ok &&
      !ig_is_nullish(env, agg)) {
    if (r->plan) {
      ig_throw_type(env, "reader: render and aggregate are exclusive");
      return false;
    }
    ig_magg *m = ig_magg_arg(env, agg);
    if (!m) return false;
    ig_magg_ref(m);
    r->agg = m;
  }
  napi_value rec;
  if (!ig_is_nullish(env, opts) && napi_get_named_property(env, opts, "record", &rec) == napi_ok &&
      !ig_is_nullish(env, rec)) {
    int64_t ds = 0;
    if (!ig_opt_i64(env, opts, "recordDs", &ds, NULL)) return false;
    ig_recorder *x = ig_rec_arg(env, rec);
    if (!x) return false;
    if (r->agg || ds < 0 || ds > 0xffff) {
      ig_throw_type(env, "reader: record mode takes no aggregate option, and a data source id 0-65535");
      return false;
    }
    ig_rec_ref(x);
    r->rec = x;
    r->rec_ds = (uint16_t)ds;
  }
  napi_value wire;
  if (!ig_is_nullish(env, opts) && napi_get_named_property(env, opts, "wire", &wire) == napi_ok &&
      !ig_is_nullish(env, wire)) {
    if (r->plan || r->agg || r->rec) {
      ig_throw_type(env, "reader: wire frames, render, aggregate and record are exclusive");
      return false;
    }
    ig_wire *w = ig_wire_arg(env, wire);
    if (!w) return false;
    void *clock = NULL;
    size_t clock_len = 0;
    napi_value cv;
    if (napi_get_named_property(env, opts, "wireClock", &cv) == napi_ok && !ig_is_nullish(env, cv) &&
        !ig_arg_bytes(env, cv, "wireClock", &clock, &clock_len))
      return false;
    if (clock_len % 16) {
      ig_throw_type(env, "reader: wireClock holds 16-byte entries (got %zu bytes)", clock_len);
      return false;
    }
    if (!(r->wire = ig_wire_stream_new(w, clock, clock_len))) {
      ig_throw_msg(env, "reader: out of memory");
      return false;
    }
  }
  return true;
}

static void reader_destroy_unstarted(ig_reader *r) {
  release_kernel_side(r);
  release_render(r);
  ig_batch_pool_unref(r->pool);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  free(r);
}

static napi_value open_reader(napi_env env, int kind, int32_t map_fd, int64_t pages, napi_value cb, napi_value opts) {
  napi_valuetype t;
  if (napi_typeof(env, cb, &t) != napi_ok || t != napi_function) return ig_throw_type(env, "callback must be a function");
  const char *what = kind == READER_RING ? "ring buffer" : "perf buffer";

  struct bpf_map_info mi;
  memset(&mi, 0, sizeof mi);
  uint32_t milen = sizeof mi;
  int err = bpf_map_get_info_by_fd(map_fd, &mi, &milen);
  if (err) return ig_throw_errno(env, err, false, "open %s on map fd %d", what, map_fd);
  uint32_t want = kind == READER_RING ? BPF_MAP_TYPE_RINGBUF : BPF_MAP_TYPE_PERF_EVENT_ARRAY;
  if (mi.type != want)
    return ig_throw_errno(env, EINVAL, false, "open %s on map %s (fd %d): map type is %u", what, mi.name, map_fd,
                          mi.type);

  ig_reader *r = calloc(1, sizeof *r);
  if (!r) return ig_throw_errno(env, ENOMEM, false, "open %s", what);
  r->magic = IG_MAGIC_READER;
  r->kind = kind;
  r->efd = r->epfd = -1;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  if (!parse_opts(env, opts, r)) {
    reader_destroy_unstarted(r);
    return NULL;
  }
  /* In steady state one batch fills while one or two wait or are read: four free ones cover that (4 MiB at the
   * default size); more come back only in a burst after a GC, and go back to the system. */
  /* Wire mode: a frame goes out once it holds max_batch bytes, so it may pass that by one record's bytes. */
  r->pool = ig_batch_pool_new(sizeof(ig_batch) + r->max_batch + (r->wire ? WIRE_FRAME_SLACK : 0), 4); /* NULL: batches are plain malloc */
  int ncpu = libbpf_num_possible_cpus();
  r->drain_limit = kind == READER_RING ? (uint64_t)mi.max_entries + 4096
                                       : (uint64_t)pages * 4096ull * (uint64_t)(ncpu > 0 ? ncpu : 1);

  r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->efd < 0 || r->epfd < 0) {
    err = errno;
    reader_destroy_unstarted(r);
    return ig_throw_errno(env, err, false, "open %s: eventfd/epoll", what);
  }
  ig_log_reset();
  int src_fd;
  if (kind == READER_RING) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    r->cons_map_len = page;
    r->prod_map_len = page + (size_t)mi.max_entries;
    void *c = mmap(NULL, r->cons_map_len, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    void *pp = c == MAP_FAILED ? MAP_FAILED : mmap(NULL, r->prod_map_len, PROT_READ, MAP_SHARED, map_fd, (off_t)page);
    err = c == MAP_FAILED || pp == MAP_FAILED ? errno : 0;
    if (c != MAP_FAILED) r->cons_pos = c;
    if (pp != MAP_FAILED) {
      r->prod_pos = pp;
      r->ring_data = (const uint8_t *)pp + page;
      r->ring_mask = (uint64_t)mi.max_entries - 1;
    }
    src_fd = map_fd;
  } else {
    r->pb = perf_buffer__new(map_fd, (size_t)pages, perf_sample, perf_lost, r, NULL);
    err = r->pb ? 0 : errno;
    src_fd = r->pb ? perf_buffer__epoll_fd(r->pb) : -1;
  }
  if (err) {
    reader_destroy_unstarted(r);
    return ig_throw_errno(env, err, true, "open %s on map %s (fd %d)", what, mi.name, map_fd);
  }
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.u32 = TAG_STOP;
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->efd, &ev) < 0) goto epoll_fail;
  ev.data.u32 = TAG_DATA;
  /* Paced: edge-triggered, so that a wake-up ends the wait but records left since an earlier one do not (level-
   * triggered, epoll_wait polls the ring again after reporting it, and returns at once whenever a record came). */
  if (r->paced) ev.events |= EPOLLET;
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, src_fd, &ev) < 0) goto epoll_fail;

  napi_value name;
  if (napi_create_string_utf8(env, kind == READER_RING ? "ig:ringbuf" : "ig:perfbuf", NAPI_AUTO_LENGTH, &name) !=
          napi_ok ||
      napi_create_threadsafe_function(env, cb, NULL, name, 0, 1, r, tsfn_finalize, r, call_js, &r->tsfn) != napi_ok) {
    reader_destroy_unstarted(r);
    return ig_napi_fail(env, napi_generic_failure, "napi_create_threadsafe_function");
  }
  /* From here on the threadsafe function owns one reference; the handle owns the other. */
  r->refs = 2;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop) {
    r->rearm = malloc(sizeof *r->rearm);
    if (r->rearm && uv_timer_init(loop, r->rearm) == 0) {
      r->rearm->data = r;
      uv_unref((uv_handle_t *)r->rearm); /* never keeps the process alive on its own */
    } else {
      free(r->rearm);
      r->rearm = NULL;
    }
  }
  napi_value ext;
  if (napi_create_reference(env, cb, 1, &r->cb_ref) != napi_ok ||
      napi_create_external(env, r, reader_finalize, NULL, &ext) != napi_ok) {
    r->refs = 1;
    hard_stop(env, r, false);
    return ig_napi_fail(env, napi_generic_failure, "reader handle");
  }
  /* A running reader is not collected even if JS drops its handle: stop() releases this. Without it the handle
   * could be collected while the thread runs, so a failure ends the open (the handle's finaliser frees r). */
  if (napi_create_reference(env, ext, 1, &r->self_ref) != napi_ok) {
    r->self_ref = NULL;
    hard_stop(env, r, false);
    return ig_napi_fail(env, napi_generic_failure, "reader handle reference");
  }

  ig_env *ienv = NULL;
  napi_get_instance_data(env, (void **)&ienv);
  r->ienv = ienv;

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  err = pthread_create(&r->thread, NULL, reader_main, r);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err) {
    hard_stop(env, r, false);
    return ig_throw_errno(env, err, false, "open %s: pthread_create", what);
  }
  r->thread_running = true;
  if (ienv) {
    r->next_live = ienv->readers;
    ienv->readers = r;
  }
  return ext;

epoll_fail:
  err = errno;
  reader_destroy_unstarted(r);
  return ig_throw_errno(env, err, false, "open %s: epoll_ctl", what);
}

/* ringOpen(mapFd, cb, opts) */
static napi_value js_ring_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  int32_t fd;
  if (!ig_arg_i32(env, argv[0], "mapFd", &fd)) return NULL;
  return open_reader(env, READER_RING, fd, 0, argv[1], argv[2]);
}

/* perfOpen(mapFd, pageCount, cb, opts) */
static napi_value js_perf_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  int32_t fd;
  int64_t pages = 64;
  if (!ig_arg_i32(env, argv[0], "mapFd", &fd)) return NULL;
  if (!ig_is_nullish(env, argv[1]) && !ig_arg_i64(env, argv[1], "pageCount", &pages)) return NULL;
  if (pages <= 0 || (pages & (pages - 1)) || pages > (1 << 20))
    return ig_throw_type(env, "pageCount must be a power of two (got %lld)", (long long)pages);
  return open_reader(env, READER_PERF, fd, pages, argv[2], argv[3]);
}

/* readerStop(r): ReaderStats. Idempotent. */
static napi_value js_reader_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_reader *r = ig_handle(env, argv[0], IG_MAGIC_READER, "reader");
  if (!r) return NULL;
  if (r->stopped) return stats_object(env, r);
  r->stopped = true; /* re-entrant calls from the callback below see a stopped reader */
  rearm_close(r);
  signal_and_join(r);
  unlink_live(r);
  release_kernel_side(r);

  /* Take every pending batch, then let the threadsafe function go (a wake-up still in flight
   * finds an empty queue). */
  pthread_mutex_lock(&r->mu);
  ig_batch *list = r->head;
  r->head = r->tail = NULL;
  r->qlen = 0;
  pthread_mutex_unlock(&r->mu);
  batch_release(r->cur);
  r->cur = NULL;
  batch_release(r->refresh);
  r->refresh = NULL;
  if (!r->tsfn_released) {
    r->tsfn_released = true;
    napi_release_threadsafe_function(r->tsfn, napi_tsfn_release);
  }

  napi_value cb = NULL;
  if (r->cb_ref) napi_get_reference_value(env, r->cb_ref, &cb);
  bool ok = true;
  while (list) {
    ig_batch *b = list;
    list = b->next;
    if (ok && cb)
      ok = deliver_one(env, cb, b);
    else
      batch_release(b);
  }
  if (r->cb_ref) napi_delete_reference(env, r->cb_ref);
  if (r->self_ref) napi_delete_reference(env, r->self_ref);
  r->cb_ref = r->self_ref = NULL;
  if (!ok) return NULL; /* the callback threw */
  return stats_object(env, r);
}

/* readerPause(r, paused): while paused no batch reaches JS; the queue stays full, the poll thread waits and the
 * kernel ring fills (the BPF side counts what it cannot reserve). Resuming delivers what is queued. */
static napi_value js_reader_pause(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_reader *r = ig_handle(env, argv[0], IG_MAGIC_READER, "reader");
  if (!r) return NULL;
  bool paused;
  if (napi_get_value_bool(env, argv[1], &paused) != napi_ok) return ig_throw_type(env, "paused must be a boolean");
  if (r->stopped || r->paused == paused) return ig_undefined(env);
  r->paused = paused;
  if (paused) return ig_undefined(env);
  pthread_mutex_lock(&r->mu);
  bool wake = r->head != NULL;
  r->wake_pending = wake;
  pthread_mutex_unlock(&r->mu);
  if (wake && (r->tsfn_released || napi_call_threadsafe_function(r->tsfn, NULL, napi_tsfn_nonblocking) != napi_ok)) {
    pthread_mutex_lock(&r->mu);
    r->wake_pending = false;
    pthread_mutex_unlock(&r->mu);
  }
  return ig_undefined(env);
}

/* readerStats(r): ReaderStats */
static napi_value js_reader_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_reader *r = ig_handle(env, argv[0], IG_MAGIC_READER, "reader");
  if (!r) return NULL;
  return stats_object(env, r);
}

/* readerWriteOut(r, bytes): write lines JS rendered for a render-mode reader, in order with the thread's own
 * (the poll thread waits while JS renders, and is stopped once readerStop has returned). */
static napi_value js_reader_write_out(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_reader *r = ig_handle(env, argv[0], IG_MAGIC_READER, "reader");
  void *data;
  size_t len;
  if (!r || !ig_arg_bytes(env, argv[1], "bytes", &data, &len)) return NULL;
  if (!r->out.p) return ig_throw_type(env, "reader does not render");
  ig_out_write(&r->out, data, len);
  return ig_undefined(env);
}

/* batchRelease(buf): JS is done with a batch it was handed: detach its memory (every view of it reads as empty from
 * now on) so the finaliser gives it back to its reader now rather than after the next GC. False for a Buffer that
 * is not a reader batch (nothing done); true again for one already released. */
static napi_value js_batch_release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], res;
  NAPI_TRY(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool ours = false;
  if (argc >= 1) {
    bool typed = false;
    void *data = ig_batch_tagged_data(env, argv[0]);
    if (data) {
      ig_batch *b = (ig_batch *)((uint8_t *)data - offsetof(ig_batch, data));
      if (b->pool) ig_batch_pool_mark_prompt(b->pool);
      NAPI_TRY(env, ig_batch_detach(env, argv[0]));
      ours = true;
    } else if (napi_is_typedarray(env, argv[0], &typed) == napi_ok && typed) {
      /* Released before (detached), or not a batch at all. */
      napi_value ab;
      bool detached = false;
      NAPI_TRY(env, napi_get_typedarray_info(env, argv[0], NULL, NULL, NULL, &ab, NULL));
      NAPI_TRY(env, napi_is_detached_arraybuffer(env, ab, &detached));
      ours = detached;
    }
  }
  NAPI_TRY(env, napi_get_boolean(env, ours, &res));
  return res;
}

/* readerFrameKept(frame): a frame Buffer of a wire-mode reader that JS keeps (or that no gRPC message copied):
 * count its memory as V8 external memory from now on, so that GC sees it. */
static napi_value js_reader_frame_kept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  void *data;
  size_t len;
  bool is;
  if (napi_is_buffer(env, argv[0], &is) != napi_ok || !is || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok)
    return ig_throw_type(env, "frame must be a Buffer");
  if (!data || (uintptr_t)data % 8 || len == 0) return ig_throw_type(env, "not a reader frame");
  ig_batch *b = (ig_batch *)((uint8_t *)data - offsetof(ig_batch, data));
  if (b->magic != IG_MAGIC_BATCH || b->kind != BATCH_FRAME || b->len != len) return ig_throw_type(env, "not a reader frame");
  if (!b->reported) {
    int64_t unused;
    napi_adjust_external_memory(env, (int64_t)(sizeof *b + b->cap), &unused);
    b->reported = 1;
  }
  return ig_undefined(env);
}

bool ig_reader_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "readerFrameKept", js_reader_frame_kept);
  IG_EXPORT(env, exports, "readerWriteOut", js_reader_write_out);
  IG_EXPORT(env, exports, "ringOpen", js_ring_open);
  IG_EXPORT(env, exports, "perfOpen", js_perf_open);
  IG_EXPORT(env, exports, "readerStop", js_reader_stop);
  IG_EXPORT(env, exports, "readerStats", js_reader_stats);
  IG_EXPORT(env, exports, "readerPause", js_reader_pause);
  IG_EXPORT(env, exports, "batchRelease", js_batch_release);
  return true;
}
