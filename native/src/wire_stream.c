/* Batch frames written on a reader's poll thread (reader.c's wire mode, for the gRPC daemon): the records of a
 * consume become one frame of the packet codec (docs/packet-format.md) without ever reaching JS, byte for byte
 * what the JS pipeline would send (the formatters' boot-to-wall-clock rewrite, then wire_batch.c's encoding).
 *
 * Why: with frames written on the JS thread the daemon still paid ~5 µs per event under an open() storm: a 1 MiB
 * batch buffer per delivery (fresh pages, V8 external memory driving major GCs), a Batch and the operators'
 * per-batch work, then the encode call. Here a record costs a copy into a scratch record, the rewrite, one memo
 * lookup per value (the last answer first: a storm has a few keys) and its segments.
 *
 * The frame is columnar (all records, then each value for every record), so records and each value go to their
 * own growing buffer and are joined when the frame is taken. A record whose value has no memo entry is a miss: it
 * goes to JS with the ordinary batch path (the JS encoder fills the memo), and reader.c keeps the order. The memos
 * belong to the wire handle; every lookup holds its mutex (JS fills and clears them from the other thread). */
#include "wire_batch.h"
#include "wire_lean.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  uint32_t off;
  uint64_t add;
} clock_fix;

/* A char array read as a C string (up to its first NUL): the bytes after that NUL are cleared before the record is
 * encoded. The kernel writes only the string and its NUL into a ring reservation, so under a storm the rest of the
 * array holds older records' bytes (the ring's memory is reused at shifting offsets), which the zero-run trimming
 * of the segments cannot leave out: trace_open's fname and fpath made ~600 of its ~850 bytes per event on the wire.
 * No field reads those bytes (fields.ts readCString; JS lists only arrays no other field, key or clock overlaps). */
typedef ig_wtail str_tail;

struct ig_wire_stream {
  ig_wire *w;
  clock_fix *clock;
  size_t nclock;
  str_tail *tails;
  size_t ntails;
  uint32_t min_size; /* records shorter than this go to JS (keys, clocks and the record span must fit) */
  ig_wbuf recs;
  ig_wbuf *vals;     /* per value: its bytes for every record of the frame */
  uint32_t count;
  uint8_t *rec;      /* the record being added, rewritten */
  size_t rec_cap;
  const ig_wentry **hits; /* per value: the entry of the record being added */
  /* The previous record's memo answers, reused while the next record has the same bytes in every memo key and no
   * memo changed (ig_wval.gen): a storm's records share their keys, and 30 lookups per record were a fifth of the
   * daemon's CPU. */
  uint32_t kranges[IG_WRANGES_MAX * 4][2]; /* every memo value's key ranges, each once */
  uint32_t nkranges, klen;                /* klen 0: no reuse (too many ranges or bytes) */
  uint8_t prev_key[IG_WKEY_MAX * 4];
  uint64_t *gens;                         /* per value: its memo's gen when hits[v] was found */
  bool prev_ok;
  /* Lean mode (IG_WIRE_LEAN, default on; wire_lean.c): the record copied without its string tails' stale bytes, and
   * a value equal to the previous record's counted instead of written (runs, expanded into the frame at take). */
  bool lean;
  uint32_t *tail_dirty; /* per tail (sorted by offset): bytes of it in rec that may be nonzero (lean copy) */
  bool lean_copy;       /* tails sorted and apart: the lean copy applies */
  ig_wvrun *runs;       /* per value: the fragment its column ends with and its pending repeats */
  uint32_t *added;      /* per value: bytes the record being added wrote to its column (ADDED_RUN: a repeat) */
  size_t vbytes;        /* bytes of every value column, pending repeats included */
  /* Whole-record repeats (lean mode; IG_WIRE_FAST=0 turns it off): under a storm every memo value of a record is
   * the previous record's, so after one record that found so, the next with the same key bytes, no memo changed
   * (ig_wire.gen) and no answer expired is counted once (frep) instead of once per value: only its wall-clock
   * values are looked up and written. The count goes into every memo column's run before anything else reads the
   * runs (flush_frep). */
  bool fast_on;            /* IG_WIRE_FAST */
  bool fast;               /* every memo column's run ends with the previous record's answer (hits) */
  uint64_t fast_gen;       /* ig_wire.gen when that was found */
  uint64_t fast_expires;   /* the earliest expiry of those answers (0: none expires) */
  uint32_t frep;           /* records counted so, not yet in the runs */
  size_t frep_bytes;       /* the memo values' bytes of one such record */
  uint32_t *walls;         /* the wall-clock values (looked up and written for every record) */
  size_t nwalls;
};

