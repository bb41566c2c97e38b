/* Kernel sources of render-plan memos.
 *
 * Some values an operator computes in JS are kept by an eBPF program in a map (the process enricher's exe
 * tracker: pid → the executable, for the last two command names of the process). A memo declared with such a
 * source is answered on the reader thread from the map before its table is asked: the map is mapped into ig
 * (a BPF_F_MMAPABLE array), so an answer costs a few cache lines and no syscall, and nothing is stored per key.
 * Without this, an exec storm (a new pid per event) is a round trip through JS per event; with a map lookup
 * syscall per new key instead, that syscall was ~12% of ig's CPU there.
 *
 * Layout (declared by the operator, src/datasource/field.ts KernelTextSource), two arrays of 2^n entries:
 * - keys: the entry for key k (the memo's first key range, 4 bytes) at k % 2^n, [u64 seq][u32 k][u32 pad] then
 *   `slots` slots of [match_size bytes][u32 text index][u32 tag]; the slot whose first part equals the bytes of the
 *   memo's second key range (both compared as C strings) says where the text is (tag 0: no text);
 * - texts: [u64 seq][u32 tag][u32 pad][text_size-byte C string]; the text at the slot's index is the slot's while
 *   its tag is the slot's (another text may have taken that entry since: then nothing is answered).
 * Texts are stored once each (an executable's path, not one per process): the exe tracker's pages, all resident
 * once mapped, went from 2.06 to 0.5 MiB. `seq` is odd while the program writes an entry (one writer at a time); a
 * read that saw it change is retried.
 *
 * The mappings hold the maps: the source outlives the operator's close of its fds while a reader still renders. */
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
  const uint8_t *map, *texts; /* the arrays, read-only */
  size_t map_len, stride, texts_len, text_stride;
  uint32_t mask, text_mask;
  uint32_t slots, match_size, text_size;
  uint32_t key_off, match_off, match_len;
  uint8_t text[]; /* scratch: the text of the last answer */
};

void ig_memo_source_free(ig_memo_source *s) {
  if (!s) return;
  if (s->map) munmap((void *)s->map, s->map_len);
  if (s->texts) munmap((void *)s->texts, s->texts_len);
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

/* The text at `idx` while its tag is `tag`, copied into s->text; false when it is another's (or being written). */
static bool text_at(ig_memo_source *s, uint32_t idx, uint32_t tag) {
  const uint8_t *t = s->texts + (size_t)(idx & s->text_mask) * s->text_stride;
  const uint64_t *seqp = (const uint64_t *)t;
  for (int tries = 0; tries < 4; tries++) {
    uint64_t seq = __atomic_load_n(seqp, __ATOMIC_ACQUIRE);
    if (seq & 1) continue;
    uint32_t owner;
    memcpy(&owner, t + 8, 4);
    if (owner != tag) return false;
    memcpy(s->text, t + ENTRY_HEADER, s->text_size);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(seqp, __ATOMIC_RELAXED) == seq) return true;
  }
  return false;
}

const uint8_t *ig_memo_source_text(ig_memo_source *s, const uint8_t *rec, size_t *max) {
  uint32_t key;
  memcpy(&key, rec + s->key_off, 4);
  const uint8_t *e = s->map + (size_t)(key & s->mask) * s->stride;
  const uint64_t *seqp = (const uint64_t *)e;
  size_t slot = (size_t)s->match_size + 8;
  /* A writer holds an entry for a microsecond or two; a few tries, then the memo's table (and JS) answer. */
  for (int tries = 0; tries < 4; tries++) {
    uint64_t seq = __atomic_load_n(seqp, __ATOMIC_ACQUIRE);
    if (seq & 1) continue;
    uint32_t owner;
    memcpy(&owner, e + 8, 4);
    if (owner != key) return NULL;
    uint32_t where[2] = {0, 0}; /* [text index, tag] */
    for (uint32_t i = 0; i < s->slots; i++) {
      const uint8_t *at = e + ENTRY_HEADER + i * slot;
      if (cstr_eq(at, s->match_size, rec + s->match_off, s->match_len)) {
        memcpy(where, at + s->match_size, 8);
        break;
      }
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(seqp, __ATOMIC_RELAXED) != seq) continue;
    if (!where[1] || !text_at(s, where[0], where[1]) || !s->text[0]) return NULL;
    *max = s->text_size;
    return s->text;
  }
  return NULL;
}

