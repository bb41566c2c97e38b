/* Recording writer: the chunk loop of `ig run --record` (docs/recording.md, src/record/format.ts).
 *
 * Entries come from two sides, in the order they take the recorder's lock:
 *   - JS hands encoded entries (header, image blobs, params, data source table, host facts, lost counts, batches
 *     it emitted itself, the end mark): recorderAppend;
 *   - a reader thread in record mode (reader.c, opts.record) hands each batch of records as it flushes it:
 *     ig_rec_batch, no JS per record or per batch.
 * They are copied into the current chunk. A chunk is sealed at chunkBytes or flushMs after its first entry (so a
 * crash loses at most that long); the recorder's thread compresses each sealed chunk on its own (zstd, or raw
 * deflate / none), checksums it (CRC-32 of the stored bytes) and appends it to the file.
 *
 * Back-pressure: while more than BACKLOG_BYTES of sealed chunks wait, appenders wait. A reader thread then stops
 * draining its ring, which fills, and the BPF side counts what it drops: memory stays bounded.
 *
 * Rotation (maxFileBytes): before a chunk that would not fit, FILE becomes FILE.1 (FILE.1 FILE.2 …, maxFiles in
 * all) and a new FILE starts with a chunk that makes it replayable alone: the header entry (JS's JSON with this
 * file's `part`), then every "state" entry as of the last chunk written (image blobs, params, data source table,
 * the last answer to each host question). JS marks state entries with a key; a later entry with the same key
 * replaces the earlier one, in its place.
 *
 * Errors (a failed write, disk full) stop the writing; the thread keeps taking chunks (so that nobody waits) and
 * JS learns the errno from recorderStats and ends the run. */
#include "record_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IG_MAGIC_RECORDER 0x1b0ec0d3u
enum { CODEC_NONE = 0, CODEC_DEFLATE = 1, CODEC_ZSTD = 3 };
enum { ENTRY_HEADER = 1, ENTRY_BATCH = 5 };
#define FORMAT_VERSION 2
#define FILE_HEADER_BYTES 16
#define CHUNK_HEADER_BYTES 24
#define BATCH_HEAD_BYTES 23 /* u8 type, u32 length, f64 ms, u16 ds, u32 count, u32 layout */
#define BACKLOG_BYTES (64u << 20)
#define MAX_CHUNK_BYTES (64u << 20)

typedef struct rec_upd {
  struct rec_upd *next;
  char *key;
  uint8_t *entry;
  size_t len;
} rec_upd;

typedef struct rec_chunk {
  struct rec_chunk *next;
  uint8_t *data;
  size_t len, cap;
  rec_upd *upd, *upd_tail; /* state entries in this chunk, applied once it is written */
} rec_chunk;

typedef struct rec_state {
  char *key;
  uint8_t *entry;
  size_t len;
} rec_state;

struct ig_recorder {
  uint32_t magic;
  int refs; /* atomic: the JS handle and each reader in record mode */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* the thread waits for work; appenders wait for the backlog */
  pthread_t thread;
  bool thread_running;
  napi_env env;
  bool hook; /* env cleanup hook registered */

  /* guarded by mu */
  rec_chunk *cur;
  uint64_t cur_first_ns;
  rec_chunk *qhead, *qtail;
  size_t backlog;
  rec_chunk *spare;
  bool closing;
  char *header_prefix; /* the header entry's JSON up to the part number; set once by recorderBegin */

  /* configuration */
  char *path;
  uint64_t max_file_bytes;
  uint32_t max_files;
  int codec, level;
  uint64_t flush_ns;
  size_t chunk_bytes;
  uint64_t t0_ns;

  /* the thread's (after open, before the thread starts: the JS thread's) */
  int fd;
  uint64_t file_bytes;
  uint32_t part, seq, data_chunks;
  ZSTD_CCtx *zc;
  uint8_t *out;
  size_t out_cap;
  rec_state *state;
  size_t nstate, state_cap;
  uint32_t *slots; /* open addressing: index + 1 into state */
  size_t nslots;

