/* Reusable memory for reader batches.
 *
 * A reader used to malloc a fresh batch (1 MiB by default) for every batch it handed to JS and free it in the
 * Buffer's finaliser: under a storm that is hundreds of 1 MiB mmap/munmap pairs and first-touch page faults per
 * second (about a tenth of the daemon's CPU), and the memory of a batch JS no longer reads stayed resident until
 * V8's next GC happened to run the finaliser (up to V8's 64 MiB external-memory trigger: the `-o none` path's
 * RSS). The pool keeps a few blocks for reuse, and batchRelease lets JS hand a batch back as soon as it is done
 * with it: the Buffer's memory is detached first, so a view JS still holds reads as empty instead of seeing the
 * next batch's records. */
#include "batch_pool.h"

#include <stdlib.h>

struct ig_batch_pool {
  pthread_mutex_t mu;
  size_t block;
  unsigned keep, nfree;
  void **free; /* keep entries */
  int refs;    /* owner + blocks out; guarded by mu */
  bool orphan; /* the owner dropped its reference: nobody takes blocks any more */
  uint64_t allocated;
  int prompt; /* atomic */
};

ig_batch_pool *ig_batch_pool_new(size_t block, unsigned keep) {
  ig_batch_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->free = keep ? calloc(keep, sizeof *p->free) : NULL;
  if (keep && !p->free) {
    free(p);
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  p->block = block;
  p->keep = keep;
  p->refs = 1;
  return p;
}

size_t ig_batch_pool_block(const ig_batch_pool *p) { return p->block; }

static void destroy(ig_batch_pool *p) {
  for (unsigned i = 0; i < p->nfree; i++) free(p->free[i]);
  free(p->free);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

void *ig_batch_pool_take(ig_batch_pool *p) {
  pthread_mutex_lock(&p->mu);
  void *b = p->nfree ? p->free[--p->nfree] : NULL;
  if (!b) {
    b = malloc(p->block);
    if (b) p->allocated++;
  }
  if (b) p->refs++;
  pthread_mutex_unlock(&p->mu);
  return b;
}

void ig_batch_pool_give(ig_batch_pool *p, void *block) {
  pthread_mutex_lock(&p->mu);
  bool kept = !p->orphan && p->nfree < p->keep;
  if (kept) p->free[p->nfree++] = block;
  bool last = --p->refs == 0;
  pthread_mutex_unlock(&p->mu);
  if (!kept) free(block);
  if (last) destroy(p);
}

void ig_batch_pool_unref(ig_batch_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->orphan = true;
  bool last = --p->refs == 0;
  /* Nobody takes blocks any more: the free ones can go now, the ones still out go when they come back. */
  for (unsigned i = 0; i < p->nfree; i++) free(p->free[i]);
  p->nfree = 0;
  pthread_mutex_unlock(&p->mu);
  if (last) destroy(p);
}

uint64_t ig_batch_pool_allocated(ig_batch_pool *p) {
  pthread_mutex_lock(&p->mu);
  uint64_t n = p->allocated;
  pthread_mutex_unlock(&p->mu);
  return n;
}

void ig_batch_pool_mark_prompt(ig_batch_pool *p) { __atomic_store_n(&p->prompt, 1, __ATOMIC_RELAXED); }

bool ig_batch_pool_prompt(ig_batch_pool *p) { return __atomic_load_n(&p->prompt, __ATOMIC_RELAXED) != 0; }

static const napi_type_tag BATCH_TAG = {0x6967626174636821ull, 0x7265616465726275ull};

napi_status ig_batch_tag(napi_env env, napi_value buf) { return napi_type_tag_object(env, buf, &BATCH_TAG); }

void *ig_batch_tagged_data(napi_env env, napi_value v) {
  bool typed = false, ours = false, detached = false;
  if (napi_is_typedarray(env, v, &typed) != napi_ok || !typed) return NULL;
  if (napi_check_object_type_tag(env, v, &BATCH_TAG, &ours) != napi_ok || !ours) return NULL;
  napi_value ab;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, NULL, NULL, &data, &ab, NULL) != napi_ok) return NULL;
  if (napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached) return NULL;
  return data;
}

napi_status ig_batch_detach(napi_env env, napi_value buf) {
  napi_value ab;
  napi_status st = napi_get_typedarray_info(env, buf, NULL, NULL, NULL, &ab, NULL);
  /* Detaching drops the ArrayBuffer's hold on the memory: the Buffer's finaliser (batch_free_cb in reader.c) runs
   * on this thread shortly after and gives the block back to its pool. */
  return st == napi_ok ? napi_detach_arraybuffer(env, ab) : st;
}