#define ADDED_RUN UINT32_MAX

/* The whole-record repeats into each memo column's run (their bytes are counted in vbytes already). */
static void flush_frep(ig_wire_stream *s) {
  if (!s->frep) return;
  for (size_t v = 0; v < s->w->nvals; v++)
    if (s->w->vals[v].kind != IG_WVAL_WALL) s->runs[v].rep += s->frep;
  s->frep = 0;
}

/* After a record went through the per-value path: whether the next one may be counted whole (fast_add). */
static void fast_check(ig_wire_stream *s) {
  const ig_wire *w = s->w;
  s->fast = false;
  if (!s->fast_on || !s->prev_ok) return;
  uint64_t expires = 0;
  size_t bytes = 0;
  for (size_t v = 0; v < w->nvals; v++) {
    if (w->vals[v].kind == IG_WVAL_WALL) continue;
    const ig_wentry *e = s->hits[v];
    const ig_wvrun *run = &s->runs[v];
    if (!e || run->e != e || run->gen != w->vals[v].gen) return;
    if (e->expires_ns && (!expires || e->expires_ns < expires)) expires = e->expires_ns;
    bytes += run->len;
  }
  s->fast = true;
  s->fast_gen = w->gen;
  s->fast_expires = expires;
  s->frep_bytes = bytes;
}

/* Record `rec` counted whole: its segments, its wall-clock values, one more repeat of every memo value. False when
 * it cannot be (a wall-clock miss, out of memory): nothing appended then. Caller holds w->mu and checked the key. */
static bool fast_add(ig_wire_stream *s, const uint8_t *rec, size_t size, size_t span, uint64_t now_ns) {
  ig_wire *w = s->w;
  size_t mark = s->recs.len;
  if (!ig_wput_record(&s->recs, rec, 0, size, span)) return false;
  size_t k = 0, wbytes = 0;
  for (; k < s->nwalls; k++) {
    uint32_t v = s->walls[k];
    ig_wval *val = &w->vals[v];
    uint64_t ns;
    memcpy(&ns, rec + val->off, 8);
    const ig_wentry *e = ns ? ig_wlookup(val, rec, now_ns) : NULL;
    size_t vmark = s->vals[v].len;
    if ((ns && !e) || !ig_wput_value(&s->vals[v], val, e, rec)) {
      s->vals[v].len = vmark;
      break;
    }
    s->hits[v] = e;
    s->gens[v] = val->gen;
    s->runs[v].len = (uint32_t)(s->vals[v].len - vmark);
    wbytes += s->runs[v].len;
  }
  if (k < s->nwalls) { /* undo: the per-value path takes this record */
    s->recs.len = mark;
    for (size_t u = 0; u < k; u++) s->vals[s->walls[u]].len -= s->runs[s->walls[u]].len;
    s->fast = false;
    return false;
  }
  s->frep++;
  s->vbytes += s->frep_bytes + wbytes;
  return true;
}

/* The bytes of every memo key of `rec`, into k. */
static void union_key(const ig_wire_stream *s, const uint8_t *rec, uint8_t *k) {
  size_t n = 0;
  for (uint32_t r = 0; r < s->nkranges; r++) {
    memcpy(k + n, rec + s->kranges[r][0], s->kranges[r][1]);
    n += s->kranges[r][1];
  }
}

/* The key ranges sorted and those that touch or overlap joined: fewer, longer copies per record (the key's byte
 * order is this stream's own: it is only compared with the previous record's). */
static void join_ranges(ig_wire_stream *s) {
  for (uint32_t i = 1; i < s->nkranges; i++)
    for (uint32_t j = i; j > 0 && s->kranges[j - 1][0] > s->kranges[j][0]; j--) {
      uint32_t o = s->kranges[j][0], l = s->kranges[j][1];
      s->kranges[j][0] = s->kranges[j - 1][0];
      s->kranges[j][1] = s->kranges[j - 1][1];
      s->kranges[j - 1][0] = o;
      s->kranges[j - 1][1] = l;
    }
  uint32_t out = 0, total = 0;
  for (uint32_t i = 0; i < s->nkranges; i++) {
    uint32_t o = s->kranges[i][0], e = o + s->kranges[i][1];
    if (out && o <= s->kranges[out - 1][0] + s->kranges[out - 1][1]) {
      uint32_t pe = s->kranges[out - 1][0] + s->kranges[out - 1][1];
      if (e > pe) s->kranges[out - 1][1] = e - s->kranges[out - 1][0];
      continue;
    }
    s->kranges[out][0] = o;
    s->kranges[out][1] = e - o;
    out++;
  }
  s->nkranges = out;
  for (uint32_t i = 0; i < out; i++) total += s->kranges[i][1];
  s->klen = total; /* never more than before: overlaps counted once */
}