  /* atomic */
  uint64_t batches, records, chunks, bytes;
  uint32_t files;
  int error;
  bool closed; /* JS thread */
};

static double now_ms(const ig_recorder *r) { return (double)(ig_mono_ns() - r->t0_ns) / 1e6; }

static void upd_free(rec_upd *u) {
  while (u) {
    rec_upd *n = u->next;
    free(u->key);
    free(u->entry);
    free(u);
    u = n;
  }
}

static void chunk_free(rec_chunk *c) {
  if (!c) return;
  upd_free(c->upd);
  free(c->data);
  free(c);
}

/* ---- state (the thread's) ------------------------------------------------------------------------------ */
static uint64_t key_hash(const char *k) {
  uint64_t h = 1469598103934665603ull;
  for (; *k; k++) h = (h ^ (uint8_t)*k) * 1099511628211ull;
  return h;
}

static bool state_grow_slots(ig_recorder *r) {
  size_t n = r->nslots ? r->nslots * 2 : 64;
  uint32_t *s = calloc(n, sizeof *s);
  if (!s) return false;
  for (size_t i = 0; i < r->nstate; i++) {
    size_t j = key_hash(r->state[i].key) & (n - 1);
    while (s[j]) j = (j + 1) & (n - 1);
    s[j] = (uint32_t)i + 1;
  }
  free(r->slots);
  r->slots = s;
  r->nslots = n;
  return true;
}

/* Takes the update's key and entry. */
static void state_set(ig_recorder *r, rec_upd *u) {
  if ((r->nstate + 1) * 2 > r->nslots && !state_grow_slots(r)) return;
  size_t j = key_hash(u->key) & (r->nslots - 1);
  while (r->slots[j]) {
    rec_state *s = &r->state[r->slots[j] - 1];
    if (strcmp(s->key, u->key) == 0) {
      free(s->entry);
      s->entry = u->entry;
      s->len = u->len;
      free(u->key);
      u->key = NULL;
      u->entry = NULL;
      return;
    }
    j = (j + 1) & (r->nslots - 1);
  }
  if (r->nstate == r->state_cap) {
    size_t n = r->state_cap ? r->state_cap * 2 : 32;
    rec_state *ns = realloc(r->state, n * sizeof *ns);
    if (!ns) return;
    r->state = ns;
    r->state_cap = n;
  }
  r->state[r->nstate] = (rec_state){.key = u->key, .entry = u->entry, .len = u->len};
  r->slots[j] = (uint32_t)++r->nstate;
  u->key = NULL;
  u->entry = NULL;
}

/* ---- the file (the thread's) ------------------------------------------------------------------------------ */
static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

static int open_file(ig_recorder *r) {
  int fd = open(r->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  uint8_t h[FILE_HEADER_BYTES] = {'I', 'G', 'R', 'E', 'C', '\r', '\n', 0x1a, FORMAT_VERSION};
  int err = write_all(fd, h, sizeof h);
  if (err) {
    close(fd);
    return err;
  }
  r->fd = fd;
  r->file_bytes = FILE_HEADER_BYTES;
  return 0;
}

static void fail(ig_recorder *r, int err) {
  int zero = 0;
  __atomic_compare_exchange_n(&r->error, &zero, err ? err : EIO, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* Compress `len` bytes into r->out; returns the stored length (0 with an error set). */
static size_t compress_into(ig_recorder *r, const uint8_t *data, size_t len, const uint8_t **stored) {
  if (r->codec == CODEC_NONE) {
    *stored = data;
    return len;
  }
  size_t bound = r->codec == CODEC_ZSTD ? ZSTD_compressBound(len) : (size_t)compressBound((uLong)len) + 64;
  if (r->out_cap < bound) {
    uint8_t *o = realloc(r->out, bound);
    if (!o) {
      fail(r, ENOMEM);
      return 0;
    }
    r->out = o;
    r->out_cap = bound;
  }
  *stored = r->out;
  if (r->codec == CODEC_ZSTD) {
    size_t n = ZSTD_compressCCtx(r->zc, r->out, r->out_cap, data, len, r->level);
    if (ZSTD_isError(n)) {
      fail(r, EIO);
      return 0;
    }
    return n;
  }
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    fail(r, ENOMEM);
    return 0;
  }
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)len;
  z.next_out = r->out;
  z.avail_out = (uInt)r->out_cap;
  int rc = deflate(&z, Z_FINISH);
  size_t n = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    fail(r, EIO);
    return 0;
  }
  return n;
}

