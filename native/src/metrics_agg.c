/* Metrics aggregators: a reader consumer that counts records per key on the poll thread.
 *
 * A metrics export keyed by record bytes (proc.comm, pid, ...) or by values derived from record bytes only needs,
 * per distinct key, running sums (counters, histogram slots) and last values (gauges). The spec, compiled in
 * TypeScript (src/bpf/metrics-aggregator.ts), lists
 *   key ranges  [offset, size, flags]: the key is these bytes, concatenated; flag 1 (C string): the bytes after
 *               the first NUL do not count (they are zeroed in the stored key: ring memory is not cleared);
 *   value ops   [op, offset, size, n]: what each record adds to its key's cells (one cell per op, n for slots).
 * The poll thread builds the key of every record, finds its slot (open addressing; the previous record's slot is
 * tried first: storms come in runs of one key) and updates the cells under the aggregator's mutex (uncontended
 * but for a drain). JS drains: the keys added since the last drain (their bytes, so JS can compute the attributes
 * once per key, derived fields included) and the deltas of every slot touched since then. Nothing per record
 * reaches JS.
 *
 * A drain with `reset` also forgets every key (their derived values changed, e.g. a container went away): the next
 * records of a key make it new again. Cells hold int64 (integer ops) or doubles (float ops); deltas go out as
 * doubles (exact below 2^53 per drain). */
#include "metrics_agg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IG_MAGIC_MAGG 0x1b0a66e5u

enum { OP_COUNT = 1, OP_SUM_U = 2, OP_SUM_S = 3, OP_SUM_F = 4, OP_LAST_U = 5, OP_LAST_S = 6, OP_LAST_F = 7, OP_SLOTS_U = 8 };
enum { KEY_CSTRING = 1 };
/* How a cell is reported: a sum (reset after each drain) or a last value (kept). */
enum { CELL_SUM_I, CELL_SUM_F, CELL_LAST_U, CELL_LAST_S, CELL_LAST_F };

/* Offsets and sizes are checked against this when the spec is made. */
#define MAX_RECORD_OFFSET (1 << 20)

typedef struct {
  uint32_t off, size, flags;
} key_range;

typedef struct {
  uint32_t op, off, size, n, cell;
} value_op;

typedef union {
  int64_t i;
  double d;
} cell_t;

struct ig_magg {
  uint32_t magic;
  int refs; /* atomic: the JS handle and every reader that aggregates with it */
  pthread_mutex_t mu;

  key_range *kr;
  size_t nkr, keylen;
  value_op *ops;
  size_t nops, ncells;
  uint8_t *cell_kind;
  size_t min_size; /* shorter records are read zero-padded (as JS pads them), counted in short_records */
  uint8_t *pad;    /* min_size bytes: a short record, zero-padded */
  uint32_t max_keys;

  /* Slots, guarded by mu. */
  uint32_t *tab; /* slot + 1, 0 = empty; tab_cap is a power of two, at most half full */
  size_t tab_cap;
  uint8_t *keys;    /* nslots * keylen */
  uint32_t *hashes; /* per slot, for rehashing */
  uint64_t *seq;    /* per slot: the number of its last record (the last value of merged keys is the latest) */
  cell_t *cells;    /* nslots * ncells */
  uint8_t *dirty;
  uint32_t *dirty_list;
  uint32_t nslots, slot_cap, ndirty;
  uint32_t reported; /* slots below this were handed to JS by a drain */
  int64_t last_slot; /* -1: none */
  uint8_t *scratch;  /* the key being built (keylen bytes) */

  uint64_t records, short_records, overflow;
};

/* ---------------------------------------------------------------------------------------------
 * Poll thread side
 * ------------------------------------------------------------------------------------------- */
