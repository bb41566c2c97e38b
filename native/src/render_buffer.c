/* Render a received batch frame (src/datasource/codec.ts, docs/packet-format.md) with a render plan, on the JS
 * thread, without making a JS object per event: gadgetctl's -o json / -o columns of a remote run.
 *
 * The plan was compiled (src/service/frame-render.ts) for a "twin" record layout: the record bytes as the sender
 * laid them out (static fields at their offsets, zero-filled to the bytes the fields span), followed by one slot
 * per value-carried field (a NUL-terminated string, an integer of the field's size, a bool). This file decodes each
 * record's segments and its values into that layout and hands it to ig_plan_render: the plan needs no new op.
 *
 * A record whose value does not fit its slot (a string longer than a column cell may be, a number out of its
 * field's range, a value of an unexpected type) stops the render at that record: JS renders it from the decoded
 * batch and calls again for the rest, so the output is the same bytes in the same order. A frame that does not
 * parse renders nothing: JS decodes it and reports the error with its own message. */
#include "render_plan.h"
#include "joined_strings.h"

#include <stdlib.h>
#include <string.h>

/* Value tags (codec.ts Tag). */
enum { TAG_UNDEF = 0, TAG_NULL = 1, TAG_FALSE = 2, TAG_TRUE = 3, TAG_UINT = 4, TAG_NEGINT = 5, TAG_F64 = 6,
       TAG_BIGUINT = 7, TAG_BIGNEGINT = 8, TAG_STRING = 9, TAG_BYTES = 10, TAG_ARRAY = 11 };

/* Slot types of the layout (frame-render.ts SLOT). */
enum { SLOT_SKIP = 0, SLOT_STR = 1, SLOT_UINT = 2, SLOT_SINT = 3, SLOT_BOOL = 4 };

/* The longest twin record (record bytes plus slots); the layout is checked against it. */
#define MAX_TWIN_BYTES (64u << 20)
/* codec.ts MAX_DECODED_RECORD_BYTES: one record never spans more. */
#define MAX_RECORD_BYTES (512u << 20)

typedef struct {
  const uint8_t *p;
  size_t pos, end;
  bool bad;
} cur;

static uint64_t uvar(cur *c) {
  uint64_t v = 0;
  for (int k = 0; k < 8; k++) {
    if (c->pos >= c->end) { c->bad = true; return 0; }
    uint8_t b = c->p[c->pos++];
    v |= (uint64_t)(b & 0x7f) << (7 * k);
    if (!(b & 0x80)) {
      if (v > (1ull << 53) - 1) c->bad = true; /* the JS reader refuses integers past 2^53-1 */
      return v;
    }
  }
  c->bad = true;
  return 0;
}

/* A big integer (up to 21 LEB128 bytes as codec.ts reads); *fits: whether it fits in 64 bits. */
static uint64_t big_uvar(cur *c, bool *fits) {
  uint64_t v = 0;
  *fits = true;
  for (int k = 0; k < 21; k++) {
    if (c->pos >= c->end) { c->bad = true; return 0; }
    uint8_t b = c->p[c->pos++];
    uint64_t part = b & 0x7f;
    /* 64 bits: nine 7-bit groups and one bit of the tenth */
    if ((k == 9 && part > 1) || (k > 9 && part)) *fits = false;
    if (k <= 9 && *fits) v |= part << (7 * k);
    if (!(b & 0x80)) return v;
  }
  c->bad = true;
  return 0;
}

static void skip(cur *c, uint64_t n) {
  if (n > c->end - c->pos) { c->bad = true; return; }
  c->pos += n;
}

/* Skip one value (the structure check of the first pass). */
static void skip_value(cur *c, int depth) {
  if (c->pos >= c->end) { c->bad = true; return; }
  uint8_t tag = c->p[c->pos++];
  bool fits;
  switch (tag) {
    case TAG_UNDEF: case TAG_NULL: case TAG_FALSE: case TAG_TRUE: return;
    case TAG_UINT: case TAG_NEGINT: uvar(c); return;
    case TAG_F64: skip(c, 8); return;
    case TAG_BIGUINT: case TAG_BIGNEGINT: big_uvar(c, &fits); return;
    case TAG_STRING: case TAG_BYTES: { uint64_t n = uvar(c); if (!c->bad) skip(c, n); return; }
    case TAG_ARRAY: {
      if (depth > 0) { c->bad = true; return; }
      uint64_t n = uvar(c);
      if (n > c->end - c->pos) { c->bad = true; return; }
      for (uint64_t k = 0; k < n && !c->bad; k++) skip_value(c, 1);
      return;
    }
    default: c->bad = true;
  }
}