static int put_chunk(ig_recorder *r, const uint8_t *stored, size_t n, size_t content_len) {
  uint8_t h[CHUNK_HEADER_BYTES] = {'C', 'H', 'N', 'K'};
  uint32_t f[4] = {r->seq++, (uint32_t)n, (uint32_t)content_len, (uint32_t)crc32(0L, stored, (uInt)n)};
  memcpy(h + 4, f, sizeof f);
  h[20] = (uint8_t)r->codec;
  int err = write_all(r->fd, h, sizeof h);
  if (!err) err = write_all(r->fd, stored, n);
  if (err) return err;
  r->file_bytes += CHUNK_HEADER_BYTES + n;
  __atomic_add_fetch(&r->bytes, CHUNK_HEADER_BYTES + n, __ATOMIC_RELAXED);
  __atomic_add_fetch(&r->chunks, 1, __ATOMIC_RELAXED);
  return 0;
}

static char *name_of(const ig_recorder *r, uint32_t i) {
  char *s = NULL;
  if (i == 0) return strdup(r->path);
  if (asprintf(&s, "%s.%u", r->path, i) < 0) return NULL;
  return s;
}

static bool exists(const char *p) {
  struct stat st;
  return p && stat(p, &st) == 0;
}

/* FILE → FILE.1 (older ones one further, the oldest removed); a new FILE that replays alone. */
static int rotate(ig_recorder *r) {
  close(r->fd);
  r->fd = -1;
  uint32_t keep = r->max_files > 0 ? r->max_files : 1;
  char *last = name_of(r, keep - 1);
  if (keep > 1 && exists(last)) unlink(last);
  free(last);
  for (int i = (int)keep - 2; i >= 0; i--) {
    char *a = name_of(r, (uint32_t)i), *b = name_of(r, (uint32_t)i + 1);
    if (a && b && exists(a) && rename(a, b) < 0) {
      int err = errno;
      free(a);
      free(b);
      return err;
    }
    free(a);
    free(b);
  }
  if (keep == 1) unlink(r->path);
  int err = open_file(r);
  if (err) return err;
  r->part++;
  __atomic_add_fetch(&r->files, 1, __ATOMIC_RELAXED);
  r->data_chunks = 0;

  pthread_mutex_lock(&r->mu);
  const char *prefix = r->header_prefix ? r->header_prefix : "{\"part\":";
  pthread_mutex_unlock(&r->mu);
  char part[16];
  int plen = snprintf(part, sizeof part, "%u}", r->part);
  size_t hlen = strlen(prefix) + (size_t)plen, total = 5 + hlen;
  for (size_t i = 0; i < r->nstate; i++) total += r->state[i].len;
  uint8_t *content = malloc(total);
  if (!content) return ENOMEM;
  content[0] = ENTRY_HEADER;
  uint32_t l32 = (uint32_t)hlen;
  memcpy(content + 1, &l32, 4);
  memcpy(content + 5, prefix, strlen(prefix));
  memcpy(content + 5 + strlen(prefix), part, (size_t)plen);
  size_t o = 5 + hlen;
  for (size_t i = 0; i < r->nstate; i++) {
    memcpy(content + o, r->state[i].entry, r->state[i].len);
    o += r->state[i].len;
  }
  const uint8_t *stored;
  size_t n = compress_into(r, content, total, &stored);
  err = n ? put_chunk(r, stored, n, total) : EIO;
  free(content);
  return err;
}

