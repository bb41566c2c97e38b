/* Render plans: JSON lines (or column rows) straight from record bytes, on the reader's poll thread, after the
 * plan's filter (if any) has kept the record.
 *
 * Why here: under an event storm the JS thread spent ~4 µs per event building JSON text, more than the
 * kernel needs to produce the event. A plan is compiled once in TypeScript from the same field accessors
 * and JSON tree the JS encoder uses (src/operators/cli/native-plan.ts); this file only interprets it. It
 * knows nothing of gadgets or operators: ops are "copy these literal bytes", "print this integer", "quote
 * this C string", "boot clock to wall clock", and "look up a fragment by key bytes" (memos).
 *
 * Memos carry everything an operator computes in JS (container fields, user names, errno names, flags...):
 * a fragment is keyed by the record bytes its value depends on. A key seen for the first time is a miss: the
 * record goes to JS through the ordinary batch path, where the JS encoder renders it and fills the memo.
 *
 * Ops are int32 quadruples [op, a, b, c]. Memo specs are int32: [count, then per memo: ttlMs, nranges,
 * (off, len) * nranges]; a memo with no ranges is keyed by wall-clock seconds (OP_WALL_STR). */
#include "render_plan.h"
#include "memo_source.h"
#include "render_width.h"
#include "joined_strings.h"
#include "bytes.h"
#include "render_pieces.h"

#include <stdlib.h>
#include <string.h>

#define IG_MAGIC_PLAN 0x1b0b1a9eu

enum {
  OP_LIT = 1,      /* a: offset in literal pool, b: length */
  OP_UINT = 2,     /* a: record offset, b: size (1, 2, 4, 8) */
  OP_SINT = 3,     /* a: record offset, b: size */
  OP_BOOL = 4,     /* a: record offset */
  OP_CSTR = 5,     /* a: record offset, b: size; bytes up to the first NUL, UTF-8, JSON-quoted */
  OP_WALL_U64 = 6, /* a: record offset of a boot-clock u64; printed as wall-clock ns (0 stays 0) */
  OP_WALL_STR = 7, /* a: record offset, b: memo; `""` for 0, else prefix + 9 digits + suffix */
  OP_MEMO = 8,     /* a: memo */
  OP_TRIM_END = 9, /* drop the spaces at the end of the line so far (columns: JS trimEnd()s every row) */
  /* Column cells (-o columns): the value's text fitted to the column as columns.ts fit() does. c: offset in the
   * literal pool of the column's {u32 width, u32 limit (0: none), u32 flags} (COL_*). Strings with characters
   * whose terminal width needs string-width's tables (anything non-ASCII but U+FFFD and escaped controls) miss. */
  OP_COL_UINT = 10, /* a: record offset, b: size */
  OP_COL_SINT = 11, /* a: record offset, b: size */
  OP_COL_BOOL = 12, /* a: record offset */
  OP_COL_CSTR = 13, /* a: record offset, b: size */
  OP_COL_WALL_STR = 14, /* a: record offset of a boot-clock u64, b: memo (as OP_WALL_STR, unquoted); '' for 0 */
  /* Filter (first op of a plan, if any): a = the number of ops of the predicate tree that follows, in prefix
   * order. A record the predicate rejects produces no line. Comparisons: cmp in bits 24..26 of b (CMP_*). */
  OP_FILTER = 19,
  OP_F_AND = 20,   /* a: children, b: ops in the subtree (this one included) */
  OP_F_OR = 21,    /* a: children, b: ops in the subtree */
  OP_F_NOT = 22,   /* b: ops in the subtree; one child */
  OP_F_CONST = 23, /* a: 0 or 1 */
  OP_F_UINT = 24,  /* a: record offset, b: size | cmp << 24, c: literal offset of the u64 value */
  OP_F_SINT = 25,  /* a: record offset, b: size | cmp << 24, c: literal offset of the i64 value */
  OP_F_BOOL = 26,  /* a: record offset, b: cmp << 24 (== or !=), c: 0 or 1 */
  OP_F_STR = 27,   /* a: record offset, b: size | cmp << 24, c: literal offset of [u32 len][UTF-8 bytes] */
  OP_F_MEMO = 28,  /* a: memo whose fragments are "1" or "0" (the leaf's answer, computed in JS) */
  OP_JOINED = 40,  /* a: record offset, b: array size, c: literal offset of its descriptor (joined_strings.h) */
  OP_COL_JOINED = 41, /* a: record offset, b: array size, c: literal offset of the column format, then the
                       * descriptor (its separator: raw bytes) */
  /* A struct whose every value follows from its own bytes alone (record members in [a, a+b), memos without TTL
   * keyed by those bytes): when the bytes are all zero (trace_open's ustack without --collect-ustack: ~250 bytes of
   * zeros and empty strings per line), the text of the c value ops that follow is one cached piece, made the first
   * time from those ops and dropped when a memo changes. */
  OP_ZERO_SPAN = 42,
  /* gadgetctl's received values (render_pieces.c, bound by ig_plan_bind_pieces; never compiled from JS): a: run of
   * pieces (the rop's `memo`), the `limit` rops after it are part of the run */
  OP_PIECE = 43,
};
#define ZERO_SPANS_MAX 8

enum { CMP_EQ = 0, CMP_NE = 1, CMP_LT = 2, CMP_LE = 3, CMP_GT = 4, CMP_GE = 5 };
/* strings only: the decoded string starts with, ends with, contains the constant */
enum { CMP_PREFIX = 6, CMP_SUFFIX = 7, CMP_CONTAINS = 8 };
enum { COL_RIGHT = 1, COL_LAST = 2, COL_ELL_SHIFT = 2, COL_HEX = 16, COL_WALL = 32 /* u64 cells: boot to wall clock */ };
enum { ELL_END = 0, ELL_START = 1, ELL_MIDDLE = 2, ELL_NONE = 3 };
#define COL_TEXT_MAX 4096 /* cells of a native string cell; longer strings are left to JS */
#define COL_JOINED_MAX 65536 /* joined-strings cells: only the used part of the array is measured */

#define MEMO_KEY_MAX 64
#define MEMO_RANGES_MAX 8
#define MEMO_CAP 4096 /* entries per memo; a full memo is emptied (keys are few in practice) */

typedef struct {
  uint64_t hash;
  uint64_t expires_ns; /* 0: never; past it the fragment is still used while JS is asked for a fresh one */
  uint64_t refresh_ns; /* when a refresh was last asked for */
  uint8_t *frag;       /* NULL: free slot */
  uint32_t frag_len;
  uint32_t aux; /* timestamp memos: where the NUL between prefix and suffix is */
  uint16_t key_len;
  uint8_t key[MEMO_KEY_MAX];
} memo_entry;

typedef struct {
  uint64_t ttl_ns;
  uint32_t nranges;
  uint32_t ranges[MEMO_RANGES_MAX][2];
  uint32_t used;
  memo_entry *tab;  /* MEMO_CAP slots, open addressing */
  memo_entry *last; /* the last entry found */
  ig_memo_source *src; /* NULL, or a kernel map that answers first (memo_source.c) */
  memo_entry *src_hit; /* the source's last answer (not in the table: nothing is stored per key) */
} memo;

/* A value to print, with the literal text that precedes it. */
typedef struct {
  uint32_t kind; /* OP_* other than OP_LIT; 0: only the literal (end of line) */
  uint32_t size;
  uint32_t off;  /* record offset */
  uint32_t memo;
  uint32_t lit_off, lit_len;
  uint32_t width, limit, flags; /* column cells */
} rop;

/* A fragment JS computed, waiting for the render side to store it (memos are only touched by that side). */
typedef struct pending_set {
  struct pending_set *next;
  uint32_t memo, gen, key_len, frag_len;
  uint8_t key[MEMO_KEY_MAX];
  uint8_t frag[];
} pending_set;

struct ig_plan {
  uint32_t magic;
  pthread_mutex_t mu; /* guards the pending list */
  pending_set *pending, *pending_tail;
  uint32_t npending; /* atomic */
  int refs; /* atomic: JS handle + readers */
  uint8_t *lits;
  size_t nlits;
  memo *memos;
  size_t nmemos;
  size_t min_size; /* records shorter than this are left to JS */
  int64_t wall_offset_ns;
  uint32_t gen;      /* atomic: bumped by renderPlanInvalidate */
  uint32_t seen_gen; /* render side */
  rop *rops;
  size_t nrops;
  uint32_t *memo_rops; /* rops that need a memo, in line order */
  size_t nmemo_rops;
  size_t static_bound; /* bytes a line can take, memo fragments aside */
  uint32_t lines[16];  /* record offsets of the cache lines the plan reads (first 16) */
  size_t nlines;
  const memo_entry **frags; /* per-render scratch: the fragment of each memo rop */
  int32_t *filter;          /* the predicate's ops (quadruples), NULL: none */
  size_t nfilter;
  uint8_t *cell;            /* per-render scratch of a string cell's text (columns) */
  uint8_t *joined;          /* per-render scratch of a joined-strings cell's raw text (columns) */
  uint8_t *scratch;         /* per-render scratch of a decoded string (filters) */
  size_t scratch_len;
  uint64_t lines_out; /* lines rendered (written by the render side only, read by JS: renderPlanLines) */
  bool miss_memo;     /* render side: the last IG_RENDER_MISS was a memo without a fragment (JS can fill it) */
  /* OP_ZERO_SPAN: rop j's span is zero_rops[j]; its cached text (NULL: not made yet); per render: bytes all zero */
  uint32_t zero_rops[ZERO_SPANS_MAX];
  size_t nzero;
  uint8_t *zero_text[ZERO_SPANS_MAX];
  uint32_t zero_len[ZERO_SPANS_MAX];
  bool zero_now[ZERO_SPANS_MAX];
  int8_t *memo_span; /* per memo rop: the zero span it is in, or -1 */
  ig_pieces *pieces; /* OP_PIECE's texts (NULL: none bound) */
  struct line_delta *delta; /* ig_plan_render_delta's last line (NULL: not bound) */
};

/* Room for n more bytes: flush, and grow only for a line longer than the buffer. */
static inline uint8_t *room(ig_out *o, size_t n) {
  if (o->len + n <= o->cap) return o->p + o->len;
  if (o->fd >= 0) ig_out_flush(o); /* without an fd (tests) the buffer only grows */
  if (o->len + n > o->cap) {
    size_t nc = o->cap * 2 > o->len + n ? o->cap * 2 : o->len + n;
    uint8_t *np = realloc(o->p, nc);
    if (!np) return NULL;
    o->p = np;
    o->cap = nc;
  }
  return o->p + o->len;
}

/* ---------------------------------------------------------------------------------------------
 * Value rendering (byte-identical to the JS encoder: String(n), JSON.stringify of the UTF-8 decoding)
 * ------------------------------------------------------------------------------------------- */
static const char DIGITS2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static inline void dec2(uint8_t *w, uint32_t v) { memcpy(w, DIGITS2 + v * 2, 2); }

