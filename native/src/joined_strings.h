/* Joined strings: a char array of NUL-separated parts (exec arguments) rendered as one JSON string, the parts
 * joined by a separator, as the gadget's WASM module (or JS) does. See joined_strings.c. */
#ifndef IG_NATIVE_JOINED_STRINGS_H
#define IG_NATIVE_JOINED_STRINGS_H

#include <stddef.h>
#include <stdint.h>

/* The descriptor (in the plan's literal pool, 4-aligned), u32s: len_off (UINT32_MAX: none), count_off (UINT32_MAX:
 * none), cap (bytes of the joined text, UTF-8, the separator counted as sep_raw bytes), sep_raw, sep_len (the
 * separator's JSON text), then sep_len bytes. */
#define IG_JOINED_DESC_FIXED 20

/* Bytes the descriptor takes (0: malformed, given `avail` bytes from its start). */
size_t ig_joined_desc_size(const uint8_t *desc, size_t avail);
/* Most bytes a value of a `size`-byte array can take as JSON text. */
size_t ig_joined_bound(size_t size, const uint8_t *desc);
/* Write the JSON string of the field at rec+off (size bytes, of which the record holds rec_size - off). */
uint8_t *ig_put_joined(uint8_t *w, const uint8_t *rec, size_t rec_size, uint32_t off, uint32_t size, const uint8_t *desc);

/* The parts joined with the descriptor's separator bytes as they are (a columns cell: the descriptor's separator is
 * its raw UTF-8 then), NUL-terminated, into out (room for `size` bytes: the joined text keeps within the array's
 * size - 1). Returns the text's length. */
size_t ig_joined_raw(uint8_t *out, const uint8_t *rec, size_t rec_size, uint32_t off, uint32_t size, const uint8_t *desc);

/* JSON text of bytes [s, s + n) without NUL: JSON.stringify of their UTF-8 decoding minus the quotes
 * (render_plan.c). */
uint8_t *ig_json_escape(uint8_t *w, const uint8_t *s, size_t n);
/* JSON.stringify of the UTF-8 decoding of s up to its first NUL (quotes included); room for n * 6 + 2 bytes. */
uint8_t *ig_json_quote(uint8_t *w, const uint8_t *s, size_t n);
/* The decimal text of v at w (room for 20 bytes, 21 signed), as the plan's integer ops print it; returns its length
 * (render_plan.c). */
size_t ig_dec_u64(uint8_t *w, uint64_t v);
size_t ig_dec_i64(uint8_t *w, int64_t v);

#endif