static void write_chunk(ig_recorder *r, rec_chunk *c) {
  if (!__atomic_load_n(&r->error, __ATOMIC_ACQUIRE) && c->len) {
    const uint8_t *stored;
    size_t n = compress_into(r, c->data, c->len, &stored);
    int err = n ? 0 : EIO;
    if (!err && r->max_file_bytes && r->data_chunks > 0 && r->file_bytes + CHUNK_HEADER_BYTES + n > r->max_file_bytes) {
      /* rotate() compresses its own chunk into r->out: keep this one's bytes. */
      uint8_t *keep = malloc(n);
      if (!keep) err = ENOMEM;
      if (!err) {
        memcpy(keep, stored, n);
        err = rotate(r);
        if (!err) err = put_chunk(r, keep, n, c->len);
      }
      free(keep);
    } else if (!err) {
      err = put_chunk(r, stored, n, c->len);
    }
    if (err) fail(r, err);
    else r->data_chunks++;
  }
  for (rec_upd *u = c->upd; u; u = u->next) state_set(r, u);
  upd_free(c->upd);
  c->upd = c->upd_tail = NULL;
}

/* ---- chunks (under mu) ------------------------------------------------------------------------------------ */
static void seal_locked(ig_recorder *r) {
  rec_chunk *c = r->cur;
  if (!c || !c->len) return;
  r->cur = NULL;
  c->next = NULL;
  if (r->qtail) r->qtail->next = c;
  else r->qhead = c;
  r->qtail = c;
  r->backlog += c->len;
  pthread_cond_broadcast(&r->cv);
}

/* Room for `need` more bytes in the current chunk (NULL: out of memory). */
static rec_chunk *room_locked(ig_recorder *r, size_t need) {
  rec_chunk *c = r->cur;
  if (!c) {
    c = r->spare;
    r->spare = NULL;
    if (!c && !(c = calloc(1, sizeof *c))) return NULL;
    c->len = 0;
    c->next = NULL;
    r->cur = c;
  }
  if (c->len + need > c->cap) {
    size_t cap = r->chunk_bytes + (r->chunk_bytes >> 2);
    if (cap < c->len + need) cap = c->len + need;
    uint8_t *d = realloc(c->data, cap);
    if (!d) return NULL;
    c->data = d;
    c->cap = cap;
  }
  return c;
}

/* Append a ‖ b (one entry, or a head and its body) and, with a key, note it as state. False when dropped. */
static bool put(ig_recorder *r, const void *a, size_t alen, const void *b, size_t blen, const char *key, size_t klen) {
  rec_upd *u = NULL;
  if (key) {
    u = calloc(1, sizeof *u);
    if (u) {
      u->key = malloc(klen + 1);
      u->entry = malloc(alen + blen);
      if (!u->key || !u->entry) {
        upd_free(u);
        u = NULL;
      } else {
        memcpy(u->key, key, klen);
        u->key[klen] = 0;
        memcpy(u->entry, a, alen);
        if (blen) memcpy(u->entry + alen, b, blen);
        u->len = alen + blen;
      }
    }
  }
  pthread_mutex_lock(&r->mu);
  while (r->backlog > BACKLOG_BYTES && !r->closing) pthread_cond_wait(&r->cv, &r->mu);
  rec_chunk *c = r->closing ? NULL : room_locked(r, alen + blen);
  if (!c) {
    pthread_mutex_unlock(&r->mu);
    upd_free(u);
    return false;
  }
  bool first = c->len == 0;
  memcpy(c->data + c->len, a, alen);
  if (blen) memcpy(c->data + c->len + alen, b, blen);
  c->len += alen + blen;
  if (u) {
    if (c->upd_tail) c->upd_tail->next = u;
    else c->upd = u;
    c->upd_tail = u;
  }
  if (first) {
    r->cur_first_ns = ig_mono_ns();
    pthread_cond_broadcast(&r->cv); /* the thread now has a deadline */
  }
  if (c->len >= r->chunk_bytes) seal_locked(r);
  pthread_mutex_unlock(&r->mu);
  return true;
}

