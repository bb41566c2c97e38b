/* Byte-level helpers shared by the reader-thread renderers (render_plan.c, render_width.c, wire_batch.c):
 * one memo-key hash and one UTF-8 decoder step, so every consumer agrees with the others byte for byte. */
#ifndef IG_BYTES_H
#define IG_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Hash of a memo key: 8 bytes per multiply (keys are 4-64 bytes of record fields, hashed once per lookup miss of
 * the last-answer cache). */
static inline uint64_t ig_hash_bytes(const uint8_t *k, size_t n) {
  uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, k + i, 8);
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t t = 0;
  for (size_t j = 0; i < n; i++, j += 8) t |= (uint64_t)k[i] << j;
  h = (h ^ t) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

/* One step of the WHATWG UTF-8 decoder (what Buffer#toString('utf8') does), s[0] not ASCII: the length of a valid
 * sequence (*cp its code point) or of the maximal subpart that becomes one U+FFFD (*cp = 0xFFFD, *valid = false).
 * JS's output differs for the two (the bytes are kept or replaced), so callers need `valid`, not only the code
 * point: a valid U+FFFD in the input is copied as is. */
static inline size_t ig_utf8_next(const uint8_t *s, size_t n, uint32_t *cp, bool *valid) {
  uint8_t c = s[0], lo = 0x80, hi = 0xBF;
  size_t need;
  uint32_t v;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
    v = c & 0x1f;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    v = c & 0x0f;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *cp = 0xFFFD;
    *valid = false;
    return 1;
  }
  for (size_t i = 1; i <= need; i++) {
    if (i >= n || s[i] < lo || s[i] > hi) {
      *cp = 0xFFFD;
      *valid = false;
      return i;
    }
    v = (v << 6) | (s[i] & 0x3f);
    lo = 0x80;
    hi = 0xBF;
  }
  *cp = v;
  *valid = true;
  return need + 1;
}

#endif
