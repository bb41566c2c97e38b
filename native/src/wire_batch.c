/* Wire batches: the packet codec's batch frame (docs/packet-format.md, src/datasource/codec.ts) written from a
 * batch's record bytes in C, for the gRPC daemon (src/service/native-wire.ts).
 *
 * Why: under an open() storm the JS encoder cost ~3.7 µs per event in the daemon (segment scanning of 855-byte
 * records, a getter call and a tagged write per derived value), several times the kernel's own cost per event.
 * Here the records are scanned as the JS encoder does (same segments, byte for byte) and every value an operator
 * computes in JS comes from a memo: its tagged value bytes keyed by the record bytes it follows from (the field's
 * declared derivation, as render plans key theirs). A key seen for the first time is a miss: the call returns
 * the misses instead of a frame, JS computes those values with the field getters, fills the memos and calls
 * again. In a storm the keys are few (one process, one container, one user), so JS runs per new key, not per
 * event.
 *
 * Value kinds (spec, int32): [dsId, recordBytes, nvals, then per value: kind, ttlMs, off, nranges,
 * (off, len) * nranges].
 *   VAL_MEMO: the tagged bytes of the value, keyed by the concatenated ranges (at most 64 bytes).
 *   VAL_WALL: RFC 3339 text of the wall-clock u64 at `off` (rewritten in place by the formatters before the
 *     forwarder sees it): keyed by its second; the fragment is the tagged string with 9 placeholder digits at
 *     `aux` that get the nanoseconds. A value of 0 is the empty string.
 * The memos are shared with frames written on a reader's poll thread (wire_stream.c): every use holds the handle's
 * mutex, and a reader keeps the handle alive (refs) until it stops. */
#include "wire_batch.h"
#include "bytes.h"

#include <stdlib.h>
#include <string.h>

#define IG_MAGIC_WIRE 0x1b0b3171u

#define WKEY_MAX IG_WKEY_MAX
#define WRANGES_MAX IG_WRANGES_MAX
#define WMEMO_CAP 1024 /* entries per value (112 KiB); a memo 3/4 full is emptied (keys are few in practice) */
#define FRAME_HEADER IG_WFRAME_HEADER
#define MIN_ZERO_RUN 16
#define TAG_STRING IG_WTAG_STRING
#define VAL_MEMO IG_WVAL_MEMO
#define VAL_WALL IG_WVAL_WALL

typedef ig_wentry wentry;
typedef ig_wval wval;

/* ---------------------------------------------------------------------------------------------------------------
 * Memos */
static inline uint64_t whash(const uint8_t *k, size_t n) { return ig_hash_bytes(k, n); }

static void wval_clear(wval *v) {
  v->last = NULL;
  v->gen++;
  if (!v->tab) return;
  for (uint32_t i = 0; i < WMEMO_CAP && v->used; i++) {
    if (v->tab[i].frag) {
      free(v->tab[i].frag);
      v->tab[i].frag = NULL;
      v->used--;
    }
  }
  v->used = 0;
}

static wentry *wfind(wval *v, const uint8_t *key, size_t n, uint64_t h) {
  uint32_t i = (uint32_t)h & (WMEMO_CAP - 1);
  for (;;) {
    wentry *e = &v->tab[i];
    if (!e->frag || (e->hash == h && e->key_len == n && memcmp(e->key, key, n) == 0)) return e;
    i = (i + 1) & (WMEMO_CAP - 1);
  }
}

/* The key of record `rec` for value v into k; its length. */
static size_t wkey(const wval *v, const uint8_t *rec, uint8_t *k) {
  if (v->kind == VAL_WALL) {
    uint64_t ns;
    memcpy(&ns, rec + v->off, 8);
    uint64_t sec = ns / 1000000000ull;
    memcpy(k, &sec, 8);
    return 8;
  }
  size_t n = 0;
  for (uint32_t r = 0; r < v->nranges; r++) {
    memcpy(k + n, rec + v->ranges[r][0], v->ranges[r][1]);
    n += v->ranges[r][1];
  }
  return n;
}