/* exactly 8 digits of v < 1e8 */
static inline void dec8(uint8_t *w, uint32_t v) {
  uint32_t hi = v / 10000, lo = v % 10000;
  dec2(w, hi / 100);
  dec2(w + 2, hi % 100);
  dec2(w + 4, lo / 100);
  dec2(w + 6, lo % 100);
}

static size_t u32_dec(uint8_t *w, uint32_t v) {
  size_t n = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6
           : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
  uint8_t *e = w + n;
  while (v >= 100) {
    e -= 2;
    dec2(e, v % 100);
    v /= 100;
  }
  if (v >= 10) dec2(e - 2, v);
  else e[-1] = (uint8_t)('0' + v);
  return n;
}

static size_t u64_dec(uint8_t *w, uint64_t v) {
  if (v <= 0xffffffffull) return u32_dec(w, (uint32_t)v);
  size_t n;
  uint32_t lo = (uint32_t)(v % 100000000ull);
  uint64_t rest = v / 100000000ull;
  if (rest < 100000000ull) {
    n = u32_dec(w, (uint32_t)rest);
  } else {
    n = u32_dec(w, (uint32_t)(rest / 100000000ull));
    dec8(w + n, (uint32_t)(rest % 100000000ull));
    n += 8;
  }
  dec8(w + n, lo);
  return n + 8;
}

static size_t i64_dec(uint8_t *w, int64_t v) {
  if (v >= 0) return u64_dec(w, (uint64_t)v);
  w[0] = '-';
  return 1 + u64_dec(w + 1, (uint64_t)0 - (uint64_t)v);
}

static inline uint64_t rd_uint(const uint8_t *p, uint32_t size) {
  switch (size) {
    case 1: return p[0];
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
  }
}

static inline int64_t rd_sint(const uint8_t *p, uint32_t size) {
  switch (size) {
    case 1: return (int8_t)p[0];
    case 2: { int16_t v; memcpy(&v, p, 2); return v; }
    case 4: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return v; }
  }
}

/* 0: copy as is; 1: two-character escape; 2: \u00XX */
static const uint8_t ESC[128] = {
    2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* One step of the WHATWG UTF-8 decoder (what Buffer#toString('utf8') does): the length of a valid sequence at
 * s (*valid = true), or of the maximal subpart that becomes one U+FFFD (*valid = false). */
static inline size_t utf8_step(const uint8_t *s, size_t n, bool *valid) {
  uint32_t cp;
  return ig_utf8_next(s, n, &cp, valid);
}

static const char HEX[] = "0123456789abcdef";

/* JSON.stringify of the UTF-8 decoding of s up to its first NUL; room for max * 6 + 2 bytes is reserved. */
static uint8_t *put_cstr(uint8_t *w, const uint8_t *s, size_t max) {
  /* The NUL is found on the way (a byte < 0x20 stops the 8-byte loop): no separate scan of the whole field. A
   * multi-byte sequence cut by the NUL is invalid either way (0 is no continuation byte): one U+FFFD, as when the
   * string ends there. */
  size_t n = max;
  *w++ = '"';
  size_t i = 0;
  while (i < n) {
    /* 8 plain ASCII bytes at a time: no control character, quote, backslash or byte >= 0x80 */
    while (i + 8 <= n) {
      uint64_t x;
      memcpy(&x, s + i, 8);
      const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
      uint64_t special = ((x - ones * 0x20) | ((x ^ (ones * '"')) - ones) | ((x ^ (ones * '\\')) - ones) | x) & highs;
      if (special) break;
      memcpy(w, &x, 8);
      w += 8;
      i += 8;
    }
    if (i >= n) break;
    uint8_t c = s[i];
    if (c < 0x80) {
      if (c == 0) break;
      switch (ESC[c]) {
        case 0: *w++ = c; break;
        case 1:
          *w++ = '\\';
          *w++ = c == '"' ? '"' : c == '\\' ? '\\' : c == '\b' ? 'b' : c == '\t' ? 't' : c == '\n' ? 'n' : c == '\f' ? 'f' : 'r';
          break;
        default:
          memcpy(w, "\\u00", 4);
          w[4] = (uint8_t)HEX[c >> 4];
          w[5] = (uint8_t)HEX[c & 15];
          w += 6;
      }
      i++;
      continue;
    }
    bool valid;
    size_t k = utf8_step(s + i, n - i, &valid);
    if (valid) {
      memcpy(w, s + i, k);
      w += k;
    } else {
      memcpy(w, "\xEF\xBF\xBD", 3);
      w += 3;
    }
    i += k;
  }
  *w++ = '"';
  return w;
}

uint8_t *ig_json_quote(uint8_t *w, const uint8_t *s, size_t n) { return put_cstr(w, s, n); }

size_t ig_dec_u64(uint8_t *w, uint64_t v) { return u64_dec(w, v); }

size_t ig_dec_i64(uint8_t *w, int64_t v) { return i64_dec(w, v); }

uint8_t *ig_json_escape(uint8_t *w, const uint8_t *s, size_t n) {
  uint8_t *end = put_cstr(w, s, n);
  memmove(w, w + 1, (size_t)(end - w) - 2);
  return end - 2;
}

/* The value of a plain record op (OP_UINT, OP_SINT, OP_BOOL, OP_CSTR) at f. */
static inline uint8_t *put_plain(const rop *r, const uint8_t *f, uint8_t *w) {
  switch (r->kind) {
    case OP_UINT:
      if (r->size == 4) {
        uint32_t v;
        memcpy(&v, f, 4);
        return w + u32_dec(w, v);
      }
      return w + u64_dec(w, rd_uint(f, r->size));
    case OP_SINT: return w + i64_dec(w, rd_sint(f, r->size));
    case OP_BOOL:
      if (f[0]) {
        memcpy(w, "true", 4);
        return w + 4;
      }
      memcpy(w, "false", 5);
      return w + 5;
    default: return put_cstr(w, f, r->size); /* OP_CSTR */
  }
}

/* ---------------------------------------------------------------------------------------------
 * Memos
 * ------------------------------------------------------------------------------------------- */
static inline uint64_t hash_key(const uint8_t *k, size_t n) { return ig_hash_bytes(k, n); }

static void memo_clear(memo *m) {
  m->last = NULL;
  for (uint32_t i = 0; i < MEMO_CAP && m->used; i++) {
    if (m->tab[i].frag) {
      free(m->tab[i].frag);
      m->tab[i].frag = NULL;
      m->used--;
    }
  }
  m->used = 0;
}


static memo_entry *memo_find(memo *m, const uint8_t *key, size_t n, uint64_t h) {
  uint32_t i = (uint32_t)h & (MEMO_CAP - 1);
  for (;;) {
    memo_entry *e = &m->tab[i];
    if (!e->frag) return e; /* free slot: not present */
    if (e->hash == h && e->key_len == n && memcmp(e->key, key, n) == 0) return e;
    i = (i + 1) & (MEMO_CAP - 1);
  }
}


static bool memo_set(memo *m, const uint8_t *key, size_t n, const uint8_t *frag, size_t flen, uint64_t now_ns) {
  if (n > MEMO_KEY_MAX) return false;
  if (m->used >= MEMO_CAP * 3 / 4) memo_clear(m);
  uint64_t h = hash_key(key, n);
  memo_entry *e = memo_find(m, key, n, h);
  uint8_t *copy = malloc(flen ? flen : 1);
  if (!copy) return false;
  memcpy(copy, frag, flen);
  if (e->frag)
    free(e->frag);
  else
    m->used++;
  e->frag = copy;
  e->frag_len = (uint32_t)flen;
  e->hash = h;
  e->key_len = (uint16_t)n;
  memcpy(e->key, key, n);
  e->expires_ns = m->ttl_ns ? now_ns + m->ttl_ns : 0;
  e->refresh_ns = 0;
  const uint8_t *sep = memchr(copy, 0, flen);
  e->aux = sep ? (uint32_t)(sep - copy) : (uint32_t)flen;
  return true;
}

/* ---------------------------------------------------------------------------------------------
 * Rendering
 *
 * The JS ops are turned into "rops" when the plan is made: each value carries the literal text before it, so a
 * line costs one dispatch per value, and the line's size is bounded up front so nothing is checked per byte.
 * ------------------------------------------------------------------------------------------- */
static inline uint64_t wall_ns(const ig_plan *p, uint64_t boot) {
  return boot ? boot + (uint64_t)p->wall_offset_ns : 0;
}

/* Short copies (most literals, memo fragments of names) without a libc call. */
static inline void copy_small(uint8_t *d, const uint8_t *s, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    memcpy(d, &a, 4);
    memcpy(d + n - 4, &b, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; i++) d[i] = s[i];
  } else {
    memcpy(d, s, n);
  }
}


static inline size_t quoted_digits_frag(uint8_t *w, const memo_entry *e, uint32_t frac) {
  /* fragment: text before the 9 digits of ns, NUL, text after them */
  const uint8_t *f = e->frag;
  size_t pre = e->aux < e->frag_len ? e->aux : e->frag_len;
  size_t suf = pre < e->frag_len ? e->frag_len - pre - 1 : 0;
  copy_small(w, f, pre);
  for (int d = 8; d >= 0; d--) {
    w[pre + (size_t)d] = (uint8_t)('0' + frac % 10);
    frac /= 10;
  }
  copy_small(w + pre + 9, f + pre + 1, suf);
  return pre + 9 + suf;
}

/* Keys are a few bytes: compare inline, 8 at a time. */
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

/* The entry for key (NULL: a miss). *refresh is set when the entry is past its TTL and JS should be asked for
 * a fresh fragment (at most once a second per entry: the record is handed over, the stale text still used). */
static memo_entry *memo_lookup(memo *m, const uint8_t *key, size_t n, uint64_t now_ns, bool *refresh) {
  /* Records come in runs with the same key: try the last answer before hashing. */
  memo_entry *e = m->last;
  if (!(e && e->key_len == n && key_eq(e->key, key, n))) {
    e = memo_find(m, key, n, hash_key(key, n));
    if (!e->frag) return NULL;
    m->last = e;
  }
  if (e->expires_ns && now_ns >= e->expires_ns && now_ns - e->refresh_ns > 1000000000ull) {
    e->refresh_ns = now_ns;
    *refresh = true;
  }
  return e;
}

/* ---------------------------------------------------------------------------------------------
 * Filters: a predicate tree in prefix order, evaluated on the record bytes before anything is rendered
 * ------------------------------------------------------------------------------------------- */
static inline int32_t subtree_ops(const int32_t *op) {
  return op[0] == OP_F_AND || op[0] == OP_F_OR || op[0] == OP_F_NOT ? op[2] : 1;
}

static inline bool cmp_result(int c, uint32_t cmp) {
  switch (cmp) {
    case CMP_EQ: return c == 0;
    case CMP_NE: return c != 0;
    case CMP_LT: return c < 0;
    case CMP_LE: return c <= 0;
    case CMP_GT: return c > 0;
    default: return c >= 0;
  }
}

/* Compare the UTF-8 decoding (WHATWG, U+FFFD for bad sequences) of the C string s with t, by code point: the
 * order of UTF-8 bytes (what the JS filter does with the decoded string). */
static int str_cmp(const uint8_t *s, size_t max, const uint8_t *t, size_t tn) {
  static const uint8_t REPL[3] = {0xEF, 0xBF, 0xBD};
  size_t i = 0, j = 0;
  while (i < max && s[i]) {
    const uint8_t *piece = s + i;
    size_t k = 1, plen = 1;
    if (s[i] >= 0x80) {
      bool valid;
      k = utf8_step(s + i, max - i, &valid);
      plen = k;
      if (!valid) {
        piece = REPL;
        plen = 3;
      }
    }
    for (size_t x = 0; x < plen; x++, j++) {
      if (j >= tn) return 1;
      if (piece[x] != t[j]) return piece[x] < t[j] ? -1 : 1;
    }
    i += k;
  }
  return j < tn ? -1 : 0;
}

static memo_entry *memo_lookup(memo *m, const uint8_t *key, size_t n, uint64_t now_ns, bool *refresh);

static memo_entry *memo_for_record(memo *m, const uint8_t *rec, uint64_t now_ns, bool *refresh) {
  uint8_t key[MEMO_KEY_MAX];
  size_t n = 0;
  for (uint32_t j = 0; j < m->nranges; j++) {
    copy_small(key + n, rec + m->ranges[j][0], m->ranges[j][1]);
    n += m->ranges[j][1];
  }
  return memo_lookup(m, key, n, now_ns, refresh);
}

/* 1: the record matches, 0: it does not, -1: a memo has no answer for it yet (and no other part decides). */
/* The UTF-8 decoding of the C string s (U+FFFD for bad sequences) into out (room for 3 bytes per byte). */
static size_t decode_cstr(const uint8_t *s, size_t max, uint8_t *out) {
  size_t i = 0, j = 0;
  while (i < max && s[i]) {
    if (s[i] < 0x80) {
      out[j++] = s[i++];
      continue;
    }
    bool valid;
    size_t k = utf8_step(s + i, max - i, &valid);
    if (valid) {
      memcpy(out + j, s + i, k);
      j += k;
    } else {
      memcpy(out + j, "\xEF\xBF\xBD", 3);
      j += 3;
    }
    i += k;
  }
  return j;
}

/* startsWith / endsWith / contains on the decoded string: byte-wise on UTF-8 is the same as on the JS string
 * (both are well formed, and UTF-8 sequences never match across character boundaries). */
static bool str_match(ig_plan *p, const uint8_t *s, size_t max, const uint8_t *t, size_t tn, uint32_t cmp) {
  size_t n = decode_cstr(s, max, p->scratch);
  if (tn > n) return false;
  if (cmp == CMP_PREFIX) return memcmp(p->scratch, t, tn) == 0;
  if (cmp == CMP_SUFFIX) return memcmp(p->scratch + n - tn, t, tn) == 0;
  return tn == 0 || memmem(p->scratch, n, t, tn) != NULL;
}

static int filter_eval(ig_plan *p, const int32_t *op, const uint8_t *rec, uint64_t now_ns, bool *refresh) {
  uint32_t cmp = ((uint32_t)op[2] >> 24) & 15, size = (uint32_t)op[2] & 0xffffff;
  switch (op[0]) {
    case OP_F_AND:
    case OP_F_OR: {
      bool is_and = op[0] == OP_F_AND, unknown = false;
      const int32_t *c = op + 4;
      for (int32_t k = 0; k < op[1]; k++) {
        int r = filter_eval(p, c, rec, now_ns, refresh);
        if (r < 0) unknown = true; /* another part may still decide without it */
        else if (r == (is_and ? 0 : 1)) return r;
        c += 4 * subtree_ops(c);
      }
      return unknown ? -1 : is_and;
    }
    case OP_F_NOT: {
      int r = filter_eval(p, op + 4, rec, now_ns, refresh);
      return r < 0 ? -1 : !r;
    }
    case OP_F_CONST: return op[1] != 0;
    case OP_F_UINT: {
      uint64_t v = rd_uint(rec + op[1], size), t;
      memcpy(&t, p->lits + op[3], 8);
      return cmp_result(v < t ? -1 : v > t, cmp);
    }
    case OP_F_SINT: {
      int64_t v = rd_sint(rec + op[1], size), t;
      memcpy(&t, p->lits + op[3], 8);
      return cmp_result(v < t ? -1 : v > t, cmp);
    }
    case OP_F_BOOL: return cmp_result((rec[op[1]] != 0) != (op[3] != 0), cmp);
    case OP_F_STR: {
      uint32_t tn;
      memcpy(&tn, p->lits + op[3], 4);
      if (cmp >= CMP_PREFIX) return str_match(p, rec + op[1], size, p->lits + op[3] + 4, tn, cmp);
      return cmp_result(str_cmp(rec + op[1], size, p->lits + op[3] + 4, tn), cmp);
    }
    case OP_F_MEMO: {
      const memo_entry *e = memo_for_record(&p->memos[op[1]], rec, now_ns, refresh);
      if (!e) return -1;
      return e->frag_len > 0 && e->frag[0] == '1';
    }
    default: return 0;
  }
}

/* ---------------------------------------------------------------------------------------------
 * Column cells: columns.ts cellText() + fit(), for values whose text is ASCII (plus U+FFFD, width 1)
 * ------------------------------------------------------------------------------------------- */
#define CELL_FFFD 0x80 /* in a cell's text: U+FFFD (every other byte is printable ASCII, one cell each) */

/* escapeControls() of the UTF-8 decoding of s, one byte per character; false: a character whose width only
 * string-width knows (the record goes to JS). */
static bool cstr_cell_text(const uint8_t *s, size_t max, uint8_t *t, size_t *n) {
  size_t j = 0;
  for (size_t i = 0; i < max && s[i];) {
    uint8_t c = s[i];
    if (c >= 0x20 && c < 0x7f) {
      t[j++] = c;
      i++;
      continue;
    }
    if (c < 0x80) {
      char named = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == 0x1b ? 'e' : 0;
      t[j++] = '\\';
      if (named) {
        t[j++] = (uint8_t)named;
      } else {
        t[j++] = 'x';
        t[j++] = (uint8_t)HEX[c >> 4];
        t[j++] = (uint8_t)HEX[c & 15];
      }
      i++;
      continue;
    }
    bool valid;
    size_t k = utf8_step(s + i, max - i, &valid);
    if (!valid) {
      t[j++] = CELL_FFFD;
      i += k;
      continue;
    }
    uint32_t cp = k == 2 ? ((uint32_t)(c & 0x1f) << 6) | (s[i + 1] & 0x3f)
                : k == 3 ? ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f)
                         : 0x10000;
    if (cp <= 0x9f) { /* C1 controls */
      t[j++] = '\\';
      t[j++] = 'x';
      t[j++] = (uint8_t)HEX[cp >> 4];
      t[j++] = (uint8_t)HEX[cp & 15];
    } else if (cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
      memcpy(t + j, "\\u", 2);
      for (int d = 0; d < 4; d++) t[j + 2 + (size_t)d] = (uint8_t)HEX[(cp >> (12 - 4 * d)) & 15];
      j += 6;
    } else {
      return false;
    }
    i += k;
  }
  *n = j;
  return true;
}

