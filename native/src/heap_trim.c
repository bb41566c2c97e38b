/* Give the C heap's free pages back to the kernel (issue 16, memory).
 *
 *   trimMallocHeap(): number   malloc_trim(0): every arena's free pages are returned (madvise DONTNEED), not only
 *                              the top of the main heap; 1 when something was released, else 0.
 *
 * Start-up frees what libbpf held while loading (the kernel's BTF for CO-RE, the ELF): glibc keeps those pages
 * resident until a trim, and raises its mmap threshold after freeing a large mmapped block, so the next large
 * buffers land in the heap too. */
#include "addon.h"

#include <malloc.h>

static napi_value js_trim_malloc_heap(napi_env env, napi_callback_info info) {
  return ig_num(env, malloc_trim(0));
}

bool ig_heap_trim_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "trimMallocHeap", js_trim_malloc_heap);
  return true;
}