static inline bool key_eq(const uint8_t *a, const uint8_t *b, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    if (x != y) return false;
  }
  for (; i < n; i++)
    if (a[i] != b[i]) return false;
  return true;
}

static wentry *wset(wval *v, const uint8_t *rec, const uint8_t *frag, size_t flen, uint32_t aux, uint64_t now_ns);

/* Longest wall-clock fragment wall_next rewrites (RFC 3339 with nanoseconds and an offset is 37 bytes tagged). */
#define WALL_FRAG_MAX 64

/* The text of a second with no entry yet, from the last entry found (an earlier second): when both are in the same
 * minute (of UTC, so of any zone: offsets are whole minutes and change on minute boundaries) they differ only in the
 * two digits of the seconds, found right before the '.' of the fraction and checked against the earlier second.
 * Why: otherwise every new second is a miss under a storm, which sends records through JS and stalls a reader
 * thread until JS has filled the memo (with a TTL's expiry, most of the ~2-4 such episodes per second, each ~1.6
 * ms of the daemon's JS thread and two extra frames, 2026-12-06). NULL: JS computes it. */
static wentry *wall_next(wval *v, const uint8_t *k, const uint8_t *rec, uint64_t now_ns) {
  const wentry *p = v->last;
  if (!p || p->key_len != 8 || p->aux < 3 || p->frag_len > WALL_FRAG_MAX || (size_t)p->aux + 9 > p->frag_len) return NULL;
  uint64_t was, sec;
  memcpy(&was, p->key, 8);
  memcpy(&sec, k, 8);
  const uint8_t *d = p->frag + p->aux - 3;
  if (sec / 60 != was / 60 || d[2] != '.' || d[0] != '0' + was % 60 / 10 || d[1] != '0' + was % 10) return NULL;
  uint8_t frag[WALL_FRAG_MAX];
  memcpy(frag, p->frag, p->frag_len);
  frag[p->aux - 3] = (uint8_t)('0' + sec % 60 / 10);
  frag[p->aux - 2] = (uint8_t)('0' + sec % 10);
  return wset(v, rec, frag, p->frag_len, p->aux, now_ns); /* p may be gone after this (a full memo is emptied) */
}

/* The entry of record `rec`, NULL for a miss (a new key, or one past its TTL). */
const ig_wentry *ig_wlookup(ig_wval *v, const uint8_t *rec, uint64_t now_ns) {
  if (!v->tab) return NULL;
  uint8_t k[WKEY_MAX];
  size_t n = wkey(v, rec, k);
  wentry *e = v->last;
  /* Records come in runs with the same key: the last answer first. */
  if (!e || e->key_len != n || !key_eq(e->key, k, n)) {
    e = wfind(v, k, n, whash(k, n));
    if (!e->frag && !(v->kind == VAL_WALL && v->wall_next && (e = wall_next(v, k, rec, now_ns)))) return NULL;
    v->last = e;
  }
  if (e->expires_ns && now_ns >= e->expires_ns) return NULL;
  return e;
}