static inline uint8_t *put_chars(uint8_t *w, const uint8_t *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (t[i] == CELL_FFFD) {
      memcpy(w, "\xEF\xBF\xBD", 3);
      w += 3;
    } else {
      *w++ = t[i];
    }
  }
  return w;
}

/* fit(): cut to the column's limit with its ellipsis, then pad to its width (left-aligned last column: no pad). */
static uint8_t *fit_cell(uint8_t *w, const uint8_t *t, size_t n, const rop *r) {
  bool last = r->flags & COL_LAST, right = r->flags & COL_RIGHT;
  size_t limit = r->limit ? r->limit : last ? SIZE_MAX : r->width;
  size_t cw = n > limit ? limit : n;
  size_t pad = cw < r->width ? r->width - cw : 0;
  if (right) {
    memset(w, ' ', pad);
    w += pad;
  }
  if (n <= limit) {
    w = put_chars(w, t, n);
  } else {
    size_t wd = limit;
    int ell = (int)((r->flags >> COL_ELL_SHIFT) & 3);
    if (ell == ELL_NONE || wd < 2) {
      w = put_chars(w, t, wd);
    } else if (ell == ELL_START) {
      memcpy(w, "\xE2\x80\xA6", 3);
      w = put_chars(w + 3, t + n - (wd - 1), wd - 1);
    } else if (ell == ELL_MIDDLE) {
      size_t h = (wd - 1) / 2;
      w = put_chars(w, t, h);
      memcpy(w, "\xE2\x80\xA6", 3);
      w = put_chars(w + 3, t + n - (wd - 1 - h), wd - 1 - h);
    } else {
      w = put_chars(w, t, wd - 1);
      memcpy(w, "\xE2\x80\xA6", 3);
      w += 3;
    }
  }
  if (!right && !last) {
    memset(w, ' ', pad);
    w += pad;
  }
  return w;
}

/* String(v) or, for hex columns, "0x" + v.toString(16) (a negative v: "0x-" and its magnitude). */
static size_t num_text(uint8_t *t, bool neg, uint64_t mag, bool hex) {
  size_t j = 0;
  if (hex) {
    t[j++] = '0';
    t[j++] = 'x';
  }
  if (neg) t[j++] = '-';
  if (!hex) return j + u64_dec(t + j, mag);
  int d = 60;
  while (d > 0 && ((mag >> d) & 15) == 0) d -= 4;
  for (; d >= 0; d -= 4) t[j++] = (uint8_t)HEX[(mag >> d) & 15];
  return j;
}

/* A timestamp text for a second not seen yet, from the last one seen when both are in the same minute: only the
 * seconds digits differ ("...T15:04:05." prefix). Other seconds are left to JS (one miss a minute, not a second). */
static memo_entry *next_second(memo *m, uint64_t sec, uint64_t now_ns) {
  const memo_entry *l = m->last;
  if (!l || l->key_len != 8 || l->aux < 4 || l->aux >= l->frag_len) return NULL;
  uint64_t lsec;
  memcpy(&lsec, l->key, 8);
  const uint8_t *f = l->frag;
  size_t a = l->aux; /* index of the NUL: the prefix ends with "SS." */
  if (f[a - 1] != '.' || f[a - 4] != ':' || f[a - 3] < '0' || f[a - 3] > '5' || f[a - 2] < '0' || f[a - 2] > '9') return NULL;
  uint64_t ss = (uint64_t)(f[a - 3] - '0') * 10 + (uint64_t)(f[a - 2] - '0');
  if (sec <= lsec || sec - lsec + ss >= 60) return NULL;
  uint8_t frag[128];
  if (l->frag_len > sizeof frag) return NULL;
  memcpy(frag, f, l->frag_len);
  uint64_t nss = ss + (sec - lsec);
  frag[a - 3] = (uint8_t)('0' + nss / 10);
  frag[a - 2] = (uint8_t)('0' + nss % 10);
  if (!memo_set(m, (const uint8_t *)&sec, 8, frag, l->frag_len, now_ns)) return NULL;
  memo_entry *e = memo_find(m, (const uint8_t *)&sec, 8, hash_key((const uint8_t *)&sec, 8));
  if (!e->frag) return NULL;
  m->last = e;
  return e;
}

