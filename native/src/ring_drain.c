/* Synchronous helpers for on-demand data sources (snapshots without BPF iterators).
 *
 * ringDrain(mapFd, maxBytes): consume every record currently in a BPF ring buffer on the calling
 * (JS) thread and return them laid out like a reader batch: [u32 len][u32 0][payload padded to 8]...
 * Used right after BPF_PROG_TEST_RUN of a snapshot program, whose records are all committed by the
 * time the syscall returns, so one consume sees the complete snapshot. */
#include "addon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint8_t *p;
  size_t len, cap, max;
  uint32_t count;
  uint32_t dropped;
  bool oom;
} drain_buf;

static int drain_sample(void *ctx, void *data, size_t size) {
  drain_buf *b = ctx;
  size_t need = 8 + ((size + 7) & ~(size_t)7);
  if (b->oom || b->len + need > b->max) {
    /* Keep consuming so nothing is left for the next snapshot; the caller reports the drops. */
    b->dropped++;
    return 0;
  }
  if (b->len + need > b->cap) {
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + need) cap *= 2;
    if (cap > b->max) cap = b->max;
    uint8_t *np = realloc(b->p, cap);
    if (!np) {
      b->oom = true;
      b->dropped++;
      return 0;
    }
    b->p = np;
    b->cap = cap;
  }
  uint32_t hdr[2] = {(uint32_t)size, 0};
  memcpy(b->p + b->len, hdr, 8);
  memcpy(b->p + b->len + 8, data, size);
  memset(b->p + b->len + 8 + size, 0, need - 8 - size);
  b->len += need;
  b->count++;
  return 0;
}

static void free_data(napi_env env, void *data, void *hint) { free(data); }

/* { buf, count, dropped } of a drain, for ringDrain and perfDrain. The records are freed on every failure path
 * until the Buffer owns them; after that, by its finaliser. NULL with a pending exception on failure. */
static napi_value drain_result(napi_env env, drain_buf *b) {
  napi_value o, buf;
  napi_status st = napi_create_object(env, &o);
  if (st != napi_ok) {
    free(b->p);
    return ig_napi_fail(env, st, "napi_create_object");
  }
  if (b->len == 0) {
    free(b->p);
    NAPI_TRY(env, napi_create_buffer(env, 0, NULL, &buf));
  } else if ((st = napi_create_external_buffer(env, b->len, b->p, free_data, NULL, &buf)) != napi_ok) {
    free(b->p);
    return ig_napi_fail(env, st, "napi_create_external_buffer");
  }
  NAPI_TRY(env, napi_set_named_property(env, o, "buf", buf));
  if (!ig_set_num(env, o, "count", b->count) || !ig_set_num(env, o, "dropped", b->dropped))
    return ig_napi_fail(env, napi_generic_failure, "drain result");
  return o;
}

/* ringDrain(fd, maxBytes) -> { buf, count, dropped } */
static napi_value js_ring_drain(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  int64_t max;
  if (!ig_arg_i32(env, argv[0], "fd", &fd) || !ig_arg_i64(env, argv[1], "maxBytes", &max)) return NULL;
  if (max <= 0) max = 64ll * 1024 * 1024;
  drain_buf b = {.max = (size_t)max};
  struct ring_buffer *rb = ring_buffer__new(fd, drain_sample, &b, NULL);
  if (!rb) return ig_throw_errno(env, errno ? errno : EINVAL, true, "ring buffer (fd %d)", fd);
  int n = ring_buffer__consume(rb);
  ring_buffer__free(rb);
  if (b.oom) {
    free(b.p);
    return ig_throw_errno(env, ENOMEM, false, "ring buffer (fd %d): drain", fd);
  }
  if (n < 0) {
    free(b.p);
    return ig_throw_errno(env, -n, false, "ring buffer (fd %d): consume", fd);
  }
  return drain_result(env, &b);
}

