/* Column cells whose text has characters wider or narrower than one cell (CJK, emoji, combining marks): the
 * widths string-width gives, over the grapheme clusters Intl.Segmenter finds, without ICU. See render_width.c. */
#ifndef IG_NATIVE_RENDER_WIDTH_H
#define IG_NATIVE_RENDER_WIDTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the ellipsis goes when a cell is cut (columns.ts Column.ellipsis). */
enum { IG_ELL_END = 0, IG_ELL_START = 1, IG_ELL_MIDDLE = 2, IG_ELL_NONE = 3 };

/* columns.ts fit(cellText()) of the C string s (at most max bytes, UTF-8 decoded as WHATWG does, controls
 * escaped) written at w; returns the end of what was written, or NULL when a character's width depends on its
 * neighbours in ways the table does not say (the record goes to JS; w is untouched then). Writes at most
 * 4 * max + 3 + width bytes. limit: 0 for none. */
uint8_t *ig_width_cell(uint8_t *w, const uint8_t *s, size_t max, size_t width, size_t limit, bool right, bool last, int ell);

/* Where a row ends once String#trimEnd() has stripped it (ASCII spaces and the other white space JS strips; the
 * row's cells escape every control, so no other white space is left in it). */
uint8_t *ig_trim_js_end(uint8_t *start, uint8_t *end);

/* The width string-width gives one code point alone, and its class: 0 starts a grapheme, 1 joins the one before,
 * 2 needs JS. (For tests.) */
int ig_width_class(uint32_t cp, int *width);

#endif