static uint64_t hash_key(const uint8_t *k, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, k + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  if (i < n) {
    uint64_t w = 0;
    memcpy(&w, k + i, n - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  }
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

static uint64_t read_u(const uint8_t *p, uint32_t size) {
  switch (size) {
    case 1: return p[0];
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
  }
}

static int64_t read_s(const uint8_t *p, uint32_t size) {
  switch (size) {
    case 1: return (int8_t)p[0];
    case 2: { int16_t v; memcpy(&v, p, 2); return v; }
    case 4: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return v; }
  }
}

static double read_f(const uint8_t *p, uint32_t size) {
  if (size == 4) {
    float v;
    memcpy(&v, p, 4);
    return v;
  }
  double v;
  memcpy(&v, p, 8);
  return v;
}

static bool rehash(ig_magg *m, size_t cap) {
  uint32_t *t = calloc(cap, sizeof *t);
  if (!t) return false;
  for (uint32_t s = 0; s < m->nslots; s++) {
    size_t i = m->hashes[s] & (cap - 1);
    while (t[i]) i = (i + 1) & (cap - 1);
    t[i] = s + 1;
  }
  free(m->tab);
  m->tab = t;
  m->tab_cap = cap;
  return true;
}

static bool grow_slots(ig_magg *m) {
  uint32_t cap = m->slot_cap ? m->slot_cap * 2 : 64;
  if (cap > m->max_keys) cap = m->max_keys;
  uint8_t *k = realloc(m->keys, (size_t)cap * (m->keylen ? m->keylen : 1));
  if (!k) return false;
  m->keys = k;
  uint32_t *h = realloc(m->hashes, (size_t)cap * sizeof *h);
  if (!h) return false;
  m->hashes = h;
  uint64_t *q = realloc(m->seq, (size_t)cap * sizeof *q);
  if (!q) return false;
  m->seq = q;
  cell_t *c = realloc(m->cells, (size_t)cap * (m->ncells ? m->ncells : 1) * sizeof *c);
  if (!c) return false;
  m->cells = c;
  uint8_t *d = realloc(m->dirty, cap);
  if (!d) return false;
  m->dirty = d;
  uint32_t *dl = realloc(m->dirty_list, (size_t)cap * sizeof *dl);
  if (!dl) return false;
  m->dirty_list = dl;
  m->slot_cap = cap;
  return true;
}

/* The slot of key k (m->scratch), added when new; UINT32_MAX past max_keys or out of memory. */
static uint32_t slot_of(ig_magg *m, const uint8_t *k) {
  uint32_t h = (uint32_t)hash_key(k, m->keylen);
  size_t mask = m->tab_cap - 1, i = h & mask;
  for (uint32_t e; (e = m->tab[i]); i = (i + 1) & mask) {
    uint32_t s = e - 1;
    if (m->hashes[s] == h && memcmp(m->keys + (size_t)s * m->keylen, k, m->keylen) == 0) return s;
  }
  if (m->nslots >= m->max_keys) return UINT32_MAX;
  if (m->nslots == m->slot_cap && !grow_slots(m)) return UINT32_MAX;
  uint32_t s = m->nslots++;
  memcpy(m->keys + (size_t)s * m->keylen, k, m->keylen);
  m->hashes[s] = h;
  memset(m->cells + (size_t)s * m->ncells, 0, m->ncells * sizeof(cell_t));
  m->dirty[s] = 0;
  m->tab[i] = s + 1;
  if ((size_t)m->nslots * 2 > m->tab_cap && !rehash(m, m->tab_cap * 2)) {
    /* The table stays as it is: still correct, only fuller. */
  }
  return s;
}

void ig_magg_add(ig_magg *m, const uint8_t *rec, size_t size) {
  pthread_mutex_lock(&m->mu);
  m->records++;
  if (size < m->min_size) {
    m->short_records++;
    memset(m->pad, 0, m->min_size);
    memcpy(m->pad, rec, size);
    rec = m->pad;
  }
  uint8_t *k = m->scratch;
  size_t at = 0;
  for (size_t r = 0; r < m->nkr; r++) {
    const key_range *kr = &m->kr[r];
    const uint8_t *src = rec + kr->off;
    if (kr->flags & KEY_CSTRING) {
      const uint8_t *nul = memchr(src, 0, kr->size);
      size_t n = nul ? (size_t)(nul - src) : kr->size;
      memcpy(k + at, src, n);
      memset(k + at + n, 0, kr->size - n);
    } else {
      memcpy(k + at, src, kr->size);
    }
    at += kr->size;
  }
  uint32_t s;
  if (m->last_slot >= 0 && memcmp(m->keys + (size_t)m->last_slot * m->keylen, k, m->keylen) == 0) {
    s = (uint32_t)m->last_slot;
  } else {
    s = slot_of(m, k);
    if (s == UINT32_MAX) {
      m->overflow++;
      pthread_mutex_unlock(&m->mu);
      return;
    }
    m->last_slot = s;
  }
  cell_t *c = m->cells + (size_t)s * m->ncells;
  for (size_t o = 0; o < m->nops; o++) {
    const value_op *op = &m->ops[o];
    const uint8_t *p = rec + op->off;
    cell_t *x = c + op->cell;
    switch (op->op) {
      case OP_COUNT: x->i++; break;
      case OP_SUM_U: x->i += (int64_t)read_u(p, op->size); break;
      case OP_SUM_S: x->i += read_s(p, op->size); break;
      case OP_SUM_F: x->d += read_f(p, op->size); break;
      case OP_LAST_U: x->i = (int64_t)read_u(p, op->size); break;
      case OP_LAST_S: x->i = read_s(p, op->size); break;
      case OP_LAST_F: x->d = read_f(p, op->size); break;
      case OP_SLOTS_U:
        for (uint32_t j = 0; j < op->n; j++) x[j].i += (int64_t)read_u(p + (size_t)j * op->size, op->size);
        break;
      default: break;
    }
  }
  m->seq[s] = m->records;
  if (!m->dirty[s]) {
    m->dirty[s] = 1;
    m->dirty_list[m->ndirty++] = s;
  }
  pthread_mutex_unlock(&m->mu);
}

/* ---------------------------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------------------------- */
static void magg_free(ig_magg *m) {
  pthread_mutex_destroy(&m->mu);
  free(m->kr);
  free(m->ops);
  free(m->cell_kind);
  free(m->tab);
  free(m->keys);
  free(m->hashes);
  free(m->seq);
  free(m->cells);
  free(m->dirty);
  free(m->dirty_list);
  free(m->scratch);
  free(m->pad);
  m->magic = 0;
  free(m);
}

void ig_magg_ref(ig_magg *m) { __atomic_add_fetch(&m->refs, 1, __ATOMIC_ACQ_REL); }

void ig_magg_unref(ig_magg *m) {
  if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0) magg_free(m);
}