/* A perf buffer with no thread: perfDrain polls it on the JS thread. */
typedef struct {
  struct perf_buffer *pb;
  drain_buf *cur;
  uint64_t lost;
} perf_drain;

static void perf_drain_sample(void *ctx, int cpu, void *data, __u32 size) {
  (void)cpu;
  perf_drain *d = ctx;
  if (d->cur) drain_sample(d->cur, data, size);
}

static void perf_drain_lost(void *ctx, int cpu, __u64 n) {
  (void)cpu;
  ((perf_drain *)ctx)->lost += n;
}

static void perf_drain_finalize(napi_env env, void *data, void *hint) {
  perf_drain *d = data;
  if (d->pb) perf_buffer__free(d->pb);
  free(d);
}

static perf_drain *perf_drain_of(napi_env env, napi_value v) {
  perf_drain *d = NULL;
  if (napi_get_value_external(env, v, (void **)&d) != napi_ok || !d) {
    ig_throw_type(env, "perf drain handle expected");
    return NULL;
  }
  if (!d->pb) {
    ig_throw_msg(env, "perf drain handle is closed");
    return NULL;
  }
  return d;
}

/* perfDrainOpen(mapFd, pageCount) -> handle */
static napi_value js_perf_drain_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  int32_t fd, pages;
  if (!ig_arg_i32(env, argv[0], "fd", &fd) || !ig_arg_i32(env, argv[1], "pageCount", &pages)) return NULL;
  perf_drain *d = calloc(1, sizeof *d);
  if (!d) return ig_throw_errno(env, ENOMEM, false, "perf buffer (fd %d)", fd);
  d->pb = perf_buffer__new(fd, (size_t)pages, perf_drain_sample, perf_drain_lost, d, NULL);
  if (!d->pb) {
    int err = errno ? errno : EINVAL;
    free(d);
    return ig_throw_errno(env, err, true, "perf buffer (fd %d)", fd);
  }
  napi_value ext;
  napi_status st = napi_create_external(env, d, perf_drain_finalize, NULL, &ext);
  if (st != napi_ok) {
    perf_drain_finalize(env, d, NULL);
    return ig_napi_fail(env, st, "napi_create_external");
  }
  return ext;
}

/* perfDrain(h, timeoutMs, maxBytes) -> { buf, count, dropped, lost } */
static napi_value js_perf_drain(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  perf_drain *d = perf_drain_of(env, argv[0]);
  if (!d) return NULL;
  int32_t timeout;
  int64_t max;
  if (!ig_arg_i32(env, argv[1], "timeoutMs", &timeout) || !ig_arg_i64(env, argv[2], "maxBytes", &max)) return NULL;
  if (max <= 0) max = 64ll * 1024 * 1024;
  drain_buf b = {.max = (size_t)max};
  d->cur = &b;
  d->lost = 0;
  int n = perf_buffer__poll(d->pb, timeout < 0 ? 0 : timeout);
  d->cur = NULL;
  if (n < 0 && n != -EINTR) {
    free(b.p);
    return ig_throw_errno(env, -n, false, "perf buffer: poll");
  }
  napi_value o = drain_result(env, &b);
  if (!o) return NULL;
  if (!ig_set_num(env, o, "lost", (double)d->lost)) return ig_napi_fail(env, napi_generic_failure, "perfDrain result");
  return o;
}

/* perfDrainClose(h): unmap the buffers now (the finaliser would, later). Idempotent. */
static napi_value js_perf_drain_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  perf_drain *d = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&d) != napi_ok || !d) return ig_throw_type(env, "perf drain handle expected");
  if (d->pb) perf_buffer__free(d->pb);
  d->pb = NULL;
  return ig_undefined(env);
}

bool ig_ring_drain_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "ringDrain", js_ring_drain);
  IG_EXPORT(env, exports, "perfDrainOpen", js_perf_drain_open);
  IG_EXPORT(env, exports, "perfDrain", js_perf_drain);
  IG_EXPORT(env, exports, "perfDrainClose", js_perf_drain_close);
  return true;
}
