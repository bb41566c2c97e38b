/* zstd for recording chunks read in JS (src/record/format.ts): Node 20's zlib has no zstd. The writer compresses
 * on its own thread (record_writer.c). */
#include "record_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

/* Decompressed chunks (4 MiB each) are large blocks: with the addon's fixed mmap threshold each would be an mmap,
 * 1,024 page faults and an munmap (a third of a replay's CPU went to the kernel). They are mapped populated (one
 * call), and blocks whose Buffer was collected wait here for a next chunk, their pages still mapped. JS thread only (per thread: workers). */
#define POOL_BLOCKS 8
typedef struct { size_t cap; } block_head;
static __thread void *pool[POOL_BLOCKS];

static void *block_get(size_t want, size_t *cap) {
  for (int i = 0; i < POOL_BLOCKS; i++) {
    if (pool[i] && ((block_head *)pool[i])->cap >= want) {
      void *b = pool[i];
      pool[i] = NULL;
      *cap = ((block_head *)b)->cap;
      return (uint8_t *)b + 64;
    }
  }
  size_t c = want < (4u << 20) - 64 ? (4u << 20) - 64 : want;
  /* Populated at once: one call instead of a page fault per 4 KiB page. */
  block_head *b = mmap(NULL, 64 + c, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (b == MAP_FAILED) return NULL;
  b->cap = c;
  *cap = c;
  return (uint8_t *)b + 64;
}

static void block_put(void *data) {
  block_head *b = (block_head *)((uint8_t *)data - 64);
  for (int i = 0; i < POOL_BLOCKS; i++) {
    if (!pool[i]) {
      pool[i] = b;
      return;
    }
  }
  munmap(b, 64 + b->cap);
}

/* No napi_adjust_external_memory for these: a chunk's Buffer dies young (its batches are rendered or emitted and
 * dropped), scavenges return it here, and telling V8 about 4 MiB per chunk made it run full mark-compacts (measured:
 * 25 % more CPU on a 2 M record replay, with peak RSS 160 MB either way). */
static void free_cb(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  block_put(data);
}

/* zstdDecompress(stored, contentLength): the content, exactly contentLength bytes; throws (one line) when the
 * bytes are no zstd frame or decompress to another length. */
static napi_value js_decompress(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  void *src;
  size_t n;
  int64_t want;
  if (!ig_arg_bytes(env, argv[0], "stored", &src, &n) || !ig_arg_i64(env, argv[1], "contentLength", &want)) return NULL;
  if (want < 0 || want > (1ll << 30)) return ig_throw_type(env, "contentLength out of range");
  size_t cap;
  void *out = block_get(want ? (size_t)want : 1, &cap);
  if (!out) return ig_throw_errno(env, ENOMEM, false, "zstdDecompress");
  size_t got = ZSTD_decompress(out, (size_t)want, src, n);
  if (ZSTD_isError(got)) {
    block_put(out);
    return ig_throw_msg(env, "zstd: %s", ZSTD_getErrorName(got));
  }
  if (got != (size_t)want) {
    block_put(out);
    return ig_throw_msg(env, "zstd: %zu bytes, %lld expected", got, (long long)want);
  }
  return ig_take_buffer_released(env, out, got, free_cb);
}

/* zstdCompress(content, level): one zstd frame (tests and JS-side writers; `ig run --record` compresses natively). */
static napi_value js_compress(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  void *src;
  size_t n;
  int32_t level;
  if (!ig_arg_bytes(env, argv[0], "content", &src, &n) || !ig_arg_i32(env, argv[1], "level", &level)) return NULL;
  size_t cap = ZSTD_compressBound(n);
  void *out = malloc(cap);
  if (!out) return ig_throw_errno(env, ENOMEM, false, "zstdCompress");
  size_t got = ZSTD_compress(out, cap, src, n, level);
  if (ZSTD_isError(got)) {
    free(out);
    return ig_throw_msg(env, "zstd: %s", ZSTD_getErrorName(got));
  }
  napi_value b;
  napi_status st = napi_create_buffer_copy(env, got, out, NULL, &b);
  free(out);
  if (st != napi_ok) return ig_napi_fail(env, st, "zstdCompress");
  return b;
}

bool ig_record_codec_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "zstdDecompress", js_decompress);
  IG_EXPORT(env, exports, "zstdCompress", js_compress);
  return true;
}
