/* Joined strings on the reader thread.
 *
 * trace_exec's eBPF program sends the exec arguments NUL-separated in one char array (`args`, of which `args_size`
 * bytes are used; `args_count` arguments, maybe one more than captured); its WASM module joins them with U+00A0
 * and writes the result back. Running the module needs the JS thread, so the gadget declares what the module does
 * (gadget.yaml annotations `strings.joined.*`, native-plan.ts) and this op does the same on the record bytes:
 *   - the parts are the NUL-terminated strings in the first min(length field, array size, record) bytes;
 *   - at most `count` parts (the count field), parts are added while the joined text stays within `cap` bytes
 *     (the separator counted as its UTF-8 bytes), exactly as the module's loop;
 *   - each part's bytes are decoded as UTF-8 (U+FFFD for broken sequences) and JSON-escaped.
 * The test that compares this with the module on real exec events is gadgets/trace_exec/test. */
#include "joined_strings.h"

#include <stdbool.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

size_t ig_joined_desc_size(const uint8_t *desc, size_t avail) {
  if (avail < IG_JOINED_DESC_FIXED) return 0;
  size_t sep_len = rd32(desc + 16);
  if (sep_len > 64 || IG_JOINED_DESC_FIXED + sep_len > avail) return 0;
  return IG_JOINED_DESC_FIXED + sep_len;
}

size_t ig_joined_bound(size_t size, const uint8_t *desc) {
  size_t sep_len = rd32(desc + 16);
  /* every byte escaped as \u00XX at worst, a separator per byte at most */
  return 2 + size * 6 + size * sep_len;
}

/* Each part (bytes [start, start + len) of the array) that the module's loop keeps, in order; stops when cb does. */
typedef void (*part_fn)(void *ctx, const uint8_t *part, size_t len, bool first);

static void each_part(const uint8_t *rec, size_t rec_size, uint32_t off, uint32_t size, const uint8_t *desc, part_fn cb, void *ctx) {
  uint32_t len_off = rd32(desc), count_off = rd32(desc + 4), cap = rd32(desc + 8), sep_raw = rd32(desc + 12);
  size_t n = rec_size > off ? rec_size - off : 0;
  if (n > size) n = size;
  if (len_off != UINT32_MAX) {
    uint32_t used = rd32(rec + len_off);
    if (used < n) n = used;
  }
  int64_t count = INT64_MAX;
  if (count_off != UINT32_MAX) {
    int32_t c;
    memcpy(&c, rec + count_off, 4);
    count = c;
  }
  const uint8_t *s = rec + off;
  size_t joined = 0, start = 0;
  int64_t seen = 0;
  while (start < n && seen < count) {
    const uint8_t *nul = memchr(s + start, 0, n - start);
    if (!nul) break; /* an unterminated last part is not an argument */
    size_t len = (size_t)(nul - (s + start));
    size_t need = (seen ? sep_raw : 0) + len;
    if (joined + need > cap) break;
    cb(ctx, s + start, len, seen == 0);
    joined += need;
    seen++;
    start += len + 1;
  }
}

typedef struct {
  uint8_t *w;
  const uint8_t *sep;
  size_t sep_len;
} raw_ctx;

static void raw_part(void *ctx, const uint8_t *part, size_t len, bool first) {
  raw_ctx *c = ctx;
  if (!first) {
    memcpy(c->w, c->sep, c->sep_len);
    c->w += c->sep_len;
  }
  memcpy(c->w, part, len);
  c->w += len;
}

size_t ig_joined_raw(uint8_t *out, const uint8_t *rec, size_t rec_size, uint32_t off, uint32_t size, const uint8_t *desc) {
  /* the separator is counted as sep_raw bytes against the cap: with its raw bytes written, the text stays within
   * cap (size - 1) and the NUL fits */
  raw_ctx c = {out, desc + IG_JOINED_DESC_FIXED, rd32(desc + 16)};
  each_part(rec, rec_size, off, size, desc, raw_part, &c);
  *c.w = 0;
  return (size_t)(c.w - out);
}

static void json_part(void *ctx, const uint8_t *part, size_t len, bool first) {
  raw_ctx *c = ctx;
  if (!first) {
    memcpy(c->w, c->sep, c->sep_len);
    c->w += c->sep_len;
  }
  c->w = ig_json_escape(c->w, part, len);
}

/* The same walk as ig_joined_raw, each part JSON-escaped (each_part and its callback are static: -O2 inlines both). */
uint8_t *ig_put_joined(uint8_t *w, const uint8_t *rec, size_t rec_size, uint32_t off, uint32_t size, const uint8_t *desc) {
  raw_ctx c = {w, desc + IG_JOINED_DESC_FIXED, rd32(desc + 16)};
  *c.w++ = '"';
  each_part(rec, rec_size, off, size, desc, json_part, &c);
  *c.w++ = '"';
  return c.w;
}