static wentry *wset(wval *v, const uint8_t *rec, const uint8_t *frag, size_t flen, uint32_t aux, uint64_t now_ns) {
  uint8_t k[WKEY_MAX];
  size_t n = wkey(v, rec, k);
  /* Tables are made on first use: a run has a value per computed field, most of them never used. */
  if (!v->tab && !(v->tab = calloc(WMEMO_CAP, sizeof *v->tab))) return NULL;
  if (v->used >= WMEMO_CAP * 3 / 4) wval_clear(v);
  uint64_t h = whash(k, n);
  wentry *e = wfind(v, k, n, h);
  uint8_t *copy = malloc(flen ? flen : 1);
  if (!copy) return NULL;
  memcpy(copy, frag, flen);
  if (e->frag)
    free(e->frag);
  else
    v->used++;
  e->frag = copy;
  e->frag_len = (uint32_t)flen;
  e->aux = aux;
  e->hash = h;
  e->key_len = (uint16_t)n;
  memcpy(e->key, k, n);
  e->expires_ns = v->ttl_ns ? now_ns + v->ttl_ns : 0;
  v->last = NULL;
  v->gen++;
  return e;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Writing (mirrors codec.ts Writer / trimZeros / writeSegments) */
bool ig_wroom(ig_wbuf *b, size_t n) {
  if (b->len + n <= b->cap) return true;
  size_t nc = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
  uint8_t *np = realloc(b->p, nc);
  if (!np) return false;
  b->p = np;
  b->cap = nc;
  return true;
}

#define wroom(w, n) ig_wroom(&(w)->out, (n))
#define put_uvar(w, v) ig_wput_uvar(&(w)->out, (v))

static inline uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The end of [start, end) without its trailing zero bytes. */
static size_t trim_zeros(const uint8_t *buf, size_t start, size_t end) {
  while (end - start >= 8) {
    uint64_t v;
    memcpy(&v, buf + end - 8, 8);
    if (v) break;
    end -= 8;
  }
  while (end > start && buf[end - 1] == 0) end--;
  return end;
}

/* buf[start, end) as segments: (uvar literal length, literal bytes, uvar zero-run length), the last with a
 * zero run of 0. A run starts at a 4-byte step from start and is at least 16 bytes, as in codec.ts. */
static bool put_segments(ig_wbuf *w, const uint8_t *buf, size_t start, size_t end) {
  size_t lit = start, p = start;
  while (p + MIN_ZERO_RUN <= end) {
    uint64_t a, b;
    memcpy(&a, buf + p, 8);
    memcpy(&b, buf + p + 8, 8);
    if (a | b) {
      /* No run starts at p or at a later step up to the last nonzero 32-bit word of these 16 bytes (each would hold
       * it): go on after it (the bytes are little-endian: word 3 is b's high half). */
      p += b ? (b >> 32 ? 16 : 12) : (a >> 32 ? 8 : 4);
      continue;
    }
    size_t q = p + MIN_ZERO_RUN;
    for (uint64_t z; q + 8 <= end && (memcpy(&z, buf + q, 8), z == 0);) q += 8;
    while (q + 4 <= end && rd32(buf + q) == 0) q += 4;
    if (!ig_wroom(w, 20 + (p - lit))) return false;
    ig_wput_uvar(w, p - lit);
    memcpy(w->p + w->len, buf + lit, p - lit);
    w->len += p - lit;
    ig_wput_uvar(w, q - p);
    lit = p = q;
  }
  if (!ig_wroom(w, 20 + (end - lit))) return false;
  ig_wput_uvar(w, end - lit);
  memcpy(w->p + w->len, buf + lit, end - lit);
  w->len += end - lit;
  ig_wput_uvar(w, 0);
  return true;
}

bool ig_wput_record(ig_wbuf *b, const uint8_t *buf, size_t start, size_t len, size_t span) {
  if (!ig_wroom(b, 14)) return false;
  ig_wput_uvar(b, len);
  size_t len_at = b->len;
  b->len += 4;
  if (!put_segments(b, buf, start, trim_zeros(buf, start, start + span))) return false;
  uint32_t enc = (uint32_t)(b->len - len_at - 4);
  memcpy(b->p + len_at, &enc, 4);
  return true;
}

bool ig_wput_value(ig_wbuf *b, const ig_wval *val, const ig_wentry *e, const uint8_t *rec) {
  if (!e) { /* a wall-clock value of 0: the empty string */
    if (!ig_wroom(b, 2)) return false;
    b->p[b->len++] = TAG_STRING;
    b->p[b->len++] = 0;
    return true;
  }
  if (!ig_wroom(b, e->frag_len)) return false;
  uint8_t *d = b->p + b->len;
  memcpy(d, e->frag, e->frag_len);
  if (val->kind == VAL_WALL) {
    uint64_t ns;
    memcpy(&ns, rec + val->off, 8);
    uint32_t frac = (uint32_t)(ns % 1000000000ull);
    for (int dgt = 8; dgt >= 0; dgt--) {
      d[e->aux + (uint32_t)dgt] = (uint8_t)('0' + frac % 10);
      frac /= 10;
    }
  }
  b->len += e->frag_len;
  return true;
}

static bool add_miss(ig_wire *w, int32_t v, int32_t k) {
  if (w->nmisses + 2 > w->cap_misses) {
    size_t nc = w->cap_misses ? w->cap_misses * 2 : 64;
    int32_t *nm = realloc(w->misses, nc * sizeof *nm);
    if (!nm) return false;
    w->misses = nm;
    w->cap_misses = nc;
  }
  w->misses[w->nmisses++] = v;
  w->misses[w->nmisses++] = k;
  return true;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Handles */
/* The memos and scratch, now (the handle itself goes with its last JS reference). */
static void wire_release(ig_wire *w) {
  for (size_t i = 0; i < w->nvals; i++) {
    if (w->vals[i].tab) {
      wval_clear(&w->vals[i]);
      free(w->vals[i].tab);
      w->vals[i].tab = NULL;
    }
  }
  free(w->out.p);
  free(w->frags);
  free(w->misses);
  w->out.p = NULL;
  w->frags = NULL;
  w->misses = NULL;
  w->out.cap = w->out.len = w->nfrags = w->cap_misses = 0;
  w->closed = true;
  w->gen++;
}

static void wire_free(ig_wire *w) {
  wire_release(w);
  free(w->vals);
  pthread_mutex_destroy(&w->mu);
  w->magic = 0;
  free(w);
}

void ig_wire_ref(ig_wire *w) { __atomic_add_fetch(&w->refs, 1, __ATOMIC_ACQ_REL); }

void ig_wire_unref(ig_wire *w) {
  if (__atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL) == 0) wire_free(w);
}

ig_wire *ig_wire_arg(napi_env env, napi_value v) { return ig_handle(env, v, IG_MAGIC_WIRE, "wire batch"); }

static void wire_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ig_wire_unref(data);
}