static void union_ranges(ig_wire_stream *s) {
  const ig_wire *w = s->w;
  uint32_t total = 0;
  for (size_t v = 0; v < w->nvals; v++) {
    const ig_wval *val = &w->vals[v];
    if (val->kind == IG_WVAL_WALL) continue;
    for (uint32_t r = 0; r < val->nranges; r++) {
      uint32_t off = val->ranges[r][0], len = val->ranges[r][1];
      bool seen = false;
      for (uint32_t q = 0; q < s->nkranges && !seen; q++) seen = s->kranges[q][0] == off && s->kranges[q][1] == len;
      if (seen) continue;
      if (s->nkranges == IG_WRANGES_MAX * 4 || total + len > sizeof s->prev_key) {
        s->klen = 0;
        return;
      }
      s->kranges[s->nkranges][0] = off;
      s->kranges[s->nkranges][1] = len;
      s->nkranges++;
      total += len;
    }
  }
  s->klen = total;
}

ig_wire_stream *ig_wire_stream_new(ig_wire *w, const uint8_t *clock, size_t clock_len) {
  ig_wire_stream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  size_t nfix = clock_len / 16;
  s->clock = calloc(nfix ? nfix : 1, sizeof *s->clock);
  s->tails = calloc(nfix ? nfix : 1, sizeof *s->tails);
  s->vals = calloc(w->nvals ? w->nvals : 1, sizeof *s->vals);
  s->hits = calloc(w->nvals ? w->nvals : 1, sizeof *s->hits);
  s->gens = calloc(w->nvals ? w->nvals : 1, sizeof *s->gens);
  s->tail_dirty = calloc(nfix ? nfix : 1, sizeof *s->tail_dirty);
  s->runs = calloc(w->nvals ? w->nvals : 1, sizeof *s->runs);
  s->added = calloc(w->nvals ? w->nvals : 1, sizeof *s->added);
  s->walls = calloc(w->nvals ? w->nvals : 1, sizeof *s->walls);
  if (!s->clock || !s->tails || !s->vals || !s->hits || !s->gens || !s->tail_dirty || !s->runs || !s->added || !s->walls) {
    free(s->walls);
    free(s->tail_dirty);
    free(s->runs);
    free(s->added);
    free(s->gens);
    free(s->clock);
    free(s->tails);
    free(s->vals);
    free(s->hits);
    free(s);
    return NULL;
  }
  /* A record travels as max(length, record_bytes) bytes: shorter ones read past their end in JS (the batch's next
   * bytes), which only JS can mirror. */
  s->min_size = w->record_bytes;
  for (size_t i = 0; i < nfix; i++) {
    uint32_t off, kind;
    uint64_t arg;
    memcpy(&off, clock + 16 * i, 4);
    memcpy(&kind, clock + 16 * i + 4, 4);
    memcpy(&arg, clock + 16 * i + 8, 8);
    if (kind == IG_WFIX_STRING_TAIL) {
      if (arg > 1 && arg <= UINT32_MAX) s->tails[s->ntails++] = (str_tail){off, (uint32_t)arg};
      continue;
    }
    s->clock[s->nclock++] = (clock_fix){off, arg};
    if (off + 8 > s->min_size) s->min_size = off + 8;
  }
  for (size_t v = 0; v < w->nvals; v++)
    if (w->vals[v].need > s->min_size) s->min_size = w->vals[v].need;
  ig_wire_ref(w);
  s->w = w;
  const char *reuse = getenv("IG_WIRE_REUSE"); /* "0": look every value up (benchmarks) */
  if (!reuse || strcmp(reuse, "0") != 0) union_ranges(s);
  const char *lean = getenv("IG_WIRE_LEAN"); /* "0": copy whole records, write every value (benchmarks) */
  s->lean = !lean || strcmp(lean, "0") != 0;
  if (s->lean && s->klen) join_ranges(s);
  const char *fast = getenv("IG_WIRE_FAST"); /* "0": every value of every record on its own (benchmarks) */
  s->fast_on = s->lean && s->klen && (!fast || strcmp(fast, "0") != 0);
  for (size_t v = 0; v < w->nvals; v++)
    if (w->vals[v].kind == IG_WVAL_WALL) s->walls[s->nwalls++] = (uint32_t)v;
  /* The lean copy walks the tails in order; overlapping ones (JS never sends them) keep the whole copy. */
  for (size_t i = 1; i < s->ntails; i++)
    for (size_t j = i; j > 0 && s->tails[j - 1].off > s->tails[j].off; j--) {
      str_tail t = s->tails[j];
      s->tails[j] = s->tails[j - 1];
      s->tails[j - 1] = t;
    }
  s->lean_copy = s->lean;
  for (size_t i = 1; i < s->ntails; i++)
    if ((uint64_t)s->tails[i - 1].off + s->tails[i - 1].size > s->tails[i].off) s->lean_copy = false;
  return s;
}

