/* The replay loop: `ig replay FILE -o json|columns` without JS per batch. A thread of its own reads the recording's
 * chunks, checks them (magic, lengths, CRC-32) and decompresses them into reused buffers while the JS thread renders
 * the previous chunk's batches with the render plans of their data sources, straight to the output fd in large
 * writes. JS gets only what it must handle: every entry other than a routed reader-layout batch (a copy), the records
 * a plan misses on (a copy of the miss and up to 31 more), a record to refresh, a failed write, a time slice's end
 * (so that the event loop runs), and where the thread stopped: the end of the file, damage, or a chunk whose codec
 * it leaves to JS (deflate, brotli). JS's reader (src/record/reader.ts) goes on from there and says why in its own
 * words, so a damaged file ends with the same one-line message as on the JS path. */
#include "addon.h"
#include "render_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IG_MAGIC_REPLAY 0x4e91a7c5u
#define SLOTS 3
#define MAX_CHUNK (64u << 20) /* format.ts MAX_CHUNK_BYTES */
#define MAX_DS 65536
#define MISS_RECORDS 32 /* src/operators/ebpf/replay.ts: the miss and the rest of a reader's poll */

enum { CODEC_NONE = 0, CODEC_ZSTD = 3 };
/* What a step returns in state[0]. */
enum { K_ENTRY = 1, K_MISS = 2, K_REFRESH = 3, K_FAILED = 4, K_YIELD = 5, K_STOP = 6, K_DAMAGE = 7 };

typedef struct {
  uint8_t *buf;
  size_t cap, len;
  int64_t start; /* the chunk's byte offset in the file */
  bool bail;     /* no content: the thread stopped at `start` (JS reads on from there) */
} slot;

typedef struct {
  ig_plan *plan;
  int fd;
} route;

typedef struct {
  uint32_t magic;
  int fd;
  int64_t size, pos;
  int version;
  pthread_t thread;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  slot slots[SLOTS];
  int filled; /* slots ready, from `head` on */
  int head;
  bool closing;
  /* JS thread only from here */
  route *routes; /* by data source id, MAX_DS entries */
  ig_out out;
  int cur; /* slot being consumed, -1: none */
  size_t off; /* next entry in it */
  /* inside a routed batch: the entry's end, the next record's offset and how many records are left */
  size_t b_end, b_off;
  uint32_t b_left, b_ds;
  bool in_batch;
  double chunks; /* chunks taken (JS's reader counts them the same way) */
  double *state; /* JS's Float64Array: [kind, a, b, c, d, e] */
} replay;

/* ---- the decompressing thread ---- */

static bool read_at(int fd, void *p, size_t n, int64_t at, size_t *got) {
  size_t g = 0;
  while (g < n) {
    ssize_t r = pread(fd, (uint8_t *)p + g, n - g, (off_t)(at + (int64_t)g));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    g += (size_t)r;
  }
  *got = g;
  return g == n;
}

static uint32_t le32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* One chunk at r->pos into s; false: leave this chunk to JS (s->bail), which reads or reports it. */
static bool load_chunk(replay *r, slot *s, uint8_t **stored, size_t *stored_cap, ZSTD_DCtx *dc) {
  s->start = r->pos;
  s->bail = true;
  s->len = 0;
  if (r->pos >= r->size) return false;
  uint8_t h[24];
  size_t got;
  if (!read_at(r->fd, h, sizeof h, r->pos, &got) || memcmp(h, "CHNK", 4) != 0) return false;
  uint32_t n = le32(h + 8), content = le32(h + 12), crc = le32(h + 16);
  int codec = h[20];
  if (n > MAX_CHUNK || content > MAX_CHUNK || !(codec == CODEC_NONE || (codec == CODEC_ZSTD && r->version >= 2))) return false;
  if (*stored_cap < n) {
    uint8_t *p = realloc(*stored, n);
    if (!p) return false;
    *stored = p;
    *stored_cap = n;
  }
  if (!read_at(r->fd, *stored, n, r->pos + 24, &got)) return false;
  if ((uint32_t)crc32(0L, *stored, n) != crc) return false;
  if (s->cap < content || !s->buf) {
    free(s->buf);
    s->buf = malloc(content ? content : 1);
    s->cap = s->buf ? content : 0;
    if (!s->buf) return false;
  }
  if (codec == CODEC_ZSTD) {
    size_t d = ZSTD_decompressDCtx(dc, s->buf, content, *stored, n);
    if (ZSTD_isError(d) || d != content) return false;
  } else {
    if (n != content) return false;
    memcpy(s->buf, *stored, n);
  }
  s->len = content;
  s->bail = false;
  r->pos += 24 + (int64_t)n;
  return true;
}