/* wireBatchNew(spec: Int32Array): a handle (see the top of this file for the spec). */
static napi_value js_wire_new(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  void *data;
  size_t bytes;
  if (!ig_arg_bytes(env, argv[0], "spec", &data, &bytes)) return NULL;
  const int32_t *s = data;
  size_t n = bytes / 4, at = 3;
  if (n < 3 || s[0] < 0 || s[1] < 0 || s[2] < 0 || s[2] > 65536) return ig_throw_type(env, "wire batch spec: bad header");
  ig_wire *w = calloc(1, sizeof *w);
  if (!w) return ig_throw_msg(env, "wire batch: out of memory");
  w->magic = IG_MAGIC_WIRE;
  w->refs = 1;
  pthread_mutex_init(&w->mu, NULL);
  w->ds_id = (uint32_t)s[0];
  w->record_bytes = (uint32_t)s[1];
  w->nvals = (size_t)s[2];
  w->vals = calloc(w->nvals ? w->nvals : 1, sizeof *w->vals);
  const char *bad = w->vals ? NULL : "out of memory";
  for (size_t i = 0; !bad && i < w->nvals; i++) {
    wval *v = &w->vals[i];
    if (at + 4 > n) { bad = "truncated"; break; }
    v->kind = (uint32_t)s[at];
    v->ttl_ns = s[at + 1] > 0 ? (uint64_t)s[at + 1] * 1000000ull : 0;
    v->off = (uint32_t)s[at + 2];
    v->nranges = (uint32_t)s[at + 3];
    at += 4;
    if (v->kind == VAL_WALL) {
      if (s[at - 2] < 0 || v->nranges != 0) { bad = "bad wall-clock value"; break; }
      v->need = v->off + 8;
      const char *next = getenv("IG_WIRE_WALL_NEXT"); /* "0": every new second from JS (benchmarks) */
      v->wall_next = !next || strcmp(next, "0") != 0;
    } else if (v->kind == VAL_MEMO) {
      if (v->nranges == 0 || v->nranges > WRANGES_MAX || at + 2 * v->nranges > n) { bad = "bad memo ranges"; break; }
      size_t klen = 0;
      for (uint32_t r = 0; r < v->nranges; r++) {
        int32_t o = s[at + 2 * r], l = s[at + 2 * r + 1];
        if (o < 0 || l <= 0) { bad = "bad memo range"; break; }
        v->ranges[r][0] = (uint32_t)o;
        v->ranges[r][1] = (uint32_t)l;
        klen += (size_t)l;
        if ((uint32_t)(o + l) > v->need) v->need = (uint32_t)(o + l);
      }
      if (!bad && klen > WKEY_MAX) bad = "memo key longer than 64 bytes";
      at += 2 * v->nranges;
    } else {
      bad = "unknown value kind";
    }
  }
  if (!bad && at != n) bad = "trailing items";
  if (bad) {
    wire_free(w);
    return ig_throw_type(env, "wire batch spec: %s", bad);
  }
  napi_value h;
  if (napi_create_external(env, w, wire_finalize, NULL, &h) != napi_ok) {
    wire_free(w);
    return ig_napi_fail(env, napi_generic_failure, "napi_create_external");
  }
  return h;
}

