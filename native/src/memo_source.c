/* Kernel sources of render-plan memos.
 *
 * Some values an operator computes in JS are kept by an eBPF program in a map (the process enricher's exe
 * tracker: pid → the executable, for the last two command names of the process). A memo declared with such a
 * source is answered on the reader thread from the map before its table is asked: the map is mapped into ig
 * (a BPF_F_MMAPABLE array), so an answer costs a few cache lines and no syscall, and nothing is stored per key.
 * Without this, an exec storm (a new pid per event) is a round trip through JS per event; with a map lookup
 * syscall per new key instead, that syscall was ~12% of ig's CPU there.
 *
 * Layout (declared by the operator, src/datasource/field.ts KernelTextSource): an array of 2^n entries, the entry
 * for key k (the memo's first key range, 4 bytes) at k % 2^n; an entry is [u64 seq][u32 k][u32 pad] then `slots`
 * slots of [match_size bytes][text_size-byte C string]; the slot whose first part equals the bytes of the memo's
 * second key range (both compared as C strings) holds the text. `seq` is odd while the program writes the entry
 * (one writer at a time); a read that saw it change is retried.
 *
 * The mapping holds the map: the source outlives the operator's close of its fd while a reader still renders. */
#include "memo_source.h"
#include "render_plan.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ENTRY_HEADER 16 /* [u64 seq][u32 key][u32 pad] */

struct ig_memo_source {
  const uint8_t *map; /* the array, read-only */
  size_t map_len, stride;
  uint32_t mask;
  uint32_t slots, match_size, text_size;
  uint32_t key_off, match_off, match_len;
  uint8_t text[]; /* scratch: the text of the last answer */
};

void ig_memo_source_free(ig_memo_source *s) {
  if (!s) return;
  if (s->map) munmap((void *)s->map, s->map_len);
  free(s);
}

/* C-string equality over at most n bytes (a NUL ends both). */
static bool cstr_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  size_t n = an > bn ? an : bn;
  for (size_t i = 0; i < n; i++) {
    uint8_t x = i < an ? a[i] : 0, y = i < bn ? b[i] : 0;
    if (x != y) return false;
    if (!x) return true;
  }
  return true;
}

const uint8_t *ig_memo_source_text(ig_memo_source *s, const uint8_t *rec, size_t *max) {
  uint32_t key;
  memcpy(&key, rec + s->key_off, 4);
  const uint8_t *e = s->map + (size_t)(key & s->mask) * s->stride;
  const uint64_t *seqp = (const uint64_t *)e;
  size_t slot = (size_t)s->match_size + s->text_size;
  /* A writer holds an entry for a microsecond or two; a few tries, then the memo's table (and JS) answer. */
  for (int tries = 0; tries < 4; tries++) {
    uint64_t seq = __atomic_load_n(seqp, __ATOMIC_ACQUIRE);
    if (seq & 1) continue;
    uint32_t owner;
    memcpy(&owner, e + 8, 4);
    if (owner != key) return NULL;
    const uint8_t *text = NULL;
    for (uint32_t i = 0; i < s->slots && !text; i++) {
      const uint8_t *at = e + ENTRY_HEADER + i * slot;
      if (cstr_eq(at, s->match_size, rec + s->match_off, s->match_len)) text = at + s->match_size;
    }
    if (text) memcpy(s->text, text, s->text_size);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(seqp, __ATOMIC_RELAXED) != seq) continue;
    if (!text || !s->text[0]) return NULL;
    *max = s->text_size;
    return s->text;
  }
  return NULL;
}

/* renderPlanMemoSource(plan, memo, mapFd, slots, matchSize, textSize): before the plan is handed to a reader. */
static napi_value js_plan_memo_source(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ig_args(env, info, 6, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  int32_t memo, fd, slots, match_size, text_size;
  if (!p || !ig_arg_i32(env, argv[1], "memo", &memo) || !ig_arg_i32(env, argv[2], "mapFd", &fd) ||
      !ig_arg_i32(env, argv[3], "slots", &slots) || !ig_arg_i32(env, argv[4], "matchSize", &match_size) ||
      !ig_arg_i32(env, argv[5], "textSize", &text_size))
    return NULL;
  if (fd < 0 || slots <= 0 || slots > 16 || match_size <= 0 || match_size > 64 || text_size <= 0 || text_size > 4096)
    return ig_throw_type(env, "memo source: bad layout (fd %d, %d slots of %d + %d bytes)", fd, slots, match_size, text_size);
  uint32_t ranges[2][2];
  const char *bad = ig_plan_memo_ranges(p, (uint32_t)memo, ranges);
  if (bad) return ig_throw_type(env, "memo source: %s", bad);
  struct bpf_map_info mi;
  uint32_t mil = sizeof mi;
  memset(&mi, 0, sizeof mi);
  if (bpf_obj_get_info_by_fd(fd, &mi, &mil) != 0) return ig_throw_errno(env, errno, false, "memo source: map fd %d", fd);
  if (mi.type != BPF_MAP_TYPE_ARRAY || !(mi.map_flags & BPF_F_MMAPABLE) || !mi.max_entries || (mi.max_entries & (mi.max_entries - 1)))
    return ig_throw_type(env, "memo source: map %d is not a mappable array of 2^n entries", fd);
  if (mi.key_size != 4 || ranges[0][1] != 4 || mi.value_size != ENTRY_HEADER + (uint32_t)slots * (uint32_t)(match_size + text_size))
    return ig_throw_type(env, "memo source: map %u+%u bytes, memo key %u bytes, %d slots of %d + %d bytes", mi.key_size, mi.value_size,
                         ranges[0][1], slots, match_size, text_size);
  ig_memo_source *s = calloc(1, sizeof *s + (size_t)text_size);
  if (!s) return ig_throw_msg(env, "memo source: out of memory");
  long page = sysconf(_SC_PAGESIZE);
  s->stride = ((size_t)mi.value_size + 7) & ~(size_t)7;
  s->map_len = (s->stride * mi.max_entries + (size_t)page - 1) & ~((size_t)page - 1);
  void *m = mmap(NULL, s->map_len, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    int err = errno;
    free(s);
    return ig_throw_errno(env, err, false, "memo source: mmap map %d", fd);
  }
  s->map = m;
  s->mask = mi.max_entries - 1;
  s->slots = (uint32_t)slots;
  s->match_size = (uint32_t)match_size;
  s->text_size = (uint32_t)text_size;
  s->key_off = ranges[0][0];
  s->match_off = ranges[1][0];
  s->match_len = ranges[1][1];
  if (!ig_plan_set_memo_source(p, (uint32_t)memo, s, (size_t)text_size)) {
    ig_memo_source_free(s);
    return ig_throw_msg(env, "memo source: out of memory");
  }
  return ig_undefined(env);
}

bool ig_memo_source_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "renderPlanMemoSource", js_plan_memo_source);
  return true;
}