static void zero_spans_clear(ig_plan *p) {
  for (size_t j = 0; j < p->nzero; j++) {
    free(p->zero_text[j]);
    p->zero_text[j] = NULL;
  }
}

static bool all_zero(const uint8_t *b, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, b + i, 8);
    if (v) return false;
  }
  for (; i < n; i++)
    if (b[i]) return false;
  return true;
}

/* Store what JS computed since the last record; fragments computed before an invalidation are dropped. */
static void apply_pending(ig_plan *p, uint64_t now_ns) {
  zero_spans_clear(p); /* a fragment of a zero span's memo may be new */
  pthread_mutex_lock(&p->mu);
  pending_set *list = p->pending;
  p->pending = p->pending_tail = NULL;
  __atomic_store_n(&p->npending, 0, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&p->mu);
  while (list) {
    pending_set *ps = list;
    list = ps->next;
    if (ps->gen == p->seen_gen) memo_set(&p->memos[ps->memo], ps->key, ps->key_len, ps->frag, ps->frag_len, now_ns);
    free(ps);
  }
}

/* A memo with a kernel source: the source's text for this record, JSON-quoted as the JS encoder quotes a string,
 * in the memo's one answer entry (NULL: no answer, the memo's table is asked). Read from the mapped map for every
 * record: as cheap as a table lookup, always current, and a new key per record (an exec storm) stores nothing. */
static memo_entry *memo_from_source(memo *m, const uint8_t *rec) {
  size_t max;
  const uint8_t *text = ig_memo_source_text(m->src, rec, &max);
  if (!text) return NULL;
  memo_entry *e = m->src_hit;
  e->frag_len = (uint32_t)(put_cstr(e->frag, text, max) - e->frag);
  e->aux = e->frag_len;
  return e;
}

const char *ig_plan_memo_ranges(const ig_plan *p, uint32_t idx, uint32_t ranges[2][2]) {
  if (idx >= p->nmemos) return "memo out of range";
  const memo *m = &p->memos[idx];
  if (m->nranges != 2) return "the memo is not keyed by two ranges";
  if (m->src) return "the memo has a source already";
  memcpy(ranges, m->ranges, sizeof(uint32_t) * 4);
  return NULL;
}

bool ig_plan_set_memo_source(ig_plan *p, uint32_t idx, ig_memo_source *s, size_t text_size) {
  memo_entry *e = calloc(1, sizeof *e);
  uint8_t *frag = malloc(text_size * 6 + 2); /* put_cstr's worst case: \u00XX per byte, and the quotes */
  if (!e || !frag) {
    free(e);
    free(frag);
    return false;
  }
  e->frag = frag;
  p->memos[idx].src = s;
  p->memos[idx].src_hit = e;
  return true;
}

bool ig_plan_miss_is_memo(const ig_plan *p) { return p->miss_memo; }

/* The record bytes [lo, hi) a rop reads (hi == lo: none). */
static void rop_bytes(const ig_plan *p, const rop *r, uint32_t *lo, uint32_t *hi) {
  uint32_t n = 0;
  switch (r->kind) {
    case OP_UINT: case OP_SINT: case OP_CSTR: case OP_ZERO_SPAN: case OP_JOINED: case OP_COL_JOINED:
    case OP_COL_UINT: case OP_COL_SINT: case OP_COL_CSTR: n = r->size; break;
    case OP_BOOL: case OP_COL_BOOL: n = 1; break;
    case OP_WALL_U64: case OP_WALL_STR: case OP_COL_WALL_STR: n = 8; break;
    default: break; /* literals, memos (their ranges are checked apart), OP_TRIM_END */
  }
  *lo = r->off;
  *hi = r->off + n;
}

/* gadgetctl's twin: six or more plain record values in a row (trace_open's 14 ustack members, after its two received
 * strings: no struct of the twin is a zero span, its strings are slots far away) become a zero span here, as
 * native-plan.ts makes one for a struct of the local layout. A ZERO_SPAN rop is inserted before them, taking the
 * first one's literal; rop indices after it move up by one. False: out of memory (nothing changed). */
#define BOUND_ZERO_SPAN_MIN 6
static bool bind_zero_spans(ig_plan *p) {
  for (size_t i = 0; i < p->nrops && p->nzero < ZERO_SPANS_MAX;) {
    uint32_t k = p->rops[i].kind;
    if (k == OP_ZERO_SPAN || k == OP_PIECE) { /* their rops are not rendered one by one */
      i += p->rops[i].limit + 1;
      continue;
    }
    size_t e = i;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (; e < p->nrops; e++) {
      const rop *r = &p->rops[e];
      if (r->kind != OP_UINT && r->kind != OP_SINT && r->kind != OP_BOOL) break;
      uint32_t a = r->off, b = r->off + (r->kind == OP_BOOL ? 1 : r->size);
      uint32_t nlo = a < lo ? a : lo, nhi = b > hi ? b : hi;
      if (nhi - nlo > 4096) break;
      lo = nlo;
      hi = nhi;
    }
    if (e - i < BOUND_ZERO_SPAN_MIN) {
      i = e > i ? e : i + 1;
      continue;
    }
    rop *nr = realloc(p->rops, sizeof *nr * (p->nrops + 1));
    if (!nr) return false;
    p->rops = nr;
    memmove(&p->rops[i + 1], &p->rops[i], sizeof *nr * (p->nrops - i));
    p->nrops++;
    rop *z = &p->rops[i];
    memset(z, 0, sizeof *z);
    z->kind = OP_ZERO_SPAN;
    z->off = lo;
    z->size = hi - lo;
    z->limit = (uint32_t)(e - i);
    z->lit_off = p->rops[i + 1].lit_off;
    z->lit_len = p->rops[i + 1].lit_len;
    p->rops[i + 1].lit_len = 0;
    for (size_t q = 0; q < p->nmemo_rops; q++)
      if (p->memo_rops[q] >= i) p->memo_rops[q]++;
    for (size_t q = 0; q < p->nzero; q++)
      if (p->zero_rops[q] >= i) p->zero_rops[q]++;
    z->memo = (uint32_t)p->nzero;
    p->zero_rops[p->nzero] = (uint32_t)i;
    p->zero_text[p->nzero] = NULL;
    p->nzero++;
    i = e + 1;
  }
  return true;
}

int ig_plan_bind_pieces(ig_plan *p, const int32_t *vals, uint32_t nvals) {
  if (p->pieces || p->filter) return 0;
  ig_pieces *s = ig_pieces_new(nvals);
  int32_t *cand = malloc(sizeof *cand * (p->nrops + 1));
  bool *refused = calloc(nvals + 1, 1);
  int converted = 0;
  if (!s || !cand || !refused) {
    converted = -1;
    goto out;
  }
  /* a plain value op reading exactly one slot (the slot types of render_buffer.c: 1 string, 2/3 integer, 4 bool) */
  for (size_t i = 0; i < p->nrops; i++) {
    const rop *r = &p->rops[i];
    cand[i] = -1;
    for (uint32_t j = 0; j < nvals; j++) {
      int32_t off = vals[3 * j], type = vals[3 * j + 1], size = vals[3 * j + 2];
      if (type == 0 || (int64_t)r->off != off) continue;
      if ((type == 1 && r->kind == OP_CSTR && (int32_t)r->size == size) || (type == 2 && r->kind == OP_UINT && (int32_t)r->size == size) ||
          (type == 3 && r->kind == OP_SINT && (int32_t)r->size == size) || (type == 4 && r->kind == OP_BOOL))
        cand[i] = (int32_t)j;
      break;
    }
  }
  /* a slot any other op, memo or zero span reads keeps its bytes (and its ops) */
  for (uint32_t j = 0; j < nvals; j++) {
    uint32_t lo = (uint32_t)vals[3 * j], hi = lo + (uint32_t)vals[3 * j + 2];
    if (vals[3 * j + 1] == 0) continue;
    for (size_t i = 0; i < p->nrops && !refused[j]; i++) {
      uint32_t a, b;
      rop_bytes(p, &p->rops[i], &a, &b);
      if (cand[i] != (int32_t)j && a < hi && lo < b) refused[j] = true;
      if (p->rops[i].kind == OP_ZERO_SPAN && cand[i] < 0)
        for (size_t k = i + 1; k <= i + p->rops[i].limit && k < p->nrops; k++)
          if (cand[k] == (int32_t)j) refused[j] = true;
    }
    for (size_t m = 0; m < p->nmemos && !refused[j]; m++)
      for (uint32_t q = 0; q < p->memos[m].nranges; q++) {
        uint32_t a = p->memos[m].ranges[q][0], b = a + p->memos[m].ranges[q][1];
        if (a < hi && lo < b) refused[j] = true;
      }
  }
  /* runs of adjacent value ops: the first becomes OP_PIECE, the others are skipped (rops are changed only once
   * every run is built: out of memory leaves the plan as it was) */
  for (size_t i = 0; i < p->nrops;) {
    if (cand[i] < 0 || refused[cand[i]]) {
      i++;
      continue;
    }
    size_t e = i + 1;
    while (e < p->nrops && cand[e] >= 0 && !refused[cand[e]]) e++;
    int ri = ig_pieces_add_run(s);
    bool ok = ri >= 0;
    for (size_t k = i; ok && k < e; k++)
      ok = ig_pieces_run_part(s, ri, (uint32_t)cand[k], k == i ? NULL : p->lits + p->rops[k].lit_off, k == i ? 0 : p->rops[k].lit_len);
    if (!ok) {
      converted = -1;
      goto out;
    }
    cand[i] = -2 - (int32_t)(e - i); /* a run's start: -2 - its length */
    i = e;
  }
  for (size_t i = 0, ri = 0; i < p->nrops; i++) {
    if (cand[i] > -2) continue;
    uint32_t len = (uint32_t)(-2 - cand[i]);
    p->rops[i].kind = OP_PIECE;
    p->rops[i].memo = (uint32_t)ri++;
    p->rops[i].limit = len - 1;
    converted += (int)len;
  }
  p->pieces = s;
  s = NULL;
  if (!bind_zero_spans(p)) converted = -1;
out:
  ig_pieces_free(s);
  free(cand);
  free(refused);
  return converted;
}

ig_pieces *ig_plan_pieces(const ig_plan *p) { return p->pieces; }


void ig_plan_prefetch(const ig_plan *p, const uint8_t *rec) {
  for (size_t i = 0; i < p->nlines; i++) __builtin_prefetch(rec + p->lines[i]);
}