static bool u32_array(napi_env env, napi_value v, const char *what, const uint32_t **out, size_t *n) {
  void *data;
  size_t len;
  if (!ig_arg_bytes(env, v, what, &data, &len)) return false;
  *out = data;
  *n = len / 4;
  return true;
}

/* The body of wireBatchEncode, with w->mu held (a reader's poll thread may use the memos too). */
static napi_value encode_locked(napi_env env, ig_wire *w, napi_value scratch_arg, void *bufp, size_t blen, const uint32_t *offs,
                                size_t noffs, const uint32_t *lens, size_t nlens, const uint32_t *live, int32_t n) {
  if (w->closed) return ig_throw_type(env, "wire batch: closed");
  const uint8_t *buf = bufp;
  uint64_t now = ig_mono_ns();
  w->nmisses = 0;
  for (size_t v = 0; v < w->nvals; v++) w->vals[v].miss_len = 0xffff;
  size_t need_frags = w->nvals * (size_t)n;
  if (need_frags > w->nfrags) {
    const wentry **nf = realloc(w->frags, need_frags * sizeof *nf);
    if (!nf) return ig_throw_msg(env, "wire batch: out of memory");
    w->frags = nf;
    w->nfrags = need_frags;
  }
  /* Values first (a miss makes the frame moot): the entry of every (value, record). */
  for (int32_t k = 0; k < n; k++) {
    uint32_t i = live[k];
    if (i >= noffs || i >= nlens || offs[i] > blen) return ig_throw_type(env, "wire batch: record %u out of range", i);
    const uint8_t *rec = buf + offs[i];
    size_t avail = blen - offs[i];
    for (size_t v = 0; v < w->nvals; v++) {
      wval *val = &w->vals[v];
      if (val->need > avail) {
        if (!add_miss(w, -1, k)) return ig_throw_msg(env, "wire batch: out of memory");
        continue;
      }
      if (val->kind == VAL_WALL) {
        uint64_t ns;
        memcpy(&ns, rec + val->off, 8);
        if (ns == 0) { w->frags[v * (size_t)n + (size_t)k] = NULL; continue; }
      }
      const wentry *e = ig_wlookup(val, rec, now);
      if (!e) {
        uint8_t key[WKEY_MAX];
        size_t kn = wkey(val, rec, key);
        if (val->miss_len == kn && key_eq(val->miss_key, key, kn)) continue; /* reported for an earlier record */
        memcpy(val->miss_key, key, kn);
        val->miss_len = (uint16_t)kn;
        if (!add_miss(w, (int32_t)v, k)) return ig_throw_msg(env, "wire batch: out of memory");
      }
      w->frags[v * (size_t)n + (size_t)k] = e;
    }
  }
  if (w->nmisses) {
    napi_value ab, arr;
    void *p;
    if (napi_create_arraybuffer(env, w->nmisses * 4, &p, &ab) != napi_ok ||
        napi_create_typedarray(env, napi_int32_array, w->nmisses, ab, 0, &arr) != napi_ok)
      return ig_napi_fail(env, napi_generic_failure, "napi_create_typedarray");
    memcpy(p, w->misses, w->nmisses * 4);
    return arr;
  }
  /* Header, data source number, record count. */
  w->out.len = 0;
  if (!wroom(w, FRAME_HEADER + 20)) return ig_throw_msg(env, "wire batch: out of memory");
  memcpy(w->out.p, "ig\x01\x02\0\0\0\0", FRAME_HEADER);
  w->out.len = FRAME_HEADER;
  put_uvar(w, w->ds_id);
  put_uvar(w, (uint64_t)n);
  /* Records: (length, encoded length, segments), as codec.ts writeBatch. */
  for (int32_t k = 0; k < n; k++) {
    uint32_t i = live[k];
    size_t start = offs[i], len = lens[i];
    size_t span = len > w->record_bytes ? len : w->record_bytes;
    if (span > blen - start) span = blen - start;
    if (!ig_wput_record(&w->out, buf, start, len, span)) return ig_throw_msg(env, "wire batch: out of memory");
  }
  /* Values, field by field. */
  for (size_t v = 0; v < w->nvals; v++) {
    const wval *val = &w->vals[v];
    for (int32_t k = 0; k < n; k++)
      if (!ig_wput_value(&w->out, val, w->frags[v * (size_t)n + (size_t)k], buf + offs[live[k]]))
        return ig_throw_msg(env, "wire batch: out of memory");
  }
  uint32_t body = (uint32_t)(w->out.len - FRAME_HEADER);
  memcpy(w->out.p + 4, &body, 4);
  /* Into the caller's scratch when it fits (JS copies it out as its encoder does: small frames from Node's buffer
   * pool, not one malloc'd backing store per frame, which fragmented the daemon's heap). */
  if (!ig_is_nullish(env, scratch_arg)) {
    void *scratch;
    size_t slen;
    if (!ig_arg_bytes(env, scratch_arg, "scratch", &scratch, &slen)) return NULL;
    if (w->out.len <= slen) {
      memcpy(scratch, w->out.p, w->out.len);
      return ig_num(env, (double)w->out.len);
    }
  }
  napi_value out;
  void *copy;
  if (napi_create_buffer_copy(env, w->out.len, w->out.p, &copy, &out) != napi_ok) return ig_napi_fail(env, napi_generic_failure, "napi_create_buffer_copy");
  return out;
}