void ig_wire_stream_free(ig_wire_stream *s) {
  if (!s) return;
  for (size_t v = 0; v < s->w->nvals; v++) free(s->vals[v].p);
  free(s->recs.p);
  free(s->vals);
  free(s->hits);
  free(s->gens);
  free(s->clock);
  free(s->tails);
  free(s->tail_dirty);
  free(s->runs);
  free(s->added);
  free(s->walls);
  free(s->rec);
  ig_wire_unref(s->w);
  free(s);
}

int ig_wire_stream_add(ig_wire_stream *s, const uint8_t *data, size_t size, uint64_t now_ns) {
  ig_wire *w = s->w;
  if (size < s->min_size) return IG_WSTREAM_MISS;
  /* The formatters rewrite timestamps in place before anything reads them; the ring is read-only. */
  const uint8_t *rec = data;
  size_t span = size; /* from here on the record's bytes are zero */
  if (s->nclock || s->ntails) {
    if (s->rec_cap < size) {
      uint8_t *nr = realloc(s->rec, size);
      if (!nr) return IG_WSTREAM_MISS;
      /* The lean copy rewrites only what an earlier record may have left: start from zeros. */
      memset(nr, 0, size);
      memset(s->tail_dirty, 0, s->ntails * sizeof *s->tail_dirty);
      s->rec = nr;
      s->rec_cap = size;
    }
    if (s->lean_copy) {
      span = ig_wlean_copy(s->rec, data, size, s->tails, s->ntails, s->tail_dirty);
    } else {
      memcpy(s->rec, data, size);
      for (size_t i = 0; i < s->ntails; i++) {
        size_t off = s->tails[i].off;
        if (off >= size) continue;
        size_t n = size - off < s->tails[i].size ? size - off : s->tails[i].size;
        uint8_t *nul = memchr(s->rec + off, 0, n);
        if (nul) memset(nul + 1, 0, (size_t)(s->rec + off + n - nul - 1));
      }
      /* The lean copy's bookkeeping no longer holds (not used together; kept safe anyway). */
      for (size_t i = 0; i < s->ntails; i++) s->tail_dirty[i] = s->tails[i].size;
    }
    for (size_t i = 0; i < s->nclock; i++) {
      uint64_t ns;
      memcpy(&ns, s->rec + s->clock[i].off, 8);
      if (!ns) continue;
      ns += s->clock[i].add;
      memcpy(s->rec + s->clock[i].off, &ns, 8);
      if (s->clock[i].off + 8 > span) span = s->clock[i].off + 8;
    }
    rec = s->rec;
  }
  uint8_t key[sizeof s->prev_key];
  if (s->klen) union_key(s, rec, key);
  pthread_mutex_lock(&w->mu);
  bool hit = !w->closed;
  /* The previous record's answers, if its keys and the memos are the same (and no answer has expired). */
  bool reuse = hit && s->prev_ok && s->klen && memcmp(key, s->prev_key, s->klen) == 0;
  if (reuse && s->fast && w->gen == s->fast_gen && !(s->fast_expires && now_ns >= s->fast_expires) &&
      fast_add(s, rec, size, span, now_ns)) {
    pthread_mutex_unlock(&w->mu);
    s->count++;
    return IG_WSTREAM_OK;
  }
  flush_frep(s);
  for (size_t v = 0; hit && v < w->nvals; v++) {
    ig_wval *val = &w->vals[v];
    if (val->kind == IG_WVAL_WALL) {
      uint64_t ns;
      memcpy(&ns, rec + val->off, 8);
      if (!ns) {
        s->hits[v] = NULL;
        continue;
      }
    } else if (reuse && val->gen == s->gens[v] && s->hits[v] &&
               !(s->hits[v]->expires_ns && now_ns >= s->hits[v]->expires_ns)) {
      continue;
    }
    s->hits[v] = ig_wlookup(val, rec, now_ns);
    s->gens[v] = val->gen;
    hit = s->hits[v] != NULL;
  }
  s->prev_ok = hit && s->klen;
  if (s->prev_ok) memcpy(s->prev_key, key, s->klen);
  if (hit) {
    size_t mark = s->recs.len;
    bool ok = ig_wput_record(&s->recs, rec, 0, size, span);
    size_t v = 0;
    for (; ok && v < w->nvals; v++) {
      const ig_wentry *e = s->hits[v];
      ig_wvrun *run = &s->runs[v];
      /* The column's last value again: counted (lean mode). */
      if (e && e == run->e && w->vals[v].gen == run->gen) {
        run->rep++;
        s->vbytes += run->len;
        s->added[v] = ADDED_RUN;
        continue;
      }
      if (!ig_wrun_flush(&s->vals[v], run)) {
        ok = false;
        break;
      }
      size_t vmark = s->vals[v].len;
      if (!ig_wput_value(&s->vals[v], &w->vals[v], e, rec)) {
        s->vals[v].len = vmark;
        ok = false;
        break;
      }
      s->added[v] = (uint32_t)(s->vals[v].len - vmark);
      s->vbytes += s->added[v];
      /* A wall-clock text has the record's own digits: never repeated. */
      run->e = s->lean && e && w->vals[v].kind != IG_WVAL_WALL ? e : NULL;
      run->gen = w->vals[v].gen;
      run->len = s->added[v];
    }
    if (!ok) { /* out of memory: undo this record's bytes and let JS have it */
      s->recs.len = mark;
      for (size_t u = 0; u < v; u++) {
        ig_wvrun *run = &s->runs[u];
        if (s->added[u] == ADDED_RUN) {
          run->rep--;
          s->vbytes -= run->len;
        } else {
          s->vals[u].len -= s->added[u];
          s->vbytes -= s->added[u];
          run->e = NULL; /* the column ends with an earlier fragment now */
        }
      }
      hit = false;
    }
  }
  if (hit)
    fast_check(s);
  else
    s->fast = false;
  pthread_mutex_unlock(&w->mu);
  if (!hit) return IG_WSTREAM_MISS;
  s->count++;
  return IG_WSTREAM_OK;
}