/* skip_value(c, 0) with the common values inline: a tag alone, a one-byte integer, a string shorter than 128 bytes
 * (a storm's values are nearly all one of these; 24 per trace_open record, walked twice). */
static inline void next_value(cur *c) {
  size_t at = c->pos;
  if (c->end - at >= 2) {
    uint8_t tag = c->p[at], b = c->p[at + 1];
    if (tag <= TAG_TRUE) { c->pos = at + 1; return; }
    if (!(b & 0x80)) {
      if (tag == TAG_UINT || tag == TAG_NEGINT) { c->pos = at + 2; return; }
      if ((tag == TAG_STRING || tag == TAG_BYTES) && b <= c->end - at - 2) { c->pos = at + 2 + b; return; }
    }
  }
  skip_value(c, 0);
}

/* One value into its slot; false when it has no slot form (the record goes to JS). */
static bool put_value(cur *c, uint8_t *slot, int32_t type, uint32_t size) {
  if (type == SLOT_SKIP) { skip_value(c, 0); return true; }
  uint8_t tag = c->p[c->pos++]; /* bounds checked by the first pass */
  bool fits = true;
  uint64_t u = 0;
  bool neg = false;
  switch (tag) {
    case TAG_UNDEF: case TAG_NULL:
      if (type != SLOT_STR) return false; /* 0 in JSON but an empty cell in columns: left to JS */
      slot[0] = 0;
      return true;
    case TAG_FALSE: case TAG_TRUE:
      if (type != SLOT_BOOL) return false;
      slot[0] = tag == TAG_TRUE;
      return true;
    case TAG_UINT: u = uvar(c); break;
    case TAG_NEGINT: u = uvar(c); neg = u != 0; break;
    case TAG_BIGUINT: u = big_uvar(c, &fits); break;
    case TAG_BIGNEGINT: u = big_uvar(c, &fits); neg = u != 0; break;
    case TAG_STRING: {
      uint64_t n = uvar(c);
      if (type != SLOT_STR || n >= size) return false;
      const uint8_t *s = c->p + c->pos;
      c->pos += n;
      if (memchr(s, 0, n)) return false; /* a NUL would end the C string early */
      memcpy(slot, s, n);
      slot[n] = 0;
      return true;
    }
    default: return false; /* F64, bytes, arrays: no slot holds them */
  }
  if (!fits) return false;
  if (type == SLOT_UINT) {
    if (neg || (size < 8 && u >> (8 * size))) return false;
  } else if (type == SLOT_SINT) {
    uint64_t lim = size >= 8 ? (1ull << 63) : (1ull << (8 * size - 1)); /* |min|; max is lim - 1 */
    if (neg ? u > lim : u >= lim) return false;
    if (neg) u = (uint64_t)(-(int64_t)(u - 1) - 1);
  } else {
    return false;
  }
  memcpy(slot, &u, size); /* little-endian: the low `size` bytes */
  return true;
}

/* Scratch of make_piece: one slot's value, and its JSON text (put_cstr's bound for a 4096-byte slot). */
static __thread uint8_t t_slot[4096 + 8];
static __thread uint8_t t_text[4096 * 6 + 2];

/* The piece of value `val` (bound with ig_plan_bind_pieces) from the encoded value at c (its bytes [c->pos, end)):
 * the text the plan's op would render from the slot put_value fills. False: no slot form (the record goes to JS). */