void ig_rec_batch(ig_recorder *r, uint16_t ds, const uint8_t *data, size_t len, uint32_t count) {
  uint8_t h[BATCH_HEAD_BYTES];
  double t = now_ms(r);
  uint32_t blen = (uint32_t)(18 + len), layout = 0;
  h[0] = ENTRY_BATCH;
  memcpy(h + 1, &blen, 4);
  memcpy(h + 5, &t, 8);
  memcpy(h + 13, &ds, 2);
  memcpy(h + 15, &count, 4);
  memcpy(h + 19, &layout, 4);
  if (put(r, h, sizeof h, data, len, NULL, 0)) {
    __atomic_add_fetch(&r->batches, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->records, count, __ATOMIC_RELAXED);
  }
}

static void *writer_main(void *arg) {
  ig_recorder *r = arg;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    if (r->qhead) {
      rec_chunk *c = r->qhead;
      r->qhead = c->next;
      if (!r->qhead) r->qtail = NULL;
      pthread_mutex_unlock(&r->mu);
      write_chunk(r, c);
      pthread_mutex_lock(&r->mu);
      r->backlog -= c->len;
      c->len = 0;
      if (!r->spare) r->spare = c;
      else chunk_free(c);
      pthread_cond_broadcast(&r->cv);
      continue;
    }
    if (r->closing) break;
    if (r->cur && r->cur->len) {
      uint64_t now = ig_mono_ns(), due = r->cur_first_ns + r->flush_ns;
      if (now >= due) {
        seal_locked(r);
        continue;
      }
      struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull)};
      pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    } else {
      pthread_cond_wait(&r->cv, &r->mu);
    }
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* ---- lifetime ------------------------------------------------------------------------------------------- */
void ig_rec_ref(ig_recorder *r) { __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED); }

void ig_rec_unref(ig_recorder *r) {
  if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
  chunk_free(r->cur);
  chunk_free(r->spare);
  for (rec_chunk *c = r->qhead; c;) {
    rec_chunk *n = c->next;
    chunk_free(c);
    c = n;
  }
  for (size_t i = 0; i < r->nstate; i++) {
    free(r->state[i].key);
    free(r->state[i].entry);
  }
  free(r->state);
  free(r->slots);
  free(r->out);
  if (r->zc) ZSTD_freeCCtx(r->zc);
  free(r->header_prefix);
  free(r->path);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  r->magic = 0;
  free(r);
}

static void cleanup_hook(void *arg);

/* Seal what is there, let the thread write every sealed chunk, join it, sync and close the file. Idempotent. */
static void finish(ig_recorder *r) {
  if (r->closed) return;
  r->closed = true;
  pthread_mutex_lock(&r->mu);
  seal_locked(r);
  r->closing = true;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  if (r->thread_running) {
    pthread_join(r->thread, NULL);
    r->thread_running = false;
  }
  if (r->fd >= 0) {
    if (fsync(r->fd) < 0 && errno != EINVAL && errno != EROFS) fail(r, errno);
    close(r->fd);
    r->fd = -1;
  }
  if (r->hook) {
    r->hook = false;
    napi_remove_env_cleanup_hook(r->env, cleanup_hook, r);
  }
}

/* process.exit() or a worker's end without close: what was appended is still written. */
static void cleanup_hook(void *arg) {
  ig_recorder *r = arg;
  r->hook = false;
  finish(r);
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ig_recorder *r = data;
  finish(r);
  ig_rec_unref(r);
}

ig_recorder *ig_rec_arg(napi_env env, napi_value v) { return ig_handle(env, v, IG_MAGIC_RECORDER, "recorder"); }