static void magg_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ig_magg_unref(data);
}

ig_magg *ig_magg_arg(napi_env env, napi_value v) { return ig_handle(env, v, IG_MAGIC_MAGG, "metrics aggregator"); }

static bool i32_words(napi_env env, napi_value v, const char *what, size_t stride, const int32_t **out, size_t *n) {
  void *data;
  size_t len;
  if (!ig_arg_bytes(env, v, what, &data, &len)) return false;
  if (len % (4 * stride)) {
    ig_throw_type(env, "%s must be an Int32Array of %zu-tuples", what, stride);
    return false;
  }
  *out = data;
  *n = len / (4 * stride);
  return true;
}

static bool int_size(uint32_t s) { return s == 1 || s == 2 || s == 4 || s == 8; }

/* metricsAggNew(keyRanges: Int32Array [offset, size, flags]*, ops: Int32Array [op, offset, size, n]*, maxKeys) */
static napi_value js_magg_new(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  const int32_t *kw, *ow;
  size_t nkr, nops;
  int64_t max_keys;
  if (!i32_words(env, argv[0], "keyRanges", 3, &kw, &nkr) || !i32_words(env, argv[1], "ops", 4, &ow, &nops) ||
      !ig_arg_i64(env, argv[2], "maxKeys", &max_keys))
    return NULL;
  if (max_keys < 1 || max_keys > (1 << 24)) return ig_throw_type(env, "maxKeys must be 1..16777216");
  ig_magg *m = calloc(1, sizeof *m);
  if (!m) return ig_throw_msg(env, "metrics aggregator: out of memory");
  m->magic = IG_MAGIC_MAGG;
  m->refs = 1;
  m->last_slot = -1;
  m->max_keys = (uint32_t)max_keys;
  pthread_mutex_init(&m->mu, NULL);
  m->kr = calloc(nkr + 1, sizeof *m->kr);
  m->ops = calloc(nops + 1, sizeof *m->ops);
  const char *bad = !m->kr || !m->ops ? "out of memory" : NULL;
  for (size_t r = 0; !bad && r < nkr; r++) {
    int32_t off = kw[r * 3], size = kw[r * 3 + 1], flags = kw[r * 3 + 2];
    if (off < 0 || size <= 0 || off > MAX_RECORD_OFFSET || size > MAX_RECORD_OFFSET || (flags & ~KEY_CSTRING))
      bad = "bad key range";
    else {
      m->kr[r] = (key_range){(uint32_t)off, (uint32_t)size, (uint32_t)flags};
      m->nkr++;
      m->keylen += (size_t)size;
      if ((size_t)off + (size_t)size > m->min_size) m->min_size = (size_t)off + (size_t)size;
    }
  }
  for (size_t o = 0; !bad && o < nops; o++) {
    int32_t op = ow[o * 4], off = ow[o * 4 + 1], size = ow[o * 4 + 2], n = ow[o * 4 + 3];
    value_op v = {(uint32_t)op, (uint32_t)off, (uint32_t)size, 1, (uint32_t)m->ncells};
    size_t end = 0;
    if (off < 0 || off > MAX_RECORD_OFFSET) bad = "bad value offset";
    else if (op == OP_COUNT) v.off = v.size = 0;
    else if (op == OP_SUM_U || op == OP_SUM_S || op == OP_LAST_U || op == OP_LAST_S) {
      if (!int_size((uint32_t)size)) bad = "integer value size must be 1, 2, 4 or 8";
      end = (size_t)off + (size_t)size;
    } else if (op == OP_SUM_F || op == OP_LAST_F) {
      if (size != 4 && size != 8) bad = "float value size must be 4 or 8";
      end = (size_t)off + (size_t)size;
    } else if (op == OP_SLOTS_U) {
      if (size != 4 && size != 8) bad = "slot size must be 4 or 8";
      else if (n <= 0 || n > 4096) bad = "slot count must be 1..4096";
      v.n = (uint32_t)n;
      end = (size_t)off + (size_t)size * (size_t)(n > 0 ? n : 0);
    } else bad = "unknown value op";
    if (!bad) {
      m->ops[m->nops++] = v;
      m->ncells += v.n;
      if (end > m->min_size) m->min_size = end;
    }
  }
  if (!bad) {
    m->cell_kind = calloc(m->ncells + 1, 1);
    m->scratch = calloc(m->keylen + 1, 1);
    m->pad = calloc(m->min_size + 1, 1);
    m->tab_cap = 128;
    m->tab = calloc(m->tab_cap, sizeof *m->tab);
    if (!m->cell_kind || !m->scratch || !m->pad || !m->tab || !grow_slots(m)) bad = "out of memory";
  }
  for (size_t o = 0; !bad && o < m->nops; o++) {
    uint8_t kind = CELL_SUM_I;
    switch (m->ops[o].op) {
      case OP_SUM_F: kind = CELL_SUM_F; break;
      case OP_LAST_U: kind = CELL_LAST_U; break;
      case OP_LAST_S: kind = CELL_LAST_S; break;
      case OP_LAST_F: kind = CELL_LAST_F; break;
      default: break;
    }
    for (uint32_t j = 0; j < m->ops[o].n; j++) m->cell_kind[m->ops[o].cell + j] = kind;
  }
  if (bad) {
    magg_free(m);
    return ig_throw_type(env, "metrics aggregator: %s", bad);
  }
  napi_value ext;
  if (napi_create_external(env, m, magg_finalize, NULL, &ext) != napi_ok) {
    magg_free(m);
    return ig_napi_fail(env, napi_generic_failure, "metrics aggregator handle");
  }
  return ext;
}