static bool make_piece(cur *c, size_t end, ig_pieces *pcs, uint32_t val, int32_t type, uint32_t size) {
  size_t v0 = c->pos;
  if (type == SLOT_STR && c->p[v0] == TAG_STRING) {
    /* a string (a timestamp changes every record): quoted straight from the frame into the piece; the checks of
     * put_value's (shorter than the slot, no NUL) */
    c->pos++;
    uint64_t n = uvar(c);
    if (c->bad || n >= size || n > c->end - c->pos) return false;
    const uint8_t *str = c->p + c->pos;
    if (memchr(str, 0, n)) return false;
    uint8_t *t = ig_pieces_text_room(pcs, val, n * 6 + 2);
    if (!t) return false;
    uint8_t *e = ig_json_quote(t, str, n);
    c->pos += n;
    return ig_pieces_commit(pcs, val, c->p + v0, end - v0, (size_t)(e - t));
  }
  if (size > sizeof t_slot - 8 || !put_value(c, t_slot, type, size)) return false;
  size_t n;
  switch (type) {
    case SLOT_STR: {
      t_text[0] = '"';
      uint8_t *e = ig_json_escape(t_text + 1, t_slot, strlen((const char *)t_slot));
      *e++ = '"';
      n = (size_t)(e - t_text);
      break;
    }
    case SLOT_UINT: {
      uint64_t u = 0;
      memcpy(&u, t_slot, size);
      n = ig_dec_u64(t_text, u);
      break;
    }
    case SLOT_SINT: {
      uint64_t u = 0;
      memcpy(&u, t_slot, size);
      if (size < 8 && (u >> (8 * size - 1)) & 1) u |= ~0ull << (8 * size); /* sign-extend */
      n = ig_dec_i64(t_text, (int64_t)u);
      break;
    }
    case SLOT_BOOL:
      n = t_slot[0] ? 4 : 5;
      memcpy(t_text, t_slot[0] ? "true" : "false", n);
      break;
    default: return false;
  }
  return ig_pieces_set(pcs, val, c->p + v0, end - v0, t_text, n);
}

/* Value j's piece from the encoded value at `at`: made again only when its bytes differ from the last value's.
 * *after: the position after the value. False: the value has no slot form (the record goes to JS). */
static bool refresh_piece(const uint8_t *p, size_t at, size_t end, ig_pieces *pcs, ig_piece *pv, uint32_t j, const int32_t *s, size_t *after) {
  cur vc = {.p = p, .pos = at, .end = end};
  next_value(&vc);
  *after = vc.pos;
  if (ig_piece_same(&pv[j], p + at, vc.pos - at)) return true;
  cur tc = {.p = p, .pos = at, .end = vc.pos};
  return make_piece(&tc, vc.pos, pcs, j, s[1], (uint32_t)s[2]);
}

/* Per-thread scratch kept between calls: the twin record, and the lines of a frame. */
static __thread uint8_t *t_twin;
static __thread size_t t_twin_cap;
static __thread ig_out t_out;
static __thread bool t_out_init;

/* OUT_KEEP: output capacity kept between frames (a larger one, after an unusually long frame, is given back). */
#define OUT_KEEP (4u << 20)

static bool twin_room(size_t n) {
  if (!n) n = 1;
  if (n <= t_twin_cap) return true;
  uint8_t *p = realloc(t_twin, n);
  if (!p) return false;
  t_twin = p;
  t_twin_cap = n;
  return true;
}

static bool out_ready(void) {
  if (!t_out_init) {
    if (!ig_out_init(&t_out, -1, 1u << 20)) return false;
    t_out_init = true;
  }
  t_out.len = 0;
  return true;
}

static void out_trim(void) {
  t_out.len = 0;
  if (t_out.cap > OUT_KEEP) {
    ig_out_free(&t_out);
    t_out_init = false;
  }
}

typedef struct {
  uint32_t rec_bytes;  /* record bytes static fields span (codec recordBytes) */
  uint32_t twin_size;  /* record bytes + slots */
  uint32_t nvals;
  const int32_t *vals; /* (slot offset, slot type, slot size) per value field */
} layout;