static void *loader(void *arg) {
  replay *r = arg;
  uint8_t *stored = NULL;
  size_t stored_cap = 0;
  ZSTD_DCtx *dc = ZSTD_createDCtx();
  for (;;) {
    pthread_mutex_lock(&r->mu);
    while (!r->closing && r->filled == SLOTS) pthread_cond_wait(&r->cv, &r->mu);
    if (r->closing) {
      pthread_mutex_unlock(&r->mu);
      break;
    }
    slot *s = &r->slots[(r->head + r->filled) % SLOTS];
    pthread_mutex_unlock(&r->mu);
    bool ok = dc && load_chunk(r, s, &stored, &stored_cap, dc);
    pthread_mutex_lock(&r->mu);
    r->filled++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (!ok) break; /* the slot says where JS goes on */
  }
  free(stored);
  ZSTD_freeDCtx(dc);
  return NULL;
}

/* ---- the JS side ---- */

static void stop_thread(replay *r) {
  if (!r->started) return;
  pthread_mutex_lock(&r->mu);
  r->closing = true;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  r->started = false;
}

static void release(replay *r) {
  stop_thread(r);
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
  for (int i = 0; i < SLOTS; i++) {
    free(r->slots[i].buf);
    r->slots[i].buf = NULL;
  }
  if (r->routes) {
    for (size_t i = 0; i < MAX_DS; i++)
      if (r->routes[i].plan) ig_plan_unref(r->routes[i].plan);
    free(r->routes);
    r->routes = NULL;
  }
  ig_out_free(&r->out);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  replay *r = data;
  release(r);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  free(r);
}

static replay *replay_arg(napi_env env, napi_value v) { return ig_handle(env, v, IG_MAGIC_REPLAY, "replay loop"); }

/* replayLoopOpen(fd, position, size, version, chunks, state: Float64Array(6)): dups `fd` and starts reading chunks
 * from `position` (the chunk after those JS has read; `chunks` of them). */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ig_args(env, info, 6, argv)) return NULL;
  int32_t fd, version;
  int64_t pos, size, chunks;
  void *st;
  size_t st_len;
  if (!ig_arg_i32(env, argv[0], "fd", &fd) || !ig_arg_i64(env, argv[1], "position", &pos) || !ig_arg_i64(env, argv[2], "size", &size) ||
      !ig_arg_i32(env, argv[3], "version", &version) || !ig_arg_i64(env, argv[4], "chunks", &chunks) || !ig_arg_bytes(env, argv[5], "state", &st, &st_len))
    return NULL;
  if (st_len < 6 * sizeof(double) || ((uintptr_t)st & 7)) return ig_throw_type(env, "replayLoopOpen: state must be a Float64Array(6)");
  replay *r = calloc(1, sizeof *r);
  if (!r) return ig_throw_errno(env, ENOMEM, false, "replayLoopOpen");
  r->magic = IG_MAGIC_REPLAY;
  r->fd = -1;
  r->cur = -1;
  r->pos = pos;
  r->size = size;
  r->version = version;
  r->chunks = (double)chunks;
  r->state = st;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  r->routes = calloc(MAX_DS, sizeof *r->routes);
  /* 1 MiB: a write per ~1,000 JSON lines of trace_open */
  if (!r->routes || !ig_out_init(&r->out, -1, 1 << 20) || (r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
    int err = r->routes ? errno : ENOMEM;
    finalize(env, r, NULL);
    return ig_throw_errno(env, err, false, "replayLoopOpen");
  }
  if (pthread_create(&r->thread, NULL, loader, r) != 0) {
    finalize(env, r, NULL);
    return ig_throw_errno(env, EAGAIN, false, "replayLoopOpen: thread");
  }
  r->started = true;
  napi_value ext;
  if (napi_create_external(env, r, finalize, NULL, &ext) != napi_ok) {
    finalize(env, r, NULL);
    return ig_napi_fail(env, napi_generic_failure, "replayLoopOpen");
  }
  return ext;
}

