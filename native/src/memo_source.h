/* Kernel sources of render-plan memos: a BPF map that holds a memo's text for most keys, read on the reader thread
 * when the memo misses, so that a new key needs no round trip through JS. See memo_source.c. */
#ifndef IG_NATIVE_MEMO_SOURCE_H
#define IG_NATIVE_MEMO_SOURCE_H

#include "addon.h"

typedef struct ig_memo_source ig_memo_source;

/* The text the map holds for this record: a C string of at most *max bytes (maybe not NUL-terminated), or NULL
 * (no entry, no slot for the record's match bytes, or an empty text). Reader thread only (a scratch buffer). */
const uint8_t *ig_memo_source_text(ig_memo_source *s, const uint8_t *rec, size_t *max);
void ig_memo_source_free(ig_memo_source *s);

bool ig_memo_source_register(napi_env env, napi_value exports);

#endif