/* wireBatchEncode(h, buf, offs, lens, live, n, scratch?): the batch frame of records live[0..n) as a Buffer (its
 * length when it was written into scratch), or when some
 * value has no memo entry an Int32Array of (value, live position) pairs, or (-1, position) for a record too short
 * for the keys (JS encodes such a batch). */
static napi_value js_wire_encode(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!ig_args(env, info, 7, argv)) return NULL;
  ig_wire *w = ig_handle(env, argv[0], IG_MAGIC_WIRE, "wire batch");
  if (!w) return NULL;
  void *bufp;
  size_t blen, noffs, nlens, nlive;
  const uint32_t *offs, *lens, *live;
  int32_t n;
  if (!ig_arg_bytes(env, argv[1], "buf", &bufp, &blen) || !u32_array(env, argv[2], "offs", &offs, &noffs) ||
      !u32_array(env, argv[3], "lens", &lens, &nlens) || !u32_array(env, argv[4], "live", &live, &nlive) ||
      !ig_arg_i32(env, argv[5], "n", &n))
    return NULL;
  if (n < 0 || (size_t)n > nlive) return ig_throw_type(env, "wire batch: %d records, %zu live", n, nlive);
  pthread_mutex_lock(&w->mu);
  napi_value r = encode_locked(env, w, argv[6], bufp, blen, offs, noffs, lens, nlens, live, n);
  pthread_mutex_unlock(&w->mu);
  return r;
}

