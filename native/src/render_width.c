/* Terminal widths of column cells with non-ASCII text, byte-identical to columns.ts (string-width over the
 * grapheme clusters of Intl.Segmenter), for the render plan's string cells.
 *
 * string-width gives a grapheme the width of its first code point alone (0 for controls, combining marks and
 * default-ignorables, 2 for emoji and East Asian Wide/Fullwidth, else 1), unless an emoji sequence makes it 2.
 * render_width_table.h (generated from string-width and the Segmenter by scripts/gen-width-table.mjs) says, per
 * code point, that width and whether the code point always continues the grapheme before it (Extend,
 * SpacingMark). Code points whose grouping or width depends on their neighbours (Hangul jamo, regional
 * indicators, ZWJ, variation selectors, emoji modifiers, keycaps, Indic conjunct linkers, Prepend, grapheme
 * controls) are not handled here: the record goes to JS, which renders it in order. JS trimEnd()s each row,
 * which strips non-ASCII white space too: the row's trim does the same (ig_trim_js_end). */
#include "render_width.h"
#include "bytes.h"

#include <stdlib.h>
#include <string.h>

#include "render_width_table.h"

enum { CLS_NORMAL = 0, CLS_JOIN = 1, CLS_MISS = 2 };

int ig_width_class(uint32_t cp, int *width) {
  size_t lo = 0, hi = sizeof(ig_width_ranges) / sizeof(ig_width_ranges[0]);
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < ig_width_ranges[mid].lo) hi = mid;
    else if (cp > ig_width_ranges[mid].hi) lo = mid + 1;
    else {
      *width = ig_width_ranges[mid].width;
      return ig_width_ranges[mid].cls;
    }
  }
  *width = 1;
  return CLS_MISS; /* surrogates: never decoded from UTF-8 */
}

/* One step of the WHATWG UTF-8 decoder (Buffer#toString('utf8')): the length of a valid sequence (*cp set) or of
 * the maximal subpart that becomes one U+FFFD (*cp = 0xFFFD). s[0] is not ASCII. */
static inline size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
  bool valid;
  return ig_utf8_next(s, n, cp, &valid);
}

/* White space that String#trimEnd() strips beyond ASCII (U+2028/9 are escaped before this). */
static bool js_space(uint32_t cp) {
  return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

uint8_t *ig_trim_js_end(uint8_t *start, uint8_t *end) {
  while (end > start) {
    if (end[-1] == ' ') {
      end--;
      continue;
    }
    /* UTF-8 is self-synchronising: a lead byte found k bytes back with k-1 continuations is that character */
    size_t k = end - start >= 3 && (end[-3] & 0xf0) == 0xe0 ? 3 : end - start >= 2 && (end[-2] & 0xe0) == 0xc0 ? 2 : 0;
    if (!k) break;
    uint32_t cp = 0;
    bool valid;
    if (ig_utf8_next(end - k, k, &cp, &valid) != k || !valid || !js_space(cp)) break;
    end -= k;
  }
  return end;
}

typedef struct {
  uint32_t off, len; /* bytes of the cell text */
  uint32_t width;
} grapheme;

/* Per-thread scratch (one render plan renders on one thread at a time; the buffers only grow). */
static __thread uint8_t *text_buf;
static __thread size_t text_cap;
static __thread grapheme *g_buf;
static __thread size_t g_cap;

static bool reserve(size_t max) {
  size_t tb = 4 * max + 16, gb = 4 * max + 16;
  if (tb > text_cap) {
    uint8_t *p = realloc(text_buf, tb);
    if (!p) return false;
    text_buf = p;
    text_cap = tb;
  }
  if (gb > g_cap) {
    grapheme *p = realloc(g_buf, gb * sizeof(grapheme));
    if (!p) return false;
    g_buf = p;
    g_cap = gb;
  }
  return true;
}

static const char HEX[] = "0123456789abcdef";

/* Append one code point's text as a grapheme of its own, or as part of the last one. */
static inline void add(uint8_t *t, size_t *tn, grapheme *g, size_t *ng, const uint8_t *bytes, size_t len, uint32_t width, bool join) {
  memcpy(t + *tn, bytes, len);
  if (join && *ng > 0) {
    g[*ng - 1].len += (uint32_t)len;
  } else {
    g[*ng] = (grapheme){(uint32_t)*tn, (uint32_t)len, width};
    (*ng)++;
  }
  *tn += len;
}

/* An escape (ASCII, one cell per character). */
static inline void add_ascii(uint8_t *t, size_t *tn, grapheme *g, size_t *ng, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) add(t, tn, g, ng, (const uint8_t *)s + i, 1, 1, false);
}

