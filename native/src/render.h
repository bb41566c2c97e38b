/* Render plans: JSON lines rendered from record bytes by a list of ops compiled in TypeScript
 * (src/operators/cli/native-plan.ts). See render.c. */
#ifndef IG_NATIVE_RENDER_H
#define IG_NATIVE_RENDER_H

#include "common.h"

#include <stdatomic.h>

typedef struct ig_plan ig_plan;

/* Growable output buffer written to a file descriptor. */
typedef struct ig_out {
  uint8_t *p;
  size_t len, cap;
  int fd;
  atomic_int error; /* errno of the first failed write; output is discarded from then on. Written by the thread
                     * that writes, read by others (reader stats on the JS thread): C11 atomic, see ig_out_error. */
  const int *cancel; /* when set and non-zero, a write that makes no progress for 100 ms gives up */
} ig_out;

bool ig_out_init(ig_out *o, int fd, size_t cap);
/* The errno of the first failed write (0: none); safe from any thread. */
int ig_out_error(const ig_out *o);
void ig_out_free(ig_out *o);
/* Write everything buffered (blocking: waits for POLLOUT on a non-blocking fd). */
void ig_out_flush(ig_out *o);
/* Write `len` bytes now, after what is buffered. */
void ig_out_write(ig_out *o, const void *p, size_t len);

enum { IG_RENDER_OK = 0, IG_RENDER_MISS = 1, IG_RENDER_REFRESH = 2 };

/* Render one record as a line into `o`. IG_RENDER_MISS when a memo has no fragment for the record's key
 * (or the record is shorter than the plan needs): nothing is written then. IG_RENDER_REFRESH: rendered, with a
 * fragment past its TTL; hand the record to JS (refresh batch) so that it computes a fresh one.
 * `now_ns` is CLOCK_MONOTONIC. */
int ig_plan_render(ig_plan *p, const uint8_t *rec, size_t size, uint64_t now_ns, ig_out *o);

/* Ask the CPU for the cache lines of `rec` that the plan reads (the next record, while this one renders). */
void ig_plan_prefetch(const ig_plan *p, const uint8_t *rec);

/* Unwrap a plan handle (throws a TypeError otherwise). The reader keeps its own reference. */
ig_plan *ig_plan_arg(napi_env env, napi_value v);
void ig_plan_ref(ig_plan *p);
void ig_plan_unref(ig_plan *p);

bool ig_render_register(napi_env env, napi_value exports);

#endif