/* metricsAggDrain(h, reset): { firstId, newKeys, keys: Buffer, deltas: Float64Array, records, short, overflow }.
 * keys: the bytes of slots firstId.. (keyLength each), new since the last drain. deltas: per slot touched since the
 * last drain, [slot, number of its last record, cell...]: sums since the last drain, last values of gauges. reset: forget every key after. */
static napi_value js_magg_drain(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_magg *m = ig_magg_arg(env, argv[0]);
  bool reset;
  if (!m || !ig_arg_bool(env, argv[1], "reset", &reset)) return NULL;

  pthread_mutex_lock(&m->mu);
  uint32_t first = m->reported, nnew = m->nslots - m->reported;
  size_t klen = (size_t)nnew * m->keylen, stride = 2 + m->ncells, nd = (size_t)m->ndirty * stride;
  uint8_t *keys = malloc(klen ? klen : 1);
  double *deltas = malloc((nd ? nd : 1) * sizeof *deltas);
  if (!keys || !deltas) {
    pthread_mutex_unlock(&m->mu);
    free(keys);
    free(deltas);
    return ig_throw_errno(env, ENOMEM, false, "metrics aggregator drain");
  }
  memcpy(keys, m->keys + (size_t)first * m->keylen, klen);
  double *w = deltas;
  for (uint32_t d = 0; d < m->ndirty; d++) {
    uint32_t s = m->dirty_list[d];
    cell_t *c = m->cells + (size_t)s * m->ncells;
    *w++ = s;
    *w++ = (double)m->seq[s];
    for (size_t j = 0; j < m->ncells; j++) {
      switch (m->cell_kind[j]) {
        case CELL_SUM_I: *w++ = (double)c[j].i; c[j].i = 0; break;
        case CELL_SUM_F: *w++ = c[j].d; c[j].d = 0; break;
        case CELL_LAST_U: *w++ = (double)(uint64_t)c[j].i; break;
        case CELL_LAST_S: *w++ = (double)c[j].i; break;
        default: *w++ = c[j].d; break;
      }
    }
    m->dirty[s] = 0;
  }
  m->ndirty = 0;
  m->reported = m->nslots;
  if (reset) {
    m->nslots = 0;
    m->reported = 0;
    m->last_slot = -1;
    memset(m->tab, 0, m->tab_cap * sizeof *m->tab);
  }
  double records = (double)m->records, shorts = (double)m->short_records, overflow = (double)m->overflow;
  pthread_mutex_unlock(&m->mu);

  napi_value o, kb, ab, ta;
  void *abdata;
  if (napi_create_object(env, &o) != napi_ok || napi_create_buffer_copy(env, klen, keys, NULL, &kb) != napi_ok ||
      napi_create_arraybuffer(env, nd * sizeof(double), &abdata, &ab) != napi_ok) {
    free(keys);
    free(deltas);
    return ig_napi_fail(env, napi_generic_failure, "metrics aggregator drain");
  }
  if (nd) memcpy(abdata, deltas, nd * sizeof(double));
  free(keys);
  free(deltas);
  NAPI_TRY(env, napi_create_typedarray(env, napi_float64_array, nd, ab, 0, &ta));
  ig_set_num(env, o, "firstId", first);
  ig_set_num(env, o, "newKeys", nnew);
  NAPI_TRY(env, napi_set_named_property(env, o, "keys", kb));
  NAPI_TRY(env, napi_set_named_property(env, o, "deltas", ta));
  ig_set_num(env, o, "records", records);
  ig_set_num(env, o, "short", shorts);
  ig_set_num(env, o, "overflow", overflow);
  return o;
}

#ifdef IG_TEST_HOOKS
/* metricsAggAddBatch(h, batch: Buffer, count): count a reader-layout batch on the calling thread (unit tests). */
static napi_value js_magg_add_batch(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_magg *m = ig_magg_arg(env, argv[0]);
  void *data;
  size_t len;
  int64_t count;
  if (!m || !ig_arg_bytes(env, argv[1], "batch", &data, &len) || !ig_arg_i64(env, argv[2], "count", &count)) return NULL;
  const uint8_t *p = data;
  size_t off = 0;
  for (int64_t i = 0; i < count && off + 8 <= len; i++) {
    uint32_t rl;
    memcpy(&rl, p + off, 4);
    if (off + 8 + rl > len) break;
    ig_magg_add(m, p + off + 8, rl);
    off += 8 + ((rl + 7u) & ~7u);
  }
  return ig_undefined(env);
}
#endif

bool ig_magg_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "metricsAggNew", js_magg_new);
  IG_EXPORT(env, exports, "metricsAggDrain", js_magg_drain);
#ifdef IG_TEST_HOOKS
  IG_EXPORT(env, exports, "metricsAggAddBatch", js_magg_add_batch);
#endif
  return true;
}
