/* Reusable memory for reader batches (batch_pool.c). */
#ifndef IG_BATCH_POOL_H
#define IG_BATCH_POOL_H

#include "addon.h"

typedef struct ig_batch_pool ig_batch_pool;

/* A pool of blocks of `block` bytes that keeps at most `keep` free blocks (the others go back to the system).
 * The caller owns one reference; every block taken holds another, so blocks given back after the owner is gone
 * (a JS Buffer finalised after its reader was freed) still find their pool. NULL when out of memory. */
ig_batch_pool *ig_batch_pool_new(size_t block, unsigned keep);
size_t ig_batch_pool_block(const ig_batch_pool *p);
/* A free block, else a new one; NULL when out of memory. Any thread. */
void *ig_batch_pool_take(ig_batch_pool *p);
/* Give back a block taken from p: kept for reuse or freed. Any thread. */
void ig_batch_pool_give(ig_batch_pool *p, void *block);
/* Drop the owner's reference. */
void ig_batch_pool_unref(ig_batch_pool *p);
/* Blocks obtained from the system so far (a pool that is reused stays small). */
uint64_t ig_batch_pool_allocated(ig_batch_pool *p);
/* JS hands this pool's batches back as soon as it is done with them (batchRelease): a partly filled batch may then
 * keep its block instead of being copied into a smaller one. */
void ig_batch_pool_mark_prompt(ig_batch_pool *p);
bool ig_batch_pool_prompt(ig_batch_pool *p);

/* Mark `buf` (an external Buffer over a batch) as a batch that batchRelease may detach. */
napi_status ig_batch_tag(napi_env env, napi_value buf);
/* If `v` is a tagged batch Buffer not yet detached: its data pointer; else NULL (nothing pending). */
void *ig_batch_tagged_data(napi_env env, napi_value v);
/* Detach a tagged batch Buffer: every view of it reads as empty from now on, and its finaliser runs soon. */
napi_status ig_batch_detach(napi_env env, napi_value buf);

#endif
