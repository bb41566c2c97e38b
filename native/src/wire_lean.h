/* Lean frame writing on a reader's poll thread (wire_lean.c, used by wire_stream.c): a record copied without the
 * stale bytes of its string tails, and value columns whose repeats are counted instead of written. */
#ifndef IG_NATIVE_WIRE_LEAN_H
#define IG_NATIVE_WIRE_LEAN_H

#include "wire_batch.h"

/* A C string array whose bytes after the first NUL are cleared (IG_WFIX_STRING_TAIL). */
typedef struct {
  uint32_t off, size;
} ig_wtail;

/* A value column's last fragment and how many more times it repeats after the column's bytes (not written yet). */
typedef struct {
  const ig_wentry *e; /* the memo entry of that fragment; NULL: the next value is written, never counted */
  uint64_t gen;       /* its memo's gen when it was written (another gen: the entry may have changed) */
  uint32_t len;       /* bytes of the fragment */
  uint32_t rep;       /* repeats still to write */
} ig_wvrun;

/* Copy record data[0, size) into rec with each tail's bytes after its first NUL zero (tails sorted by offset, not
 * overlapping). Only the string and its NUL are read from data; the zeros after it are written only where rec may
 * hold an older record's bytes (dirty[i]: bytes of tail i in rec that may be nonzero, 0 for a zeroed rec; updated).
 * Returns the end of the bytes of rec that may be nonzero (everything from there to size is zero). */
size_t ig_wlean_copy(uint8_t *rec, const uint8_t *data, size_t size, const ig_wtail *tails, size_t ntails, uint32_t *dirty);

/* Write `rep` more copies of the `len`-byte fragment that ends at `end` from `end` on (doubling copies); the bytes
 * written. */
size_t ig_wrun_fill(uint8_t *end, uint32_t len, uint32_t rep);

/* Write column b's pending repeats into it (b ends with the run's fragment). False when out of memory. */
bool ig_wrun_flush(ig_wbuf *b, ig_wvrun *run);

#endif