/* columns.ts takeCells(): how many graphemes from the start (or the end) fit in w cells; *used gets their width. */
static size_t take(const grapheme *g, size_t ng, size_t w, bool from_end, size_t *used) {
  size_t u = 0, n = 0;
  for (; n < ng; n++) {
    size_t cw = g[from_end ? ng - 1 - n : n].width;
    if (u + cw > w) break;
    u += cw;
  }
  *used = u;
  return n;
}

static inline uint8_t *put(uint8_t *w, const uint8_t *t, const grapheme *g, size_t from, size_t n) {
  if (n == 0) return w;
  size_t a = g[from].off, b = g[from + n - 1].off + g[from + n - 1].len;
  memcpy(w, t + a, b - a);
  return w + (b - a);
}

uint8_t *ig_width_cell(uint8_t *w, const uint8_t *s, size_t max, size_t width, size_t limit, bool right, bool last, int ell) {
  if (!reserve(max)) return NULL;
  uint8_t *t = text_buf;
  grapheme *g = g_buf;
  size_t tn = 0, ng = 0, total = 0;
  for (size_t i = 0; i < max && s[i];) {
    uint8_t c = s[i];
    if (c >= 0x20 && c < 0x7f) {
      add(t, &tn, g, &ng, s + i, 1, 1, false);
      i++;
      continue;
    }
    char esc[8];
    if (c < 0x80) { /* escapeControls(): \n \r \t \e, else \xHH */
      char named = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == 0x1b ? 'e' : 0;
      esc[0] = '\\';
      if (named) {
        esc[1] = named;
        add_ascii(t, &tn, g, &ng, esc, 2);
      } else {
        esc[1] = 'x';
        esc[2] = HEX[c >> 4];
        esc[3] = HEX[c & 15];
        add_ascii(t, &tn, g, &ng, esc, 4);
      }
      i++;
      continue;
    }
    uint32_t cp;
    size_t k = utf8_decode(s + i, max - i, &cp);
    if (cp <= 0x9f) { /* C1 controls */
      esc[0] = '\\';
      esc[1] = 'x';
      esc[2] = HEX[cp >> 4];
      esc[3] = HEX[cp & 15];
      add_ascii(t, &tn, g, &ng, esc, 4);
    } else if (cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
      esc[0] = '\\';
      esc[1] = 'u';
      for (int d = 0; d < 4; d++) esc[2 + d] = HEX[(cp >> (12 - 4 * d)) & 15];
      add_ascii(t, &tn, g, &ng, esc, 6);
    } else {
      int cw;
      int cls = ig_width_class(cp, &cw);
      /* non-ASCII white space is a character of its own (the row's trim, ig_trim_js_end, strips it at the end) */
      if (cls == CLS_MISS) return NULL;
      if (cp == 0xFFFD) add(t, &tn, g, &ng, (const uint8_t *)"\xEF\xBF\xBD", 3, (uint32_t)cw, cls == CLS_JOIN);
      else add(t, &tn, g, &ng, s + i, k, (uint32_t)cw, cls == CLS_JOIN);
    }
    i += k;
  }
  for (size_t j = 0; j < ng; j++) total += g[j].width;

  /* fit(): cut to the limit with the ellipsis (one cell, "…"), then pad to the width. What is kept: the first
   * `head` graphemes, the ellipsis or not, the last `tail` graphemes. */
  if (!limit) limit = last ? SIZE_MAX : width;
  size_t head = ng, tail = 0, cw = total, u1 = 0, u2 = 0;
  bool dots = false;
  if (total > limit) {
    if (ell == IG_ELL_NONE || limit < 2) {
      head = take(g, ng, limit, false, &u1);
    } else if (ell == IG_ELL_START) {
      head = 0;
      tail = take(g, ng, limit - 1, true, &u2);
      dots = true;
    } else if (ell == IG_ELL_MIDDLE) {
      size_t h = (limit - 1) / 2;
      head = take(g, ng, h, false, &u1);
      tail = take(g, ng, limit - 1 - h, true, &u2);
      dots = true;
    } else {
      head = take(g, ng, limit - 1, false, &u1);
      dots = true;
    }
    cw = u1 + u2 + (dots ? 1 : 0);
  }
  size_t pad = cw < width ? width - cw : 0;
  if (right) {
    memset(w, ' ', pad);
    w += pad;
  }
  w = put(w, t, g, 0, head);
  if (dots) {
    memcpy(w, "\xE2\x80\xA6", 3);
    w += 3;
  }
  w = put(w, t, g, ng - tail, tail);
  if (!right && !last) {
    memset(w, ' ', pad);
    w += pad;
  }
  return w;
}