/* replayLoopRoute(loop, dsId, plan, fd): render this data source's reader-layout batches with `plan` to `fd`. */
static napi_value js_route(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  replay *r = replay_arg(env, argv[0]);
  int32_t id, fd;
  if (!r || !ig_arg_i32(env, argv[1], "dsId", &id) || !ig_arg_i32(env, argv[3], "fd", &fd)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[2]);
  if (!p) return NULL;
  if (id < 0 || id >= MAX_DS || !r->routes) return ig_throw_type(env, "replayLoopRoute: data source id %d out of range", id);
  ig_plan_ref(p);
  if (r->routes[id].plan) ig_plan_unref(r->routes[id].plan);
  r->routes[id].plan = p;
  r->routes[id].fd = fd;
  return ig_undefined(env);
}

static napi_value copy(napi_env env, const uint8_t *p, size_t n) {
  napi_value b;
  if (napi_create_buffer_copy(env, n, p, NULL, &b) != napi_ok) return ig_napi_fail(env, napi_generic_failure, "replayLoopStep");
  return b;
}

static size_t record_end(const uint8_t *d, size_t off, size_t end, uint32_t n, uint32_t *taken) {
  uint32_t k = 0;
  while (k < n && off + 8 <= end) {
    uint32_t rl = le32(d + off);
    if (rl > end - off - 8) break;
    off += 8 + ((rl + 7) & ~7u);
    k++;
  }
  *taken = k;
  return off;
}

/* replayLoopStep(loop, budgetMs): runs until JS has something to do; state[0] says what (K_*), the return value is
 * the copy it concerns (or undefined):
 *   K_ENTRY   state[1] entry type, state[2] its offset in the chunk, state[3] the chunk's offset in the file,
 *             state[4] chunks taken: the entry's body (JS parses it)
 *   K_MISS    state[1] data source id, state[2] record count: those records (JS renders them through the pipeline)
 *   K_REFRESH state[1] data source id: the record rendered with a stale fragment
 *   K_FAILED  state[1] data source id, state[2] errno of the failed write (the loop is done)
 *   K_YIELD   the time slice is over
 *   K_STOP    state[1] where JS's reader goes on, state[2] the chunks taken so far
 *   K_DAMAGE  state[1] the entry's offset in the chunk, state[2] announced length (-1: header cut), state[3] bytes
 *             left, state[4] the chunk's offset, state[5] chunks taken: a malformed entry (JS says so in its reader's words)
 * Output of the plans is flushed before every return. */