static bool layout_arg(napi_env env, napi_value v, layout *l) {
  napi_typedarray_type t;
  size_t len;
  void *data;
  napi_value ab;
  size_t boff;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return ig_throw_msg(env, "renderBatchFrame: layout must be an Int32Array"), false;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &boff) != napi_ok || t != napi_int32_array || len < 2) return ig_throw_msg(env, "renderBatchFrame: layout must be an Int32Array"), false;
  const int32_t *w = data;
  if (w[0] < 0 || w[1] < 0 || len != 2 + 3 * (size_t)w[1]) return ig_throw_msg(env, "renderBatchFrame: bad layout length"), false;
  l->rec_bytes = (uint32_t)w[0];
  l->nvals = (uint32_t)w[1];
  l->vals = w + 2;
  uint64_t top = l->rec_bytes;
  for (uint32_t j = 0; j < l->nvals; j++) {
    int32_t off = l->vals[3 * j], type = l->vals[3 * j + 1], size = l->vals[3 * j + 2];
    if (type < SLOT_SKIP || type > SLOT_BOOL) return ig_throw_msg(env, "renderBatchFrame: slot %u: unknown type %d", j, type), false;
    if (type == SLOT_SKIP) continue;
    bool ok = off >= (int32_t)l->rec_bytes && size > 0 &&
              (type == SLOT_STR || (type == SLOT_BOOL ? size == 1 : (size == 1 || size == 2 || size == 4 || size == 8)));
    if (!ok) return ig_throw_msg(env, "renderBatchFrame: slot %u: bad offset or size", j), false;
    if ((uint64_t)off + (uint64_t)size > top) top = (uint64_t)off + (uint64_t)size;
  }
  if (top > MAX_TWIN_BYTES) return ig_throw_msg(env, "renderBatchFrame: layout of %llu bytes", (unsigned long long)top), false;
  l->twin_size = (uint32_t)top;
  return true;
}

/* Decode the segments of one record into rec[0, rec_bytes) (bytes past it are not read by any field). */
static bool put_record(cur *c, uint8_t *rec, uint32_t rec_bytes, uint64_t span) {
  uint64_t at = 0;
  memset(rec, 0, rec_bytes);
  for (;;) {
    uint64_t lit = uvar(c);
    if (c->bad || lit > span - at || lit > c->end - c->pos) return false;
    if (at < rec_bytes) memcpy(rec + at, c->p + c->pos, (size_t)(lit < rec_bytes - at ? lit : rec_bytes - at));
    c->pos += lit;
    at += lit;
    uint64_t zeros = uvar(c);
    if (c->bad) return false;
    if (zeros == 0) return true;
    if (zeros > span - at) return false;
    at += zeros;
  }
}

/* Whether a record's segments add up (pass 1: a frame is checked whole before any of its lines is written). */
static bool check_record(const uint8_t *p, size_t pos, size_t end, uint64_t span) {
  cur c = {.p = p, .pos = pos, .end = end};
  uint64_t at = 0;
  for (;;) {
    uint64_t lit = uvar(&c);
    if (c.bad || lit > span - at || lit > c.end - c.pos) return false;
    c.pos += lit;
    at += lit;
    uint64_t zeros = uvar(&c);
    if (c.bad) return false;
    if (zeros == 0) return c.pos == end;
    if (zeros > span - at) return false;
    at += zeros;
  }
}

/* renderBatchFrame(plan, layout: Int32Array, frame: Buffer, start, end, state: Int32Array[3], out: Buffer | fd)
 * -> number | Buffer | undefined: the lines of records state[0].. of the batch frame body frame[start, end) (after
 * the 8-byte header), written to `out` (their byte count returned) or, when longer than `out`, returned as a
 * Buffer; with an fd, written to it (0 returned, or -errno of a failed write: the lines after it are dropped). Sets state[1] to the record it stopped at (the count when done) and state[2] to the record count;
 * undefined when the frame does not parse (nothing rendered). */