int ig_plan_render(ig_plan *p, const uint8_t *rec, size_t size, uint64_t now_ns, ig_out *o) {
  p->miss_memo = false;
  if (size < p->min_size) return IG_RENDER_MISS;
  uint32_t gen = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
  if (gen != p->seen_gen) {
    for (size_t m = 0; m < p->nmemos; m++) memo_clear(&p->memos[m]);
    zero_spans_clear(p);
    p->seen_gen = gen;
  }
  if (__atomic_load_n(&p->npending, __ATOMIC_ACQUIRE)) apply_pending(p, now_ns);
  bool refresh = false;
  if (p->filter) {
    int keep = filter_eval(p, p->filter, rec, now_ns, &refresh);
    if (keep < 0) {
      p->miss_memo = true;
      return IG_RENDER_MISS;
    }
    if (!keep) return refresh ? IG_RENDER_REFRESH : IG_RENDER_OK; /* no line */
  }
  /* Resolve every memo first: a miss must leave the output untouched. */
  size_t bound = p->static_bound;
  for (size_t j = 0; j < p->nzero; j++) {
    const rop *z = &p->rops[p->zero_rops[j]];
    p->zero_now[j] = all_zero(rec + z->off, z->size);
    if (p->zero_now[j] && p->zero_text[j]) bound += p->zero_len[j];
  }
  uint8_t key[MEMO_KEY_MAX];
  for (size_t k = 0; k < p->nmemo_rops; k++) {
    int span = p->memo_span[k];
    if (span >= 0 && p->zero_now[span] && p->zero_text[span]) { /* the cached piece stands for it */
      p->frags[k] = NULL;
      continue;
    }
    const rop *r = &p->rops[p->memo_rops[k]];
    memo *m = &p->memos[r->memo];
    memo_entry *e;
    if (r->kind == OP_MEMO) {
      size_t n = 0;
      for (uint32_t j = 0; j < m->nranges; j++) {
        copy_small(key + n, rec + m->ranges[j][0], m->ranges[j][1]);
        n += m->ranges[j][1];
      }
      e = m->src ? memo_from_source(m, rec) : NULL;
      if (!e) e = memo_lookup(m, key, n, now_ns, &refresh);
    } else { /* OP_WALL_STR, OP_COL_WALL_STR */
      uint64_t boot;
      memcpy(&boot, rec + r->off, 8);
      if (!boot) {
        p->frags[k] = NULL;
        continue;
      }
      uint64_t sec = wall_ns(p, boot) / 1000000000ull;
      memcpy(key, &sec, 8);
      e = memo_lookup(m, key, 8, now_ns, &refresh);
      if (!e) e = next_second(m, sec, now_ns);
    }
    if (!e || (r->kind == OP_COL_WALL_STR && e->frag_len > 150)) { /* a column's text is fitted from a 160-byte scratch */
      p->miss_memo = !e;
      return IG_RENDER_MISS;
    }
    p->frags[k] = e;
    bound += e->frag_len;
  }
  uint8_t *w0 = room(o, bound);
  if (!w0) return IG_RENDER_MISS; /* out of memory for an overlong line: let JS have it */
  uint8_t *w = w0;
  const memo_entry *const *frag = p->frags;
  uint8_t *cap_from = NULL; /* a zero span's text being made: from here to the end of rop cap_end */
  size_t cap_end = 0, cap_span = 0;
  for (size_t i = 0; i < p->nrops; i++) {
    const rop *r = &p->rops[i];
    copy_small(w, p->lits + r->lit_off, r->lit_len);
    w += r->lit_len;
    const uint8_t *f = rec + r->off;
    switch (r->kind) {
      case OP_PIECE:
        w = ig_pieces_put(p->pieces, r->memo, w);
        i += r->limit; /* the run's other values */
        break;
      case OP_ZERO_SPAN: {
        size_t j = r->memo;
        if (!p->zero_now[j]) break; /* its ops render it */
        if (p->zero_text[j]) {
          memcpy(w, p->zero_text[j], p->zero_len[j]);
          w += p->zero_len[j];
          i += r->limit;    /* the span's value ops */
          frag += r->width; /* and their memos */
        } else {
          cap_from = w;
          cap_end = i + r->limit;
          cap_span = j;
        }
        break;
      }
      case OP_UINT: case OP_SINT: case OP_BOOL: case OP_CSTR: w = put_plain(r, f, w); break;
      case OP_JOINED: w = ig_put_joined(w, rec, size, r->off, r->size, p->lits + r->limit); break;
      case OP_WALL_U64: {
        uint64_t v;
        memcpy(&v, f, 8);
        w += u64_dec(w, wall_ns(p, v));
        break;
      }
      case OP_WALL_STR: {
        const memo_entry *e = *frag++;
        if (!e) {
          memcpy(w, "\"\"", 2);
          w += 2;
          break;
        }
        uint64_t v;
        memcpy(&v, f, 8);
        w += quoted_digits_frag(w, e, (uint32_t)(wall_ns(p, v) % 1000000000ull));
        break;
      }
      case OP_MEMO: {
        const memo_entry *e = *frag++;
        copy_small(w, e->frag, e->frag_len);
        w += e->frag_len;
        break;
      }
      case OP_TRIM_END:
        w = ig_trim_js_end(w0, w);
        break;
      case OP_COL_UINT:
      case OP_COL_SINT: {
        uint8_t t[32];
        bool neg = false;
        uint64_t mag;
        if (r->kind == OP_COL_UINT) {
          mag = rd_uint(f, r->size);
          if (r->flags & COL_WALL) mag = wall_ns(p, mag);
        } else {
          int64_t v = rd_sint(f, r->size);
          neg = v < 0;
          mag = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        }
        w = fit_cell(w, t, num_text(t, neg, mag, r->flags & COL_HEX), r);
        break;
      }
      case OP_COL_BOOL:
        w = f[0] ? fit_cell(w, (const uint8_t *)"true", 4, r) : fit_cell(w, (const uint8_t *)"false", 5, r);
        break;
      case OP_COL_WALL_STR: {
        const memo_entry *e = *frag++;
        uint8_t t[160];
        uint64_t v;
        memcpy(&v, f, 8);
        w = fit_cell(w, t, e ? quoted_digits_frag(t, e, (uint32_t)(wall_ns(p, v) % 1000000000ull)) : 0, r);
        break;
      }
      case OP_COL_CSTR: {
        size_t n;
        if (cstr_cell_text(f, r->size, p->cell, &n)) {
          w = fit_cell(w, p->cell, n, r);
        } else { /* characters of other widths (render_width.c); a miss commits nothing: o->len unchanged */
          w = ig_width_cell(w, f, r->size, r->width, r->limit, r->flags & COL_RIGHT, r->flags & COL_LAST, (int)((r->flags >> COL_ELL_SHIFT) & 3));
          if (!w) return IG_RENDER_MISS;
        }
        break;
      }
      case OP_COL_JOINED: {
        size_t n = ig_joined_raw(p->joined, rec, size, r->off, r->size, p->lits + r->memo);
        if (cstr_cell_text(p->joined, n + 1, p->cell, &n)) {
          w = fit_cell(w, p->cell, n, r);
        } else {
          w = ig_width_cell(w, p->joined, n + 1, r->width, r->limit, r->flags & COL_RIGHT, r->flags & COL_LAST, (int)((r->flags >> COL_ELL_SHIFT) & 3));
          if (!w) return IG_RENDER_MISS;
        }
        break;
      }
      default: break; /* 0: the line's last literal only */
    }
    if (cap_from && i == cap_end) {
      size_t n = (size_t)(w - cap_from);
      uint8_t *t = malloc(n ? n : 1);
      if (t) {
        memcpy(t, cap_from, n);
        p->zero_text[cap_span] = t;
        p->zero_len[cap_span] = (uint32_t)n;
      }
      cap_from = NULL;
    }
  }
  *w++ = '\n';
  o->len += (size_t)(w - w0);
  __atomic_store_n(&p->lines_out, p->lines_out + 1, __ATOMIC_RELAXED);
  return refresh ? IG_RENDER_REFRESH : IG_RENDER_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Lines made from the last line (gadgetctl's received records: ig_plan_bind_delta)
 * ------------------------------------------------------------------------------------------- */
/* Consecutive records of a storm differ in a few values (trace_open: its two timestamps; pid, fd or fname when
 * several processes open). The rops form groups, each with the literal before it: a plain value op, a run of
 * pieces, a zero span with its ops. A group whose inputs are the last line's (the record bytes it reads, a string's
 * up to its NUL; a run's signature) has the text it had there: adjacent such groups are copied from the last line
 * in one memcpy and only the others are rendered (in a storm 2-3 of trace_open's ~40 groups per record). */
struct line_delta {
  uint8_t *line; /* the last line's text ('\n' left out) */
  size_t len, cap;
  uint32_t *at, *new_at; /* per group head: where its text starts in the line; [nrops]: the line's end */
  uint64_t *in;          /* per group head: a string's bytes kept (to its NUL), a run's signature */
  uint8_t *rec;          /* the record bytes the groups read, as of the last line */
  bool valid;
};

static void delta_free(struct line_delta *d) {
  if (!d) return;
  free(d->line);
  free(d->at);
  free(d->new_at);
  free(d->in);
  free(d->rec);
  free(d);
}

/* The rops of the group that starts at r: a run of pieces and a zero span take the `limit` rops after them. */
static inline size_t group_len(const rop *r) { return 1 + (r->kind == OP_PIECE || r->kind == OP_ZERO_SPAN ? r->limit : 0); }

/* a[0, n) == b[0, n): values of a few bytes, where a memcmp call costs more than the compare */
static inline bool bytes_eq(const uint8_t *a, const uint8_t *b, size_t n) {
  if (n >= 8) {
    uint64_t x, y;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      memcpy(&x, a + i, 8);
      memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    if (i == n) return true;
    memcpy(&x, a + n - 8, 8); /* the tail, overlapping what was compared */
    memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    uint32_t x, y, u, v;
    memcpy(&x, a, 4);
    memcpy(&y, b, 4);
    memcpy(&u, a + n - 4, 4);
    memcpy(&v, b + n - 4, 4);
    return x == y && u == v;
  }
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return false;
  return true;
}

bool ig_plan_bind_delta(ig_plan *p) {
  if (p->delta) return true;
  if (p->filter || p->nmemo_rops) return false;
  size_t top = 0;
  for (size_t i = 0; i < p->nrops; i += group_len(&p->rops[i])) {
    const rop *r = &p->rops[i];
    uint32_t lo, hi;
    switch (r->kind) {
      case 0: case OP_PIECE: case OP_UINT: case OP_SINT: case OP_BOOL: case OP_CSTR: break;
      case OP_ZERO_SPAN:
        /* its ops are compared through the span's bytes: plain values that read nothing else */
        for (size_t k = i + 1; k < i + group_len(r); k++) {
          const rop *q = &p->rops[k];
          if (k >= p->nrops || (q->kind != OP_UINT && q->kind != OP_SINT && q->kind != OP_BOOL && q->kind != OP_CSTR)) return false;
          rop_bytes(p, q, &lo, &hi);
          if (lo < r->off || hi > r->off + r->size) return false;
        }
        break;
      default: return false; /* memos, wall clock, joined strings, column cells: rendered per record */
    }
    rop_bytes(p, r, &lo, &hi);
    if (hi > top) top = hi;
  }
  struct line_delta *d = calloc(1, sizeof *d);
  if (!d) return false;
  d->at = calloc(p->nrops + 1, sizeof *d->at);
  d->new_at = calloc(p->nrops + 1, sizeof *d->new_at);
  d->in = calloc(p->nrops + 1, sizeof *d->in);
  d->rec = calloc(top ? top : 1, 1);
  if (!d->at || !d->new_at || !d->in || !d->rec) {
    delta_free(d);
    return false;
  }
  p->delta = d;
  return true;
}

/* Whether the group at rop i reads what it read for the last line; *in: a run's signature now. */
static inline bool group_same(const ig_plan *p, const struct line_delta *d, const rop *r, size_t i, const uint8_t *rec, uint64_t *in) {
  switch (r->kind) {
    case 0: return true; /* the line's last literal */
    case OP_PIECE:
      *in = ig_pieces_run_sig(p->pieces, r->memo);
      return *in == d->in[i];
    case OP_CSTR: return bytes_eq(rec + r->off, d->rec + r->off, (size_t)d->in[i]);
    case OP_BOOL: return rec[r->off] == d->rec[r->off];
    default: return bytes_eq(rec + r->off, d->rec + r->off, r->size); /* integers, a zero span's bytes */
  }
}

/* Render the group at rop i (its literal first) and keep its inputs. */
static uint8_t *group_render(ig_plan *p, struct line_delta *d, const rop *r, size_t i, const uint8_t *rec, uint64_t in, uint8_t *w) {
  copy_small(w, p->lits + r->lit_off, r->lit_len);
  w += r->lit_len;
  const uint8_t *f = rec + r->off;
  switch (r->kind) {
    case 0: return w;
    case OP_PIECE:
      d->in[i] = in;
      return ig_pieces_put(p->pieces, r->memo, w);
    case OP_ZERO_SPAN: {
      size_t j = r->memo;
      bool zero = all_zero(f, r->size);
      memcpy(d->rec + r->off, f, r->size);
      if (zero && p->zero_text[j]) {
        memcpy(w, p->zero_text[j], p->zero_len[j]);
        return w + p->zero_len[j];
      }
      uint8_t *from = w;
      for (size_t k = i + 1; k < i + group_len(r); k++) {
        const rop *q = &p->rops[k];
        copy_small(w, p->lits + q->lit_off, q->lit_len);
        w = put_plain(q, rec + q->off, w + q->lit_len);
      }
      if (zero) { /* its cached text, as ig_plan_render makes it */
        size_t n = (size_t)(w - from);
        uint8_t *t = malloc(n ? n : 1);
        if (t) {
          memcpy(t, from, n);
          p->zero_text[j] = t;
          p->zero_len[j] = (uint32_t)n;
        }
      }
      return w;
    }
    case OP_CSTR: {
      size_t n = strnlen((const char *)f, r->size);
      n = n < r->size ? n + 1 : r->size; /* the NUL ends what is printed: bytes after it are not compared */
      memcpy(d->rec + r->off, f, n);
      d->in[i] = n;
      return put_plain(r, f, w);
    }
    default:
      memcpy(d->rec + r->off, f, r->kind == OP_BOOL ? 1 : r->size);
      return put_plain(r, f, w);
  }
}

int ig_plan_render_delta(ig_plan *p, const uint8_t *rec, size_t size, uint64_t now_ns, ig_out *o) {
  struct line_delta *d = p->delta;
  if (!d) return ig_plan_render(p, rec, size, now_ns, o);
  p->miss_memo = false;
  if (size < p->min_size) return IG_RENDER_MISS;
  uint32_t gen = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
  if (gen != p->seen_gen) {
    zero_spans_clear(p);
    p->seen_gen = gen;
    d->valid = false;
  }
  /* (a plan with delta has no memos: nothing is pending) */
  size_t bound = p->static_bound;
  for (size_t j = 0; j < p->nzero; j++)
    if (p->zero_text[j]) bound += p->zero_len[j];
  uint8_t *w0 = room(o, bound);
  if (!w0) return IG_RENDER_MISS;
  uint8_t *w = w0;
  const bool valid = d->valid;
  size_t copy_from = 0, copy_to = 0; /* last line's text to copy before the next rendered group */
  for (size_t i = 0; i < p->nrops;) {
    const rop *r = &p->rops[i];
    size_t next = i + group_len(r);
    d->new_at[i] = (uint32_t)((size_t)(w - w0) + (copy_to - copy_from));
    uint64_t in = 0;
    bool same = group_same(p, d, r, i, rec, &in);
    if (valid && same) {
      if (copy_from == copy_to) copy_from = d->at[i];
      copy_to = d->at[next];
    } else {
      if (copy_to > copy_from) memcpy(w, d->line + copy_from, copy_to - copy_from);
      w += copy_to - copy_from;
      copy_from = copy_to = 0;
      w = group_render(p, d, r, i, rec, in, w);
    }
    i = next;
  }
  if (copy_to > copy_from) memcpy(w, d->line + copy_from, copy_to - copy_from);
  w += copy_to - copy_from;
  size_t len = (size_t)(w - w0);
  if (len > d->cap) {
    uint8_t *nl = realloc(d->line, len);
    if (!nl) {
      d->valid = false; /* this line is written; the next one is rendered whole */
      goto done;
    }
    d->line = nl;
    d->cap = len;
  }
  memcpy(d->line, w0, len);
  d->len = len;
  d->new_at[p->nrops] = (uint32_t)len;
  uint32_t *t = d->at;
  d->at = d->new_at;
  d->new_at = t;
  d->valid = true;
done:
  *w++ = '\n';
  o->len += (size_t)(w - w0);
  __atomic_store_n(&p->lines_out, p->lines_out + 1, __ATOMIC_RELAXED);
  return IG_RENDER_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------------------------- */
static void plan_free(ig_plan *p) {
  while (p->pending) {
    pending_set *ps = p->pending;
    p->pending = ps->next;
    free(ps);
  }
  pthread_mutex_destroy(&p->mu);
  for (size_t m = 0; m < p->nmemos; m++) {
    if (p->memos[m].tab) {
      memo_clear(&p->memos[m]);
      free(p->memos[m].tab);
      ig_memo_source_free(p->memos[m].src);
      if (p->memos[m].src_hit) free(p->memos[m].src_hit->frag);
      free(p->memos[m].src_hit);
    }
  }
  free(p->memos);
  free(p->lits);
  free(p->frags);
  free(p->rops);
  free(p->memo_rops);
  zero_spans_clear(p);
  free(p->memo_span);
  ig_pieces_free(p->pieces);
  delta_free(p->delta);
  free(p->filter);
  free(p->cell);
  free(p->joined);
  free(p->scratch);
  p->magic = 0;
  free(p);
}

void ig_plan_ref(ig_plan *p) { __atomic_add_fetch(&p->refs, 1, __ATOMIC_ACQ_REL); }

void ig_plan_unref(ig_plan *p) {
  if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) plan_free(p);
}

static void plan_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ig_plan_unref(data);
}

ig_plan *ig_plan_arg(napi_env env, napi_value v) { return ig_handle(env, v, IG_MAGIC_PLAN, "render plan"); }

static bool get_i32_array(napi_env env, napi_value v, const char *what, int32_t **out, size_t *n) {
  void *data;
  size_t len;
  if (!ig_arg_bytes(env, v, what, &data, &len)) return false;
  if (len % 4) {
    ig_throw_type(env, "%s must be an Int32Array", what);
    return false;
  }
  *n = len / 4;
  *out = malloc(len ? len : 4);
  if (!*out) {
    ig_throw_msg(env, "%s: out of memory", what);
    return false;
  }
  memcpy(*out, data, len);
  return true;
}

/* The ops of the predicate subtree at f (at most avail), checked once so evaluation never has to; 0: bad. */
static size_t filter_check(ig_plan *p, const int32_t *f, size_t avail, uint8_t *memo_used, int depth, const char **bad) {
  if (avail == 0) {
    *bad = "filter truncated";
    return 0;
  }
  if (depth > 256) {
    *bad = "filter nested too deep";
    return 0;
  }
  uint32_t cmp = ((uint32_t)f[2] >> 24) & 0xff, size = (uint32_t)f[2] & 0xffffff;
  size_t end = 0;
  switch (f[0]) {
    case OP_F_AND:
    case OP_F_OR:
    case OP_F_NOT: {
      if (f[2] < 1 || (size_t)f[2] > avail || (f[0] == OP_F_NOT ? f[1] != 1 && f[1] != 0 : f[1] < 0)) {
        *bad = "filter node";
        return 0;
      }
      int32_t children = f[0] == OP_F_NOT ? 1 : f[1];
      size_t off = 1;
      for (int32_t k = 0; k < children; k++) {
        size_t n = filter_check(p, f + 4 * off, (size_t)f[2] - off, memo_used, depth + 1, bad);
        if (!n) return 0;
        off += n;
      }
      if (off != (size_t)f[2]) {
        *bad = "filter node size";
        return 0;
      }
      return off;
    }
    case OP_F_CONST: return 1;
    case OP_F_UINT:
    case OP_F_SINT:
      if ((size != 1 && size != 2 && size != 4 && size != 8) || cmp > CMP_GE || f[1] < 0 || f[3] < 0 ||
          (size_t)f[3] + 8 > p->nlits) {
        *bad = "filter integer comparison";
        return 0;
      }
      end = (size_t)f[1] + size;
      break;
    case OP_F_BOOL:
      if (cmp > CMP_NE || f[1] < 0) {
        *bad = "filter boolean comparison";
        return 0;
      }
      end = (size_t)f[1] + 1;
      break;
    case OP_F_STR: {
      uint32_t tn = 0;
      if (f[3] >= 0 && (size_t)f[3] + 4 <= p->nlits) memcpy(&tn, p->lits + f[3], 4);
      if (size == 0 || size > 65536 || cmp > CMP_CONTAINS || f[1] < 0 || f[3] < 0 || (size_t)f[3] + 4 > p->nlits ||
          (size_t)f[3] + 4 + tn > p->nlits) {
        *bad = "filter string comparison";
        return 0;
      }
      end = (size_t)f[1] + size;
      if (cmp >= CMP_PREFIX && size * 3 > p->scratch_len) p->scratch_len = size * 3;
      break;
    }
    case OP_F_MEMO:
      if (f[1] < 0 || (size_t)f[1] >= p->nmemos || p->memos[f[1]].nranges == 0) {
        *bad = "filter memo";
        return 0;
      }
      if (memo_used[f[1]]++) {
        *bad = "two ops share one memo";
        return 0;
      }
      return 1;
    default:
      *bad = "unknown filter op";
      return 0;
  }
  if (end > p->min_size) p->min_size = end;
  return 1;
}

/* renderPlanNew(ops: Int32Array, literals: Buffer, memos: Int32Array, wallOffsetNs: bigint) */
static napi_value js_plan_new(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  ig_plan *p = calloc(1, sizeof *p);
  if (!p) return ig_throw_msg(env, "render plan: out of memory");
  p->magic = IG_MAGIC_PLAN;
  pthread_mutex_init(&p->mu, NULL);
  p->refs = 1;
  int32_t *ms = NULL, *ops = NULL; /* the JS arrays, only needed until the rops are built */
  size_t nms = 0, nwords = 0;
  void *lits;
  bool lossless;
  if (!get_i32_array(env, argv[0], "ops", &ops, &nwords) || !ig_arg_bytes(env, argv[1], "literals", &lits, &p->nlits) ||
      !get_i32_array(env, argv[2], "memos", &ms, &nms) ||
      napi_get_value_bigint_int64(env, argv[3], &p->wall_offset_ns, &lossless) != napi_ok) {
    free(ms);
    free(ops);
    plan_free(p);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    return pending ? NULL : ig_throw_type(env, "wallOffsetNs must be a bigint");
  }
  const char *bad = NULL;
  size_t nops = nwords / 4;
  if (nwords % 4) bad = "ops length is not a multiple of 4";
  p->lits = malloc(p->nlits ? p->nlits : 1);
  p->rops = calloc(nops + 1, sizeof *p->rops);
  p->memo_rops = calloc(nops + 1, sizeof *p->memo_rops);
  p->frags = calloc(nops + 1, sizeof *p->frags);
  if (!p->lits || !p->frags || !p->rops || !p->memo_rops) bad = "out of memory";
  else memcpy(p->lits, lits, p->nlits);
  /* memos */
  size_t w = 0;
  if (!bad && nms > 0) {
    p->nmemos = (size_t)ms[w++];
    p->memos = calloc(p->nmemos ? p->nmemos : 1, sizeof *p->memos);
    if (!p->memos) bad = "out of memory";
    for (size_t m = 0; !bad && m < p->nmemos; m++) {
      memo *mm = &p->memos[m];
      if (w + 2 > nms) { bad = "memo spec truncated"; break; }
      mm->ttl_ns = (uint64_t)(ms[w] > 0 ? ms[w] : 0) * 1000000ull;
      mm->nranges = (uint32_t)ms[w + 1];
      w += 2;
      if (mm->nranges > MEMO_RANGES_MAX || w + 2 * mm->nranges > nms) { bad = "memo key ranges"; break; }
      size_t klen = mm->nranges ? 0 : 8;
      for (uint32_t r = 0; r < mm->nranges; r++) {
        int32_t off = ms[w++], len = ms[w++];
        if (off < 0 || len <= 0) { bad = "memo key range"; break; }
        mm->ranges[r][0] = (uint32_t)off;
        mm->ranges[r][1] = (uint32_t)len;
        klen += (size_t)len;
        if ((size_t)off + (size_t)len > p->min_size) p->min_size = (size_t)off + (size_t)len;
      }
      if (klen > MEMO_KEY_MAX) bad = "memo key longer than 64 bytes";
      mm->tab = calloc(MEMO_CAP, sizeof *mm->tab);
      if (!mm->tab) bad = "out of memory";
    }
  }
  free(ms);
  /* ops: check bounds once so rendering never has to. Each memo belongs to one op: a render resolves every
   * memo op's fragment before writing, and a lookup may store (and, when the memo is full, free) entries of its
   * memo, so a second op on the same memo could be left holding a freed fragment. */
  uint8_t *memo_used = calloc(p->nmemos ? p->nmemos : 1, 1);
  if (!bad && !memo_used) bad = "out of memory";
  /* a filter first: its ops are kept apart, the render ops follow */
  int32_t *render_ops = ops;
  if (!bad && nops > 0 && ops[0] == OP_FILTER) {
    size_t nf = ops[1] > 0 ? (size_t)ops[1] : 0;
    if (nf == 0 || 1 + nf > nops) {
      bad = "filter length";
    } else if (filter_check(p, ops + 4, nf, memo_used, 0, &bad) != nf) {
      if (!bad) bad = "filter length";
    } else if (!(p->filter = malloc(nf * 16))) {
      bad = "out of memory";
    } else {
      memcpy(p->filter, ops + 4, nf * 16);
      p->nfilter = nf;
      render_ops = ops + 4 * (1 + nf);
      nops -= 1 + nf;
    }
  }
  size_t cell_max = 0, joined_max = 0;
  for (size_t i = 0; !bad && i < nops; i++) {
    const int32_t *op = render_ops + i * 4;
    size_t end = 0;
    switch (op[0]) {
      case OP_TRIM_END: break;
      case OP_COL_JOINED:
        /* the array itself may be cut short by the record: only its start must be there */
        if (op[2] <= 0 || op[2] > COL_JOINED_MAX || op[3] < 0 || (op[3] & 3) || (size_t)op[3] + 12 > p->nlits ||
            !ig_joined_desc_size(p->lits + op[3] + 12, p->nlits - (size_t)op[3] - 12))
          bad = "joined strings column";
        else {
          /* the length and count members must be there too */
          uint32_t lo, co;
          memcpy(&lo, p->lits + op[3] + 12, 4);
          memcpy(&co, p->lits + op[3] + 16, 4);
          end = (size_t)op[1];
          if (lo != UINT32_MAX && (size_t)lo + 4 > end) end = (size_t)lo + 4;
          if (co != UINT32_MAX && (size_t)co + 4 > end) end = (size_t)co + 4;
          if ((size_t)op[2] * 4 > cell_max) cell_max = (size_t)op[2] * 4;
          if ((size_t)op[2] > joined_max) joined_max = (size_t)op[2];
        }
        break;
      case OP_COL_UINT: case OP_COL_SINT: case OP_COL_BOOL: case OP_COL_CSTR:
        if (op[3] < 0 || (size_t)op[3] + 12 > p->nlits) bad = "column format";
        else if (op[0] == OP_COL_BOOL) end = (size_t)op[1] + 1;
        else if (op[0] == OP_COL_CSTR && (op[2] <= 0 || op[2] > COL_TEXT_MAX)) bad = "string column size";
        else if (op[0] != OP_COL_CSTR && op[2] != 1 && op[2] != 2 && op[2] != 4 && op[2] != 8) bad = "integer size";
        else end = (size_t)op[1] + (size_t)op[2];
        if (!bad && op[0] == OP_COL_CSTR && (size_t)op[2] * 4 > cell_max) cell_max = (size_t)op[2] * 4;
        break;
      case OP_LIT:
        if (op[1] < 0 || op[2] < 0 || (size_t)op[1] + (size_t)op[2] > p->nlits) bad = "literal out of range";
        break;
      case OP_UINT: case OP_SINT:
        if (op[2] != 1 && op[2] != 2 && op[2] != 4 && op[2] != 8) bad = "integer size";
        end = (size_t)op[1] + (size_t)op[2];
        break;
      case OP_BOOL: end = (size_t)op[1] + 1; break;
      case OP_CSTR: if (op[2] <= 0) bad = "string size"; end = (size_t)op[1] + (size_t)op[2]; break;
      case OP_WALL_U64: end = (size_t)op[1] + 8; break;
      case OP_JOINED: /* the array itself may be cut short by the record: only its start must be there */
        if (op[2] <= 0 || op[3] < 0 || (op[3] & 3) || !ig_joined_desc_size(p->lits + op[3], p->nlits - (size_t)op[3])) bad = "joined strings";
        else {
          /* the length and count members must be there too */
          uint32_t lo, co;
          memcpy(&lo, p->lits + op[3], 4);
          memcpy(&co, p->lits + op[3] + 4, 4);
          end = (size_t)op[1];
          if (lo != UINT32_MAX && (size_t)lo + 4 > end) end = (size_t)lo + 4;
          if (co != UINT32_MAX && (size_t)co + 4 > end) end = (size_t)co + 4;
        }
        break;
      case OP_COL_WALL_STR:
        if (op[3] < 0 || (size_t)op[3] + 12 > p->nlits) bad = "column format";
        __attribute__((fallthrough)); /* the same memo rules */
      case OP_WALL_STR:
        if (op[2] < 0 || (size_t)op[2] >= p->nmemos || p->memos[op[2]].nranges != 0) bad = "timestamp memo";
        else if (memo_used[op[2]]++) bad = "two ops share one memo";
        end = (size_t)op[1] + 8;
        break;
      case OP_ZERO_SPAN:
        if (op[2] <= 0 || op[2] > 65536 || op[3] < 0) bad = "zero span";
        end = (size_t)op[1] + (size_t)op[2];
        break;
      case OP_MEMO:
        if (op[1] < 0 || (size_t)op[1] >= p->nmemos) bad = "memo index";
        else if (p->memos[op[1]].nranges == 0) bad = "memo without a key";
        else if (memo_used[op[1]]++) bad = "two ops share one memo";
        break;
      default: bad = "unknown op";
    }
    if (op[0] != OP_LIT && op[0] != OP_MEMO && op[0] != OP_TRIM_END && op[1] < 0) bad = "negative offset";
    if (end > p->min_size) p->min_size = end;
  }
  free(memo_used);
  if (!bad && !(p->cell = malloc(cell_max + 16))) bad = "out of memory";
  if (!bad && joined_max && !(p->joined = malloc(joined_max + 1))) bad = "out of memory";
  if (!bad && !(p->scratch = malloc(p->scratch_len + 16))) bad = "out of memory";
  /* rops: each value with the literal before it */
  rop cur = {0};
  bool have_lit = false;
  size_t bound = 1; /* newline */
  for (size_t i = 0; !bad && i < nops; i++) {
    const int32_t *op = render_ops + i * 4;
    if (op[0] == OP_LIT) {
      if (have_lit && cur.lit_off + cur.lit_len != (uint32_t)op[1]) {
        bad = "adjacent literals are not contiguous";
        break;
      }
      if (!have_lit) cur.lit_off = (uint32_t)op[1];
      cur.lit_len += (uint32_t)op[2];
      have_lit = true;
      continue;
    }
    cur.kind = (uint32_t)op[0];
    switch (op[0]) {
      case OP_UINT: case OP_SINT: cur.off = (uint32_t)op[1]; cur.size = (uint32_t)op[2]; bound += 21; break;
      case OP_BOOL: cur.off = (uint32_t)op[1]; bound += 5; break;
      case OP_CSTR: cur.off = (uint32_t)op[1]; cur.size = (uint32_t)op[2]; bound += (size_t)op[2] * 6 + 2; break;
      case OP_WALL_U64: cur.off = (uint32_t)op[1]; bound += 20; break;
      case OP_JOINED:
        cur.off = (uint32_t)op[1];
        cur.size = (uint32_t)op[2];
        cur.limit = (uint32_t)op[3];
        bound += ig_joined_bound((size_t)op[2], p->lits + op[3]);
        break;
      case OP_WALL_STR: cur.off = (uint32_t)op[1]; cur.memo = (uint32_t)op[2]; bound += 11; break;
      case OP_MEMO: cur.memo = (uint32_t)op[1]; break;
      case OP_ZERO_SPAN:
        if (p->nzero == ZERO_SPANS_MAX) {
          bad = "too many zero spans";
          break;
        }
        cur.off = (uint32_t)op[1];
        cur.size = (uint32_t)op[2];
        cur.limit = (uint32_t)op[3]; /* value ops in the span */
        cur.memo = (uint32_t)p->nzero;
        p->zero_rops[p->nzero++] = (uint32_t)p->nrops;
        break;
      case OP_COL_JOINED: {
        uint32_t fmt[3];
        memcpy(fmt, p->lits + op[3], 12);
        cur.off = (uint32_t)op[1];
        cur.size = (uint32_t)op[2];
        cur.memo = (uint32_t)op[3] + 12; /* the descriptor */
        cur.width = fmt[0];
        cur.limit = fmt[1];
        cur.flags = fmt[2];
        if (cur.width > 4096) bad = "column width";
        bound += (size_t)op[2] * 4 + 3 + cur.width;
        break;
      }
      case OP_COL_UINT: case OP_COL_SINT: case OP_COL_BOOL: case OP_COL_CSTR: case OP_COL_WALL_STR: {
        uint32_t fmt[3];
        memcpy(fmt, p->lits + op[3], 12);
        cur.off = (uint32_t)op[1];
        cur.size = (uint32_t)op[2];
        cur.width = fmt[0];
        cur.limit = fmt[1];
        cur.flags = fmt[2];
        if (cur.width > 4096) bad = "column width";
        /* text (4 bytes per string byte at most: \xNN), an ellipsis, the padding */
        bound += (op[0] == OP_COL_CSTR ? (size_t)op[2] * 4 : 32) + 3 + cur.width;
        if (op[0] == OP_COL_WALL_STR) {
          cur.memo = (uint32_t)op[2];
          cur.size = 8;
          bound += 160; /* the timestamp text (next_second() keeps fragments under 128 bytes) */
        }
        break;
      }
    }
    bound += cur.lit_len;
    if (cur.kind == OP_MEMO || cur.kind == OP_WALL_STR || cur.kind == OP_COL_WALL_STR) p->memo_rops[p->nmemo_rops++] = (uint32_t)p->nrops;
    p->rops[p->nrops++] = cur;
    memset(&cur, 0, sizeof cur);
    have_lit = false;
  }
  /* zero spans: every value in one follows from the span's bytes alone (else its cached text could be wrong) */
  if (!bad && !(p->memo_span = malloc(p->nmemo_rops + 1))) bad = "out of memory";
  for (size_t k = 0; !bad && k < p->nmemo_rops; k++) p->memo_span[k] = -1;
  for (size_t j = 0; !bad && j < p->nzero; j++) {
    size_t at = p->zero_rops[j];
    rop *z = &p->rops[at];
    uint32_t lo = z->off, hi = z->off + z->size, nmemo = 0;
    if (at + z->limit >= p->nrops) bad = "zero span past the line";
    for (size_t i = at + 1; !bad && i <= at + z->limit; i++) {
      const rop *r = &p->rops[i];
      if (r->kind == OP_UINT || r->kind == OP_SINT || r->kind == OP_CSTR || r->kind == OP_BOOL) {
        uint32_t sz = r->kind == OP_BOOL ? 1 : r->size;
        if (r->off < lo || r->off + sz > hi) bad = "zero span: a value outside its bytes";
      } else if (r->kind == OP_MEMO) {
        const memo *m = &p->memos[r->memo];
        if (m->ttl_ns || !m->nranges || m->src) bad = "zero span: a memo with a TTL or a source";
        for (uint32_t q = 0; !bad && q < m->nranges; q++)
          if (m->ranges[q][0] < lo || m->ranges[q][0] + m->ranges[q][1] > hi) bad = "zero span: a memo keyed outside its bytes";
        for (size_t k = 0; !bad && k < p->nmemo_rops; k++)
          if (p->memo_rops[k] == i) p->memo_span[k] = (int8_t)j;
        nmemo++;
      } else {
        bad = "zero span: a value that does not follow from its bytes";
      }
    }
    z->width = nmemo;
  }
  /* the cache lines of a record that rendering reads: values, memo keys */
  for (size_t i = 0; !bad && i < p->nrops; i++) {
    const rop *r = &p->rops[i];
    uint32_t offs[MEMO_RANGES_MAX + 1];
    size_t n = 0;
    if (r->kind == OP_MEMO) {
      for (uint32_t j = 0; j < p->memos[r->memo].nranges; j++) offs[n++] = p->memos[r->memo].ranges[j][0];
    } else if (r->kind) {
      offs[n++] = r->off;
    }
    for (size_t j = 0; j < n; j++) {
      uint32_t line = offs[j] & ~63u;
      bool seen = false;
      for (size_t k = 0; k < p->nlines; k++) seen |= p->lines[k] == line;
      if (!seen && p->nlines < 16) p->lines[p->nlines++] = line;
    }
  }
  if (!bad) {
    bound += cur.lit_len;
    p->rops[p->nrops++] = cur; /* kind 0: the last literal */
    p->static_bound = bound;
  }
  free(ops);
  if (bad) {
    plan_free(p);
    return ig_throw_type(env, "render plan: %s", bad);
  }
  napi_value ext;
  if (napi_create_external(env, p, plan_finalize, NULL, &ext) != napi_ok) {
    plan_free(p);
    return ig_napi_fail(env, napi_generic_failure, "render plan handle");
  }
  return ext;
}

/* renderPlanMemoSet(plan, memo, key: Buffer, fragment: Buffer): queued; the render side stores it before its next
 * record (only that side touches the memos, so they need no lock). */
static napi_value js_plan_memo_set(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  int32_t m;
  void *key, *frag;
  size_t klen, flen;
  if (!p || !ig_arg_i32(env, argv[1], "memo", &m) || !ig_arg_bytes(env, argv[2], "key", &key, &klen) ||
      !ig_arg_bytes(env, argv[3], "fragment", &frag, &flen))
    return NULL;
  if (m < 0 || (size_t)m >= p->nmemos) return ig_throw_type(env, "memo %d out of range", m);
  if (klen > MEMO_KEY_MAX) return ig_throw_type(env, "memo key too long (%zu bytes)", klen);
  pending_set *ps = malloc(sizeof *ps + (flen ? flen : 1));
  if (!ps) return ig_throw_msg(env, "memo: out of memory");
  ps->next = NULL;
  ps->memo = (uint32_t)m;
  ps->gen = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
  ps->key_len = (uint32_t)klen;
  ps->frag_len = (uint32_t)flen;
  memcpy(ps->key, key, klen);
  memcpy(ps->frag, frag, flen);
  pthread_mutex_lock(&p->mu);
  if (p->pending_tail)
    p->pending_tail->next = ps;
  else
    p->pending = ps;
  p->pending_tail = ps;
  __atomic_add_fetch(&p->npending, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&p->mu);
  return ig_undefined(env);
}

/* renderPlanInvalidate(plan): forget every memo before the next record (what they depend on changed). */
static napi_value js_plan_invalidate(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  if (!p) return NULL;
  __atomic_add_fetch(&p->gen, 1, __ATOMIC_ACQ_REL);
  return ig_undefined(env);
}

/* renderPlanLines(plan): how many lines the plan has rendered (e.g. to tell a silent run from a busy one). */
static napi_value js_plan_lines(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  if (!p) return NULL;
  napi_value v;
  NAPI_TRY(env, napi_create_double(env, (double)__atomic_load_n(&p->lines_out, __ATOMIC_RELAXED), &v));
  return v;
}

#ifdef IG_TEST_HOOKS
/* renderPlanRender(plan, batch: Buffer, count, nowOffsetMs?) -> { out, missed: number[], refresh: number[] }: renders
 * a reader-layout batch on the calling thread, so that tests compare the plan with the JS encoder without a
 * kernel ring; nowOffsetMs moves the clock forward (TTL tests). Only in the test build (ig_native_test.node):
 * production code renders on reader threads only. */
static napi_value plan_render_result(napi_env env, ig_out *o, napi_value missed, napi_value refreshed) {
  napi_value res, out;
  napi_status st = napi_create_buffer_copy(env, o->len, o->p, NULL, &out);
  if (st != napi_ok) return ig_napi_fail(env, st, "napi_create_buffer_copy");
  NAPI_TRY(env, napi_create_object(env, &res));
  NAPI_TRY(env, napi_set_named_property(env, res, "out", out));
  NAPI_TRY(env, napi_set_named_property(env, res, "missed", missed));
  NAPI_TRY(env, napi_set_named_property(env, res, "refresh", refreshed));
  return res;
}

static napi_value plan_render_into(napi_env env, ig_plan *p, const uint8_t *data, size_t len, int32_t count,
                                   int64_t ahead_ms, ig_out *o) {
  napi_value missed, refreshed;
  NAPI_TRY(env, napi_create_array(env, &missed));
  NAPI_TRY(env, napi_create_array(env, &refreshed));
  uint32_t nmiss = 0, nref = 0;
  size_t off = 0;
  uint64_t now = ig_mono_ns() + (uint64_t)(ahead_ms > 0 ? ahead_ms : 0) * 1000000ull;
  for (int32_t i = 0; i < count && off + 8 <= len; i++) {
    uint32_t rl;
    memcpy(&rl, data + off, 4);
    if (off + 8 + rl > len) break;
    int rc = ig_plan_render(p, data + off + 8, rl, now, o);
    if (rc != IG_RENDER_OK) {
      napi_value idx;
      NAPI_TRY(env, napi_create_uint32(env, (uint32_t)i, &idx));
      if (rc == IG_RENDER_MISS)
        NAPI_TRY(env, napi_set_element(env, missed, nmiss++, idx));
      else
        NAPI_TRY(env, napi_set_element(env, refreshed, nref++, idx));
    }
    off += 8 + ((rl + 7) & ~7u);
  }
  return plan_render_result(env, o, missed, refreshed);
}

static napi_value js_plan_render(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  void *data;
  size_t len;
  int32_t count;
  int64_t ahead_ms = 0;
  if (!p || !ig_arg_bytes(env, argv[1], "batch", &data, &len) || !ig_arg_i32(env, argv[2], "count", &count)) return NULL;
  if (!ig_is_nullish(env, argv[3]) && !ig_arg_i64(env, argv[3], "nowOffsetMs", &ahead_ms)) return NULL;
  ig_out o;
  if (!ig_out_init(&o, -1, 1 << 16)) return ig_throw_msg(env, "render: out of memory");
  /* Every N-API failure returns through here: the output buffer is freed on all paths. */
  napi_value res = plan_render_into(env, p, data, len, count, ahead_ms, &o);
  ig_out_free(&o);
  return res;
}
#endif

bool ig_render_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "renderPlanNew", js_plan_new);
  IG_EXPORT(env, exports, "renderPlanMemoSet", js_plan_memo_set);
  IG_EXPORT(env, exports, "renderPlanInvalidate", js_plan_invalidate);
  IG_EXPORT(env, exports, "renderPlanLines", js_plan_lines);
  if (!ig_memo_source_register(env, exports)) return false;
#ifdef IG_TEST_HOOKS
  IG_EXPORT(env, exports, "renderPlanRender", js_plan_render);
#endif
  return true;
}