uint32_t ig_wire_stream_count(const ig_wire_stream *s) { return s->count; }

static size_t uvar_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

size_t ig_wire_stream_size(const ig_wire_stream *s) {
  return IG_WFRAME_HEADER + uvar_len(s->w->ds_id) + uvar_len(s->count) + s->recs.len + s->vbytes;
}

void ig_wire_stream_take(ig_wire_stream *s, uint8_t *dst) {
  flush_frep(s);
  s->fast = false; /* the next frame's columns start empty */
  if (!dst) { /* dropped (no memory for the frame) */
    s->recs.len = 0;
    for (size_t v = 0; v < s->w->nvals; v++) {
      s->vals[v].len = 0;
      s->runs[v] = (ig_wvrun){0};
    }
    s->vbytes = 0;
    s->count = 0;
    return;
  }
  size_t total = ig_wire_stream_size(s);
  ig_wbuf h = {dst, 0, total};
  memcpy(dst, "ig\x01\x02", 4);
  uint32_t body = (uint32_t)(total - IG_WFRAME_HEADER);
  memcpy(dst + 4, &body, 4);
  h.len = IG_WFRAME_HEADER;
  ig_wput_uvar(&h, s->w->ds_id);
  ig_wput_uvar(&h, s->count);
  memcpy(dst + h.len, s->recs.p, s->recs.len);
  h.len += s->recs.len;
  s->recs.len = 0;
  for (size_t v = 0; v < s->w->nvals; v++) {
    if (s->vals[v].len) memcpy(dst + h.len, s->vals[v].p, s->vals[v].len);
    h.len += s->vals[v].len;
    /* The pending repeats straight into the frame. */
    if (s->runs[v].rep) h.len += ig_wrun_fill(dst + h.len, s->runs[v].len, s->runs[v].rep);
    s->vals[v].len = 0;
    s->runs[v] = (ig_wvrun){0};
  }
  s->vbytes = 0;
  s->count = 0;
}