static napi_value js_step(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  replay *r = replay_arg(env, argv[0]);
  int32_t budget_ms;
  if (!r || !ig_arg_i32(env, argv[1], "budgetMs", &budget_ms)) return NULL;
  if (!r->routes) return ig_throw_msg(env, "replayLoopStep: closed");
  double *st = r->state;
  uint64_t t0 = ig_mono_ns(), until = t0 + (uint64_t)budget_ms * 1000000u;
  napi_value ret = NULL;
  for (;;) {
    if (r->cur < 0) {
      pthread_mutex_lock(&r->mu);
      while (r->filled == 0) pthread_cond_wait(&r->cv, &r->mu);
      r->cur = r->head;
      pthread_mutex_unlock(&r->mu);
      r->off = 0;
      slot *s = &r->slots[r->cur];
      if (s->bail) {
        st[0] = K_STOP;
        st[1] = (double)s->start;
        st[2] = r->chunks;
        r->cur = -1; /* the thread has ended: nothing more comes */
        break;
      }
      r->chunks++;
    }
    slot *s = &r->slots[r->cur];
    const uint8_t *d = s->buf;
    if (r->in_batch) {
      route *rt = &r->routes[r->b_ds];
      if (r->out.fd != rt->fd) {
        ig_out_flush(&r->out);
        r->out.fd = rt->fd;
      }
      uint64_t now = ig_mono_ns();
      int rc = IG_RENDER_OK;
      while (r->b_left > 0 && r->b_off + 8 <= r->b_end) {
        uint32_t rl = le32(d + r->b_off);
        if (rl > r->b_end - r->b_off - 8) break; /* a record past the batch's end: the rest of it is cut */
        rc = ig_plan_render(rt->plan, d + r->b_off + 8, rl, now, &r->out);
        if (rc == IG_RENDER_MISS) break;
        size_t at = r->b_off;
        r->b_off += 8 + ((rl + 7) & ~7u);
        r->b_left--;
        if (rc == IG_RENDER_REFRESH) {
          st[0] = K_REFRESH;
          st[1] = r->b_ds;
          ret = copy(env, d + at, r->b_off - at);
          break;
        }
        if (ig_out_error(&r->out)) break;
      }
      if (ig_out_error(&r->out)) {
        st[0] = K_FAILED;
        st[1] = r->b_ds;
        st[2] = ig_out_error(&r->out);
        return ig_undefined(env);
      }
      if (ret) break;
      if (rc == IG_RENDER_MISS) {
        uint32_t k;
        size_t end = record_end(d, r->b_off, r->b_end, r->b_left < MISS_RECORDS ? r->b_left : MISS_RECORDS, &k);
        st[0] = K_MISS;
        st[1] = r->b_ds;
        st[2] = k;
        ret = copy(env, d + r->b_off, end - r->b_off);
        r->b_off = end;
        r->b_left -= k;
        if (k == 0) r->b_left = 0;
        break;
      }
      r->in_batch = false; /* done, or cut: on to the entry after it */
      if (ig_mono_ns() >= until) {
        st[0] = K_YIELD;
        break;
      }
      continue;
    }
    if (r->off >= s->len) {
      pthread_mutex_lock(&r->mu);
      r->head = (r->head + 1) % SLOTS;
      r->filled--;
      pthread_cond_broadcast(&r->cv);
      pthread_mutex_unlock(&r->mu);
      r->cur = -1;
      continue;
    }
    size_t o = r->off, left = s->len - o;
    if (left < 5) {
      st[0] = K_DAMAGE;
      st[1] = (double)o;
      st[2] = -1;
      st[3] = (double)left;
      st[4] = (double)s->start;
      st[5] = r->chunks;
      r->off = s->len;
      break;
    }
    uint8_t type = d[o];
    uint32_t len = le32(d + o + 1);
    if (len > left - 5) {
      st[0] = K_DAMAGE;
      st[1] = (double)o;
      st[2] = len;
      st[3] = (double)(left - 5);
      st[4] = (double)s->start;
      st[5] = r->chunks;
      r->off = s->len;
      break;
    }
    r->off = o + 5 + len;
    const uint8_t *body = d + o + 5;
    if (type == 5 && len >= 18) {
      uint16_t ds;
      memcpy(&ds, body + 8, 2);
      uint32_t count = le32(body + 10), layout = le32(body + 14);
      if (layout == 0 && r->routes[ds].plan) {
        r->in_batch = true;
        r->b_ds = ds;
        r->b_left = count;
        r->b_off = o + 5 + 18;
        r->b_end = o + 5 + len;
        continue;
      }
    }
    st[0] = K_ENTRY;
    st[1] = type;
    st[2] = (double)o;
    st[3] = (double)s->start;
    st[4] = r->chunks;
    ret = copy(env, body, len);
    break;
  }
  ig_out_flush(&r->out);
  if (ig_out_error(&r->out) && st[0] != K_FAILED) {
    st[0] = K_FAILED;
    st[1] = r->b_ds;
    st[2] = ig_out_error(&r->out);
    return ig_undefined(env);
  }
  return ret ? ret : ig_undefined(env);
}

/* replayLoopClose(loop): stops the thread, closes the fd and frees the buffers (idempotent; the GC frees the rest). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  replay *r = replay_arg(env, argv[0]);
  if (!r) return NULL;
  release(r);
  return ig_undefined(env);
}

bool ig_replay_loop_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "replayLoopOpen", js_open);
  IG_EXPORT(env, exports, "replayLoopRoute", js_route);
  IG_EXPORT(env, exports, "replayLoopStep", js_step);
  IG_EXPORT(env, exports, "replayLoopClose", js_close);
  return true;
}
