/* Kernel sources of render-plan memos.
 *
 * Some values an operator computes in JS are kept by an eBPF program in a map (the process enricher's exe
 * tracker: pid → the executable, for the last two command names of the process). A memo declared with such a
 * source is answered on the reader thread when it misses: one map lookup for a key seen for the first time, then
 * the memo serves the key as any other. Without this, an exec storm (a new pid per event) is a round trip through
 * JS per event.
 *
 * Layout (declared by the operator, src/datasource/field.ts KernelTextSource): the map key is the bytes of the
 * memo's first key range; a value is `slots` slots of [match_size bytes][text_size-byte C string]; the slot whose
 * first part equals the bytes of the memo's second key range (both compared as C strings) holds the text.
 *
 * The map's fd is dup()ed: the source outlives the operator's close of the map while a reader still renders. */
#include "memo_source.h"
#include "render_plan.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ig_memo_source {
  int fd;
  uint32_t slots, match_size, text_size;
  uint32_t key_off, key_len, match_off, match_len;
  uint8_t *val; /* scratch: one map value */
};

void ig_memo_source_free(ig_memo_source *s) {
  if (!s) return;
  if (s->fd >= 0) close(s->fd);
  free(s->val);
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
  if (bpf_map_lookup_elem(s->fd, rec + s->key_off, s->val) != 0) return NULL;
  size_t slot = (size_t)s->match_size + s->text_size;
  for (uint32_t i = 0; i < s->slots; i++) {
    const uint8_t *at = s->val + i * slot;
    if (!cstr_eq(at, s->match_size, rec + s->match_off, s->match_len)) continue;
    const uint8_t *text = at + s->match_size;
    if (!text[0]) return NULL;
    *max = s->text_size;
    return text;
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
  if (mi.key_size != ranges[0][1] || mi.value_size != (uint32_t)slots * (uint32_t)(match_size + text_size))
    return ig_throw_type(env, "memo source: map %u+%u bytes, memo key %u bytes, %d slots of %d + %d bytes", mi.key_size, mi.value_size,
                         ranges[0][1], slots, match_size, text_size);
  ig_memo_source *s = calloc(1, sizeof *s);
  if (!s || !(s->val = malloc(mi.value_size))) {
    free(s);
    return ig_throw_msg(env, "memo source: out of memory");
  }
  s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (s->fd < 0) {
    int err = errno;
    ig_memo_source_free(s);
    return ig_throw_errno(env, err, false, "memo source: dup");
  }
  s->slots = (uint32_t)slots;
  s->match_size = (uint32_t)match_size;
  s->text_size = (uint32_t)text_size;
  s->key_off = ranges[0][0];
  s->key_len = ranges[0][1];
  s->match_off = ranges[1][0];
  s->match_len = ranges[1][1];
  ig_plan_set_memo_source(p, (uint32_t)memo, s);
  return ig_undefined(env);
}

bool ig_memo_source_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "renderPlanMemoSource", js_plan_memo_source);
  return true;
}