/* ---- JS ------------------------------------------------------------------------------------------------- */
/* recorderOpen(path, {codec, level, chunkBytes, flushMs, maxFileBytes, maxFiles}): creates (truncates) FILE with
 * mode 0600 and writes the file header. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  char *path;
  if (!ig_arg_string(env, argv[0], "path", &path)) return NULL;
  int64_t codec = CODEC_ZSTD, level = 1, chunk = 4 << 20, flush_ms = 1000, max_file = 0, max_files = 5;
  if (!ig_opt_i64(env, argv[1], "codec", &codec, NULL) || !ig_opt_i64(env, argv[1], "level", &level, NULL) ||
      !ig_opt_i64(env, argv[1], "chunkBytes", &chunk, NULL) || !ig_opt_i64(env, argv[1], "flushMs", &flush_ms, NULL) ||
      !ig_opt_i64(env, argv[1], "maxFileBytes", &max_file, NULL) || !ig_opt_i64(env, argv[1], "maxFiles", &max_files, NULL)) {
    free(path);
    return NULL;
  }
  if (codec != CODEC_NONE && codec != CODEC_DEFLATE && codec != CODEC_ZSTD) {
    free(path);
    return ig_throw_type(env, "recorderOpen: unknown codec %lld", (long long)codec);
  }
  ig_recorder *r = calloc(1, sizeof *r);
  if (!r) {
    free(path);
    return ig_throw_errno(env, ENOMEM, false, "recorderOpen");
  }
  r->magic = IG_MAGIC_RECORDER;
  r->refs = 1;
  r->env = env;
  r->fd = -1;
  r->path = path;
  r->codec = (int)codec;
  r->level = (int)level;
  r->chunk_bytes = chunk < 1 ? 1 : chunk > (int64_t)(MAX_CHUNK_BYTES / 2) ? MAX_CHUNK_BYTES / 2 : (size_t)chunk;
  r->flush_ns = (uint64_t)(flush_ms < 1 ? 1 : flush_ms) * 1000000ull;
  r->max_file_bytes = max_file > 0 ? (uint64_t)max_file : 0;
  r->max_files = max_files < 1 ? 1 : max_files > 100000 ? 100000 : (uint32_t)max_files;
  r->files = 1;
  r->t0_ns = ig_mono_ns();
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (r->codec == CODEC_ZSTD && !(r->zc = ZSTD_createCCtx())) {
    ig_rec_unref(r);
    return ig_throw_errno(env, ENOMEM, false, "recorderOpen");
  }
  int err = open_file(r);
  if (err) {
    napi_value e = ig_throw_errno(env, err, false, "cannot create recording %s", path);
    ig_rec_unref(r);
    return e;
  }
  napi_value ext;
  if (napi_create_external(env, r, handle_finalize, NULL, &ext) != napi_ok) {
    close(r->fd);
    ig_rec_unref(r);
    return ig_napi_fail(env, napi_generic_failure, "recorder handle");
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  err = pthread_create(&r->thread, NULL, writer_main, r);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err) {
    finish(r); /* closes the file; the finaliser frees r */
    return ig_throw_errno(env, err, false, "recorderOpen: pthread_create");
  }
  r->thread_running = true;
  if (napi_add_env_cleanup_hook(env, cleanup_hook, r) == napi_ok) r->hook = true;
  return ext;
}

static ig_recorder *arg_open(napi_env env, napi_value v) {
  ig_recorder *r = ig_rec_arg(env, v);
  if (r && r->closed) {
    ig_throw_msg(env, "recorder is closed");
    return NULL;
  }
  return r;
}

/* recorderBegin(rec, headerJsonPrefix): the header entry, JSON text `prefix + part + "}"` (part 0 here, the file's
 * number after a rotation). The first entry of the file: call it before any other append. */
static napi_value js_begin(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_recorder *r = arg_open(env, argv[0]);
  char *prefix;
  if (!r || !ig_arg_string(env, argv[1], "headerPrefix", &prefix)) return NULL;
  pthread_mutex_lock(&r->mu);
  bool again = r->header_prefix != NULL;
  if (!again) r->header_prefix = prefix;
  pthread_mutex_unlock(&r->mu);
  if (again) {
    free(prefix);
    return ig_throw_msg(env, "recorderBegin: the header is written once");
  }
  size_t plen = strlen(prefix);
  uint8_t h[5] = {ENTRY_HEADER};
  uint32_t l32 = (uint32_t)(plen + 2);
  memcpy(h + 1, &l32, 4);
  uint8_t *body = malloc(plen + 2);
  if (!body) return ig_throw_errno(env, ENOMEM, false, "recorderBegin");
  memcpy(body, prefix, plen);
  memcpy(body + plen, "0}", 2);
  uint8_t *entry = malloc(5 + plen + 2);
  if (entry) {
    memcpy(entry, h, 5);
    memcpy(entry + 5, body, plen + 2);
    put(r, entry, 5 + plen + 2, NULL, 0, NULL, 0);
  }
  free(entry);
  free(body);
  return ig_undefined(env);
}

