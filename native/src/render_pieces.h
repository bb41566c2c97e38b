/* Value pieces of a received batch frame's render (render_pieces.c): the JSON text of each value-carried field,
 * kept from record to record while its encoded bytes repeat, and runs of adjacent pieces rendered as one cached
 * text while none of them changed. Used by render_buffer.c through a plan bound with ig_plan_bind_pieces. */
#ifndef IG_NATIVE_RENDER_PIECES_H
#define IG_NATIVE_RENDER_PIECES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ig_pieces ig_pieces;

ig_pieces *ig_pieces_new(uint32_t nvals);
void ig_pieces_free(ig_pieces *s);
uint32_t ig_pieces_nvals(const ig_pieces *s);

/* Building (ig_plan_bind_pieces): a new run (its index, -1: out of memory), then its parts in line order: value
 * `val` with the literal text before it (none for a run's first part, which the plan's own literal precedes). */
int ig_pieces_add_run(ig_pieces *s);
bool ig_pieces_run_part(ig_pieces *s, int run, uint32_t val, const uint8_t *lit, size_t lit_len);

/* One value's piece (the fields render_buffer.c reads per record are here to be inlined). */
typedef struct {
  uint8_t *text, *raw;
  uint32_t len, cap, raw_len, raw_cap;
  uint64_t ver; /* bumped with its text; 0: no text yet */
  bool used;    /* rendered from its piece (some run holds it) */
  uint32_t *runs, nruns; /* the runs that hold it (their versions are bumped with its text) */
} ig_piece;

/* The pieces, one per value of the layout. */
ig_piece *ig_pieces_all(ig_pieces *s);

/* Whether value `val` is rendered from its piece (else from its slot in the twin record). */
static inline bool ig_pieces_has(const ig_piece *v, uint32_t val) { return v[val].used; }

/* Whether the piece was made from exactly these encoded bytes (its text is current). */
static inline bool ig_piece_same(const ig_piece *pc, const uint8_t *raw, size_t raw_len) {
  if (!pc->ver || pc->raw_len != raw_len) return false;
  /* a few bytes: no memcmp call; from the end, where a timestamp's text differs from the last one's */
  for (size_t k = raw_len; k-- > 0;)
    if (pc->raw[k] != raw[k]) return false;
  return true;
}

/* Room for a text of up to n bytes in the piece of `val` (NULL: out of memory); then ig_pieces_commit. */
uint8_t *ig_pieces_text_room(ig_pieces *s, uint32_t val, size_t n);
/* The piece of `val` is now the len bytes written at ig_pieces_text_room's pointer, made from `raw`. */
bool ig_pieces_commit(ig_pieces *s, uint32_t val, const uint8_t *raw, size_t raw_len, size_t len);

/* The piece of `val` is now `text`, made from the encoded bytes `raw` (false: out of memory). */
bool ig_pieces_set(ig_pieces *s, uint32_t val, const uint8_t *raw, size_t raw_len, const uint8_t *text, size_t text_len);

/* Run `run`'s signature: the same exactly while none of its pieces changed (a version bumped with theirs). */
uint64_t ig_pieces_run_sig(const ig_pieces *s, uint32_t run);

/* Write run `run` at w (room for its parts' bounds is reserved by the plan); returns the end. */
uint8_t *ig_pieces_put(ig_pieces *s, uint32_t run, uint8_t *w);

#endif