/* wireBatchFill(h, value, buf, recordOffset, fragment, aux): the value's bytes for the key of the record at
 * buf[recordOffset] (VAL_WALL: the tagged text, its 9 nanosecond digits at aux). */
static napi_value js_wire_fill(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ig_args(env, info, 6, argv)) return NULL;
  ig_wire *w = ig_handle(env, argv[0], IG_MAGIC_WIRE, "wire batch");
  int32_t v, off, aux;
  void *bufp, *frag;
  size_t blen, flen;
  if (!w || !ig_arg_i32(env, argv[1], "value", &v) || !ig_arg_bytes(env, argv[2], "buf", &bufp, &blen) ||
      !ig_arg_i32(env, argv[3], "recordOffset", &off) || !ig_arg_bytes(env, argv[4], "fragment", &frag, &flen) ||
      !ig_arg_i32(env, argv[5], "aux", &aux))
    return NULL;
  if (v < 0 || (size_t)v >= w->nvals) return ig_throw_type(env, "wire batch: value %d out of range", v);
  wval *val = &w->vals[v];
  if (off < 0 || (size_t)off > blen || val->need > blen - (size_t)off) return ig_throw_type(env, "wire batch: record at %d too short for its key", off);
  if (val->kind == VAL_WALL && (aux < 0 || (size_t)aux + 9 > flen)) return ig_throw_type(env, "wire batch: digits at %d outside the %zu-byte fragment", aux, flen);
  pthread_mutex_lock(&w->mu);
  bool closed = w->closed;
  bool ok = closed || wset(val, (const uint8_t *)bufp + off, frag, flen, (uint32_t)aux, ig_mono_ns()) != NULL;
  w->gen++;
  pthread_mutex_unlock(&w->mu);
  if (closed) return ig_throw_type(env, "wire batch: closed");
  if (!ok) return ig_throw_msg(env, "wire batch: out of memory");
  return ig_undefined(env);
}

/* wireBatchClear(h, value): forget a value's memo (-1: every value's), e.g. after a container came or went. */
static napi_value js_wire_clear(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_wire *w = ig_handle(env, argv[0], IG_MAGIC_WIRE, "wire batch");
  int32_t v;
  if (!w || !ig_arg_i32(env, argv[1], "value", &v)) return NULL;
  pthread_mutex_lock(&w->mu);
  for (size_t i = 0; i < w->nvals; i++)
    if (v < 0 || (size_t)v == i) wval_clear(&w->vals[i]);
  w->gen++;
  pthread_mutex_unlock(&w->mu);
  return ig_undefined(env);
}

/* wireBatchClose(h): release the memos now (end of the run); later encodes and fills throw. */
static napi_value js_wire_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_wire *w = ig_handle(env, argv[0], IG_MAGIC_WIRE, "wire batch");
  if (!w) return NULL;
  pthread_mutex_lock(&w->mu);
  wire_release(w);
  pthread_mutex_unlock(&w->mu);
  return ig_undefined(env);
}

bool ig_wire_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "wireBatchClose", js_wire_close);
  IG_EXPORT(env, exports, "wireBatchNew", js_wire_new);
  IG_EXPORT(env, exports, "wireBatchEncode", js_wire_encode);
  IG_EXPORT(env, exports, "wireBatchFill", js_wire_fill);
  IG_EXPORT(env, exports, "wireBatchClear", js_wire_clear);
  return true;
}