/* recorderAppend(rec, head, body?, key?): append head ‖ body (encoded entries). With a key, the entry is also
 * state that starts every rotated file (a later entry with the same key replaces it). */
static napi_value js_append(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  ig_recorder *r = arg_open(env, argv[0]);
  void *a, *b = NULL;
  size_t alen, blen = 0;
  char *key = NULL;
  if (!r || !ig_arg_bytes(env, argv[1], "head", &a, &alen)) return NULL;
  if (!ig_is_nullish(env, argv[2]) && !ig_arg_bytes(env, argv[2], "body", &b, &blen)) return NULL;
  if (!ig_arg_string_or_null(env, argv[3], "key", &key)) return NULL;
  bool ok = put(r, a, alen, b, blen, key, key ? strlen(key) : 0);
  free(key);
  napi_value res;
  NAPI_TRY(env, napi_get_boolean(env, ok, &res));
  return res;
}

/* recorderSeal(rec): close the current chunk now (the image in a chunk of its own). */
static napi_value js_seal(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_recorder *r = arg_open(env, argv[0]);
  if (!r) return NULL;
  pthread_mutex_lock(&r->mu);
  seal_locked(r);
  pthread_mutex_unlock(&r->mu);
  return ig_undefined(env);
}

/* recorderNow(rec): ms since the recorder opened, the clock of every entry's time. */
static napi_value js_now(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_recorder *r = ig_rec_arg(env, argv[0]);
  return r ? ig_num(env, now_ms(r)) : NULL;
}

static napi_value stats(napi_env env, ig_recorder *r) {
  napi_value o;
  NAPI_TRY(env, napi_create_object(env, &o));
  ig_set_num(env, o, "batches", (double)__atomic_load_n(&r->batches, __ATOMIC_RELAXED));
  ig_set_num(env, o, "records", (double)__atomic_load_n(&r->records, __ATOMIC_RELAXED));
  ig_set_num(env, o, "chunks", (double)__atomic_load_n(&r->chunks, __ATOMIC_RELAXED));
  ig_set_num(env, o, "bytes", (double)__atomic_load_n(&r->bytes, __ATOMIC_RELAXED));
  ig_set_num(env, o, "files", (double)__atomic_load_n(&r->files, __ATOMIC_RELAXED));
  int err = __atomic_load_n(&r->error, __ATOMIC_ACQUIRE);
  if (err) {
    ig_set_num(env, o, "errno", err);
    ig_set_str(env, o, "error", strerror(err));
  }
  return o;
}

/* recorderStats(rec): {batches, records (by readers), chunks, bytes, files, errno?, error?} */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_recorder *r = ig_rec_arg(env, argv[0]);
  return r ? stats(env, r) : NULL;
}

/* recorderClose(rec): write everything appended, sync and close the file; the stats. Idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_recorder *r = ig_rec_arg(env, argv[0]);
  if (!r) return NULL;
  finish(r);
  return stats(env, r);
}

bool ig_record_writer_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "recorderOpen", js_open);
  IG_EXPORT(env, exports, "recorderBegin", js_begin);
  IG_EXPORT(env, exports, "recorderAppend", js_append);
  IG_EXPORT(env, exports, "recorderSeal", js_seal);
  IG_EXPORT(env, exports, "recorderNow", js_now);
  IG_EXPORT(env, exports, "recorderStats", js_stats);
  IG_EXPORT(env, exports, "recorderClose", js_close);
  return true;
}
