/* Lean frame writing on a reader's poll thread (the daemon's wire mode, wire_stream.c).
 *
 * Why: after the memo answers were reused, the reader thread still spent ~0.45 µs per trace_open event under a
 * storm (perf, 2026-12-06): a third of it copying the whole 855-byte ring record (cold memory written by the kernel
 * on another CPU) before clearing ~600 bytes of it again (the string tails), and a quarter writing ~30 small value
 * fragments per record, each a bounds check and a memcpy into its own column, then copied again into the frame.
 *
 * - The record: the bytes before, between and after the string tails are copied; of each tail only the string and
 *   its NUL are read, and the scratch record's zeros after it are rewritten only as far as an earlier record's
 *   string reached there. The caller gets the end of the possibly nonzero bytes, so the zero trimming of the
 *   segments starts there instead of at the record's end. Same bytes as copying everything and clearing the tails.
 * - The values: a storm's records share their values (one process, container, user), so a value whose memo entry
 *   is the previous record's (same entry, memo unchanged since: ig_wval.gen) is counted; the repeats are written
 *   when the column's next different value comes or straight into the frame when it is taken, by doubling copies
 *   (a run of 2,000 two-byte values is 11 copies). Same bytes as writing each. */
#include "wire_lean.h"

#include <string.h>

size_t ig_wlean_copy(uint8_t *rec, const uint8_t *data, size_t size, const ig_wtail *tails, size_t ntails, uint32_t *dirty) {
  size_t at = 0, hi = 0;
  for (size_t i = 0; i < ntails; i++) {
    size_t off = tails[i].off;
    if (off >= size) break; /* sorted: the others are past the end too */
    if (off > at) {
      memcpy(rec + at, data + at, off - at);
      hi = off;
    }
    size_t n = size - off < tails[i].size ? size - off : tails[i].size;
    const uint8_t *nul = memchr(data + off, 0, n);
    size_t len = nul ? (size_t)(nul - (data + off)) + 1 : n;
    memcpy(rec + off, data + off, len);
    size_t was = dirty[i], clear = was < n ? was : n;
    if (clear > len) memset(rec + off + len, 0, clear - len);
    dirty[i] = (uint32_t)(was > n ? was : len); /* past n (a shorter record) nothing was cleared */
    /* The string's last byte ends what may be nonzero (an empty string adds nothing): the zero trimming of the
     * segments starts there, not at the NUL or the array's end. */
    size_t chars = nul ? len - 1 : len;
    if (chars) hi = off + chars;
    at = off + n;
  }
  if (size > at) {
    memcpy(rec + at, data + at, size - at);
    hi = size;
  }
  return hi;
}

size_t ig_wrun_fill(uint8_t *end, uint32_t len, uint32_t rep) {
  size_t have = 1, left = rep, n = 0;
  while (left) {
    size_t k = have < left ? have : left;
    memcpy(end + n, end + n - k * len, k * len); /* the k fragments just before, after them */
    n += k * len;
    left -= k;
    have += k;
  }
  return n;
}

bool ig_wrun_flush(ig_wbuf *b, ig_wvrun *run) {
  if (!run->rep) return true;
  if (!ig_wroom(b, (size_t)run->len * run->rep)) return false;
  b->len += ig_wrun_fill(b->p + b->len, run->len, run->rep);
  run->rep = 0;
  return true;
}
