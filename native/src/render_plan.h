/* Render plans: JSON lines or column rows rendered from record bytes, after an optional filter, by a list of ops
 * compiled in TypeScript (src/operators/cli/native-plan.ts). See render_plan.c. */
#ifndef IG_NATIVE_RENDER_PLAN_H
#define IG_NATIVE_RENDER_PLAN_H

#include "line_output.h"
#include "render_pieces.h"

typedef struct ig_plan ig_plan;

enum { IG_RENDER_OK = 0, IG_RENDER_MISS = 1, IG_RENDER_REFRESH = 2 };

/* Render one record as a line into `o` (nothing when the plan's filter rejects it). IG_RENDER_MISS when a memo has
 * no fragment for the record's key, a column string needs JS, or the record is shorter than the plan needs:
 * nothing is written then. IG_RENDER_REFRESH: rendered, with a
 * fragment past its TTL; hand the record to JS (refresh batch) so that it computes a fresh one.
 * `now_ns` is CLOCK_MONOTONIC. */
int ig_plan_render(ig_plan *p, const uint8_t *rec, size_t size, uint64_t now_ns, ig_out *o);

/* After IG_RENDER_MISS: whether a memo had no fragment for the record (JS can compute it, and the record can then
 * be rendered here), rather than a value only JS renders (a wide column cell, a short record). */
bool ig_plan_miss_is_memo(const ig_plan *p);

/* Ask the CPU for the cache lines of `rec` that the plan reads (the next record, while this one renders). */
void ig_plan_prefetch(const ig_plan *p, const uint8_t *rec);

/* Unwrap a plan handle (throws a TypeError otherwise). The reader keeps its own reference. */
ig_plan *ig_plan_arg(napi_env env, napi_value v);
void ig_plan_ref(ig_plan *p);
void ig_plan_unref(ig_plan *p);

/* Memo sources (memo_source.c): the memo's first two key ranges [offset, length] (NULL) or why it cannot have a
 * source; give the memo its source (the plan owns it from then on; only before a reader renders with the plan;
 * false: out of memory, the caller still owns it). */
struct ig_memo_source;
const char *ig_plan_memo_ranges(const ig_plan *p, uint32_t memo, uint32_t ranges[2][2]);
bool ig_plan_set_memo_source(ig_plan *p, uint32_t memo, struct ig_memo_source *s, size_t text_size);

/* gadgetctl (render_buffer.c): the plain value ops of a plan compiled for a twin layout (`vals`: (slot offset, slot
 * type, slot size) per value-carried field) render their value's text from pieces (render_pieces.c) instead of the
 * slot, when nothing else in the plan reads the slot; adjacent ones as runs. Once per plan, before it renders;
 * returns the number of values bound (0: none, or bound already; -1: out of memory, nothing bound). */
int ig_plan_bind_pieces(ig_plan *p, const int32_t *vals, uint32_t nvals);
/* The pieces bound to the plan (NULL: none). */
ig_pieces *ig_plan_pieces(const ig_plan *p);
/* gadgetctl (render_buffer.c): lines made from the last line, its unchanged groups copied (render_plan.c, "Lines
 * made from the last line"), for a plan without filter or memos whose ops are plain values, pieces and zero spans
 * (false: not such a plan, or out of memory; nothing bound). Once per plan, after ig_plan_bind_pieces. */
bool ig_plan_bind_delta(ig_plan *p);
/* ig_plan_render through the last line when bound with ig_plan_bind_delta (else ig_plan_render): the same bytes. */
int ig_plan_render_delta(ig_plan *p, const uint8_t *rec, size_t size, uint64_t now_ns, ig_out *o);

bool ig_render_register(napi_env env, napi_value exports);
/* render_buffer.c: renderBatchFrame (a received batch frame rendered with a plan, gadgetctl) */
bool ig_render_buffer_register(napi_env env, napi_value exports);

#endif