/* A mappable array of 2^n entries of `value_size` bytes, mapped read-only; NULL with an error thrown. */
static const uint8_t *map_array(napi_env env, int fd, uint32_t value_size, const char *what, uint32_t *entries, size_t *stride, size_t *len) {
  struct bpf_map_info mi;
  uint32_t mil = sizeof mi;
  memset(&mi, 0, sizeof mi);
  if (bpf_obj_get_info_by_fd(fd, &mi, &mil) != 0) {
    ig_throw_errno(env, errno, false, "memo source: %s map fd %d", what, fd);
    return NULL;
  }
  if (mi.type != BPF_MAP_TYPE_ARRAY || !(mi.map_flags & BPF_F_MMAPABLE) || !mi.max_entries || (mi.max_entries & (mi.max_entries - 1))) {
    ig_throw_type(env, "memo source: %s map %d is not a mappable array of 2^n entries", what, fd);
    return NULL;
  }
  if (mi.key_size != 4 || mi.value_size != value_size) {
    ig_throw_type(env, "memo source: %s map %u+%u bytes, expected 4+%u", what, mi.key_size, mi.value_size, value_size);
    return NULL;
  }
  long page = sysconf(_SC_PAGESIZE);
  *entries = mi.max_entries;
  *stride = ((size_t)mi.value_size + 7) & ~(size_t)7;
  *len = (*stride * mi.max_entries + (size_t)page - 1) & ~((size_t)page - 1);
  void *m = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    ig_throw_errno(env, errno, false, "memo source: mmap %s map %d", what, fd);
    return NULL;
  }
  return m;
}

/* renderPlanMemoSource(plan, memo, mapFd, textMapFd, slots, matchSize, textSize): before the plan is handed to a
 * reader. */
static napi_value js_plan_memo_source(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!ig_args(env, info, 7, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  int32_t memo, fd, text_fd, slots, match_size, text_size;
  if (!p || !ig_arg_i32(env, argv[1], "memo", &memo) || !ig_arg_i32(env, argv[2], "mapFd", &fd) ||
      !ig_arg_i32(env, argv[3], "textMapFd", &text_fd) || !ig_arg_i32(env, argv[4], "slots", &slots) ||
      !ig_arg_i32(env, argv[5], "matchSize", &match_size) || !ig_arg_i32(env, argv[6], "textSize", &text_size))
    return NULL;
  if (fd < 0 || text_fd < 0 || slots <= 0 || slots > 16 || match_size <= 0 || match_size > 64 || text_size <= 0 || text_size > 4096)
    return ig_throw_type(env, "memo source: bad layout (fds %d and %d, %d slots of %d + 8 bytes, texts of %d)", fd, text_fd, slots, match_size,
                         text_size);
  uint32_t ranges[2][2];
  const char *bad = ig_plan_memo_ranges(p, (uint32_t)memo, ranges);
  if (bad) return ig_throw_type(env, "memo source: %s", bad);
  if (ranges[0][1] != 4) return ig_throw_type(env, "memo source: memo key %u bytes, expected 4", ranges[0][1]);
  ig_memo_source *s = calloc(1, sizeof *s + (size_t)text_size);
  if (!s) return ig_throw_msg(env, "memo source: out of memory");
  uint32_t entries, text_entries;
  s->map = map_array(env, fd, ENTRY_HEADER + (uint32_t)slots * (uint32_t)(match_size + 8), "key", &entries, &s->stride, &s->map_len);
  if (s->map) s->texts = map_array(env, text_fd, ENTRY_HEADER + (uint32_t)text_size, "text", &text_entries, &s->text_stride, &s->texts_len);
  if (!s->texts) {
    ig_memo_source_free(s);
    return NULL;
  }
  s->mask = entries - 1;
  s->text_mask = text_entries - 1;
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