static napi_value js_render_batch_frame(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!ig_args(env, info, 7, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  if (!p) return NULL;
  layout l;
  if (!layout_arg(env, argv[1], &l)) return NULL;
  void *data;
  size_t len;
  int32_t start, end;
  if (!ig_arg_bytes(env, argv[2], "frame", &data, &len) || !ig_arg_i32(env, argv[3], "start", &start) ||
      !ig_arg_i32(env, argv[4], "end", &end))
    return NULL;
  if (start < 0 || end < start || (size_t)end > len) return ig_throw_msg(env, "renderBatchFrame: range out of the buffer");
  napi_typedarray_type st;
  size_t slen;
  void *sdata;
  napi_value sab;
  size_t sboff;
  bool is;
  if (napi_is_typedarray(env, argv[5], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[5], &st, &slen, &sdata, &sab, &sboff) != napi_ok || st != napi_int32_array || slen < 3)
    return ig_throw_msg(env, "renderBatchFrame: state must be an Int32Array of 3");
  int32_t *state = sdata;
  /* `out`: a Buffer to copy the lines into, or a file descriptor to write them to as they are rendered (gadgetctl's
   * stdout: no copy into JS, no Buffer of their own for a frame's lines longer than the Buffer). */
  void *dst = NULL;
  size_t dst_len = 0;
  int32_t fd = -1;
  napi_valuetype ot;
  NAPI_TRY(env, napi_typeof(env, argv[6], &ot));
  if (ot == napi_number) {
    if (!ig_arg_i32(env, argv[6], "fd", &fd)) return NULL;
    if (fd < 0) return ig_throw_msg(env, "renderBatchFrame: fd %d", fd);
  } else if (!ig_arg_bytes(env, argv[6], "out", &dst, &dst_len)) {
    return NULL;
  }
  int64_t from = state[0];
  state[1] = -1;
  state[2] = 0;

  /* Pass 1: the structure (records, then every value), so that a bad frame renders nothing. */
  cur c = {.p = data, .pos = (size_t)start, .end = (size_t)end};
  uvar(&c); /* data source number: the caller picked the plan for it */
  uint64_t n = uvar(&c);
  if (c.bad || n > (c.end - c.pos) / 6) return ig_undefined(env);
  size_t rec_at = c.pos;
  uint64_t total = 0;
  for (uint64_t k = 0; k < n; k++) {
    uint64_t rl = uvar(&c);
    if (c.bad || c.end - c.pos < 4) return ig_undefined(env);
    uint32_t enc;
    memcpy(&enc, c.p + c.pos, 4);
    c.pos += 4;
    size_t rstart = c.pos;
    skip(&c, enc);
    uint64_t span = rl > l.rec_bytes ? rl : l.rec_bytes;
    total += span;
    if (c.bad || total > MAX_RECORD_BYTES || !check_record(c.p, rstart, c.pos, span)) return ig_undefined(env);
  }
  ig_pieces *pcs = ig_plan_pieces(p);
  if (pcs && ig_pieces_nvals(pcs) != l.nvals) pcs = NULL; /* bound for another layout: the slots are filled */
  ig_piece *pv = pcs ? ig_pieces_all(pcs) : NULL;
  size_t *col = malloc(sizeof *col * (l.nvals ? l.nvals : 1));
  /* same[j]: every record of the frame has the same value j (with pieces bound: most of a storm's columns) */
  uint8_t *same = calloc(l.nvals ? l.nvals : 1, 1);
  if (!col || !same) {
    free(col);
    free(same);
    return ig_throw_msg(env, "renderBatchFrame: out of memory");
  }
  for (uint32_t j = 0; j < l.nvals; j++) {
    col[j] = c.pos;
    uint64_t k = 0;
    if (pv && n > 1) {
      /* n copies of the first value are one periodic span: one memcmp checks them all (and their structure) */
      next_value(&c);
      k = 1;
      size_t v0 = col[j], len = c.pos - v0;
      if (!c.bad && len && len <= (c.end - v0) / n && memcmp(c.p + v0 + len, c.p + v0, (size_t)(n - 1) * len) == 0) {
        same[j] = 1;
        c.pos = v0 + (size_t)n * len;
        continue;
      }
    }
    for (; k < n && !c.bad; k++) next_value(&c);
  }
  if (c.bad || c.pos != c.end) {
    free(col);
    free(same);
    return ig_undefined(env);
  }

  /* Pass 2: each record into the twin layout, then the plan. The twin record and the output buffer are kept from
   * call to call (per thread): allocated per frame they were fresh pages every time (page faults, zeroing) for
   * the ~100 KiB a twin with string slots takes and the line bound the plan reserves. */
  if (!twin_room(l.twin_size) || !out_ready()) {
    free(col);
    free(same);
    return ig_throw_msg(env, "renderBatchFrame: out of memory");
  }
  uint8_t *rec = t_twin;
  ig_out *op = &t_out;
  /* a column of one value: its piece made, or its slot filled, once for the frame (one that does not fit is left
   * to the per-record path, which hands each record to JS) */
  for (uint32_t j = 0; j < l.nvals; j++) {
    if (!same[j]) continue;
    const int32_t *s = l.vals + 3 * j;
    cur vc = {.p = c.p, .pos = col[j], .end = c.end};
    size_t after;
    if (ig_pieces_has(pv, j)) {
      if (!refresh_piece(c.p, col[j], c.end, pcs, pv, j, s, &after)) same[j] = 0;
    } else if (!put_value(&vc, rec + s[0], s[1], (uint32_t)s[2])) {
      same[j] = 0;
    }
  }
  op->fd = fd; /* -1: kept in the buffer until the end */
  atomic_store(&op->error, 0);
  uint64_t now = ig_mono_ns();
  c.pos = rec_at;
  int64_t stop = (int64_t)n;
  for (uint64_t k = 0; k < n; k++) {
    uint64_t rl = uvar(&c);
    uint32_t enc;
    memcpy(&enc, c.p + c.pos, 4);
    c.pos += 4;
    size_t next = c.pos + enc;
    bool render = (int64_t)k >= from;
    bool ok = true;
    if (render) {
      cur rc = {.p = c.p, .pos = c.pos, .end = next};
      ok = put_record(&rc, rec, l.rec_bytes, rl > l.rec_bytes ? rl : l.rec_bytes) && rc.pos == next;
      if (!ok) { stop = -1; break; } /* segments that do not add up: JS says what is wrong */
    }
    c.pos = next;
    for (uint32_t j = 0; j < l.nvals; j++) {
      if (same[j]) continue;
      cur vc = {.p = c.p, .pos = col[j], .end = c.end};
      const int32_t *s = l.vals + 3 * j;
      if (render && ok && pv && ig_pieces_has(pv, j)) {
        if (!refresh_piece(c.p, col[j], c.end, pcs, pv, j, s, &col[j])) ok = false;
        continue;
      }
      /* put_value leaves the cursor after the value it took; one it refused is skipped from its start */
      if (!render || !ok || !put_value(&vc, rec + s[0], s[1], (uint32_t)s[2])) {
        if (render) ok = false;
        vc.pos = col[j];
        skip_value(&vc, 0);
      }
      col[j] = vc.pos;
    }
    if (!render) continue;
    if (!ok || ig_plan_render_delta(p, rec, l.twin_size, now, op) != IG_RENDER_OK) {
      stop = (int64_t)k;
      break;
    }
  }
  free(col);
  free(same);
  if (fd >= 0) {
    /* Written so far stays written (lines are whole); a frame that stops parsing midway renders its start. */
    ig_out_flush(op);
    int err = ig_out_error(op);
    op->fd = -1;
    out_trim();
    if (stop < 0) return ig_undefined(env);
    state[1] = (int32_t)stop;
    state[2] = (int32_t)n;
    napi_value res;
    NAPI_TRY(env, napi_create_int32(env, err ? -err : 0, &res));
    return res;
  }
  if (stop < 0) return ig_undefined(env);
  state[1] = (int32_t)stop;
  state[2] = (int32_t)n;
  /* Into the caller's buffer when the lines fit (no allocation per frame: a fresh Buffer of a few hundred KiB
   * was new pages every time), else a Buffer of their own. */
  napi_value out;
  napi_status s;
  if (op->len <= dst_len) {
    memcpy(dst, op->p, op->len);
    s = napi_create_double(env, (double)op->len, &out);
  } else {
    s = napi_create_buffer_copy(env, op->len, op->p, NULL, &out);
  }
  out_trim();
  if (s != napi_ok) return ig_napi_fail(env, s, "renderBatchFrame result");
  return out;
}

/* renderPlanBindPieces(plan, layout: Int32Array) -> number: the values of the twin layout the plan renders from
 * pieces from now on (ig_plan_bind_pieces; 0 when none, or bound already). */
static napi_value js_plan_bind_pieces(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  if (!p) return NULL;
  layout l;
  if (!layout_arg(env, argv[1], &l)) return NULL;
  int n = ig_plan_bind_pieces(p, l.vals, l.nvals);
  if (n < 0) return ig_throw_msg(env, "renderPlanBindPieces: out of memory");
  napi_value res;
  NAPI_TRY(env, napi_create_int32(env, n, &res));
  return res;
}

/* renderPlanBindDelta(plan) -> boolean: the plan (bound to pieces) renders each line from the last one, rendering
 * only the values that changed (ig_plan_bind_delta; false: not a plan it can do that for). */
static napi_value js_plan_bind_delta(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  if (!p) return NULL;
  napi_value res;
  NAPI_TRY(env, napi_get_boolean(env, ig_plan_bind_delta(p), &res));
  return res;
}

bool ig_render_buffer_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "renderBatchFrame", js_render_batch_frame);
  IG_EXPORT(env, exports, "renderPlanBindPieces", js_plan_bind_pieces);
  IG_EXPORT(env, exports, "renderPlanBindDelta", js_plan_bind_delta);
  return true;
}
