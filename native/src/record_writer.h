/* Recording writer (record_writer.c): entries appended by JS and by reader threads, sealed into chunks, compressed
 * and written on the recorder's own thread. The file format is docs/recording.md's (src/record/format.ts). */
#ifndef IG_NATIVE_RECORD_WRITER_H
#define IG_NATIVE_RECORD_WRITER_H

#include "addon.h"

typedef struct ig_recorder ig_recorder;

/* Unwrap a recorder handle (throws a TypeError otherwise). A reader keeps its own reference. */
ig_recorder *ig_rec_arg(napi_env env, napi_value v);
void ig_rec_ref(ig_recorder *rec);
void ig_rec_unref(ig_recorder *rec);

/* Append a batch entry of `count` reader-layout records ([u32 len][u32 cpu][payload padded to 8]…, `len` bytes) of
 * data source `ds`, timed now. Any thread; waits while the writer is more than its backlog behind (the caller's
 * ring then fills and the kernel side counts what it drops). A closed or failed recorder drops it. */
void ig_rec_batch(ig_recorder *rec, uint16_t ds, const uint8_t *data, size_t len, uint32_t count);

bool ig_record_writer_register(napi_env env, napi_value exports);
/* record_codec.c: zstd chunk (de)compression for JS readers */
bool ig_record_codec_register(napi_env env, napi_value exports);

#endif
