/* Metrics aggregators: records counted per key on a reader's poll thread (see metrics_agg.c), so that a metrics
 * export reads per-key deltas instead of every record. Built by src/bpf/metrics-aggregator.ts. */
#ifndef IG_NATIVE_METRICS_AGG_H
#define IG_NATIVE_METRICS_AGG_H

#include "addon.h"

typedef struct ig_magg ig_magg;

/* Count one record (poll thread). Never fails: records of keys past the key limit are counted in the aggregator's
 * stats instead; a record shorter than the spec reads as zero-padded (as JS pads short records). */
void ig_magg_add(ig_magg *m, const uint8_t *rec, size_t size);

/* Unwrap an aggregator handle (throws a TypeError otherwise). The reader keeps its own reference. */
ig_magg *ig_magg_arg(napi_env env, napi_value v);
void ig_magg_ref(ig_magg *m);
void ig_magg_unref(ig_magg *m);

bool ig_magg_register(napi_env env, napi_value exports);

#endif
