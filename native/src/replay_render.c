/* Replay rendering: a render plan run over a recorded batch on the calling (JS) thread, straight to an fd, as a
 * reader thread runs it over ring memory. `ig replay` uses it so that recorded records reach stdout without a JS
 * object or string per record; a record the plan cannot render (memo miss) stops the call, and JS renders it and
 * the next ones through the normal pipeline (filling the memos), then calls again from there. */
#include "addon.h"
#include "render_plan.h"

#include <stdlib.h>
#include <string.h>

bool ig_replay_loop_register(napi_env env, napi_value exports); /* replay_loop.c */

/* The output buffer, kept between calls (a replay calls once per recorded batch: a fresh 1 MiB buffer each time
 * is an mmap and 256 page faults per call). Per thread: a worker's addon instance calls on its own thread. */
static __thread uint8_t *kept;
static __thread size_t kept_cap;

/* renderPlanRenderTo(plan, batch: Buffer, offset, count, fd) -> { done, offset, stop, error }:
 * renders up to `count` records of a reader-layout batch ([u32 len][u32 cpu][payload padded to 8]…) starting at
 * byte `offset`, writing the lines to `fd`. `done`: records consumed; `offset`: the byte offset after them;
 * `stop`: 0 all consumed, 1 the next record missed a memo (not rendered, not consumed), 2 the last consumed record
 * was rendered with a memo past its TTL (JS refreshes it); `error`: errno of a failed write (0: none). */
static napi_value js_render_to(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!ig_args(env, info, 5, argv)) return NULL;
  ig_plan *p = ig_plan_arg(env, argv[0]);
  void *data;
  size_t len;
  int32_t off32, count, fd;
  if (!p || !ig_arg_bytes(env, argv[1], "batch", &data, &len) || !ig_arg_i32(env, argv[2], "offset", &off32) ||
      !ig_arg_i32(env, argv[3], "count", &count) || !ig_arg_i32(env, argv[4], "fd", &fd))
    return NULL;
  if (off32 < 0 || (size_t)off32 > len || count < 0) return ig_throw_msg(env, "renderPlanRenderTo: offset or count out of range");
  ig_out o;
  if (!kept) {
    if (!ig_out_init(&o, fd, 1 << 20)) return ig_throw_msg(env, "renderPlanRenderTo: out of memory");
  } else {
    memset(&o, 0, sizeof o);
    atomic_init(&o.error, 0);
    o.fd = fd;
    o.p = kept;
    o.cap = kept_cap;
  }
  kept = NULL; /* owned by o until the call ends */
  const uint8_t *d = data;
  size_t off = (size_t)off32;
  int32_t done = 0, stop = 0;
  uint64_t now = ig_mono_ns();
  while (done < count && off + 8 <= len) {
    uint32_t rl;
    memcpy(&rl, d + off, 4);
    if (rl > len - off - 8) break; /* a record past the buffer's end: the caller's batch is cut; stop here */
    int rc = ig_plan_render(p, d + off + 8, rl, now, &o);
    if (rc == IG_RENDER_MISS) { stop = 1; break; }
    off += 8 + ((rl + 7) & ~7u);
    done++;
    if (rc == IG_RENDER_REFRESH) { stop = 2; break; }
    if (ig_out_error(&o)) break;
  }
  ig_out_flush(&o);
  int err = ig_out_error(&o);
  kept = o.p;
  kept_cap = o.cap;
  napi_value res;
  NAPI_TRY(env, napi_create_object(env, &res));
  if (!ig_set_num(env, res, "done", done) || !ig_set_num(env, res, "offset", (double)off) || !ig_set_num(env, res, "stop", stop) ||
      !ig_set_num(env, res, "error", err))
    return NULL;
  return res;
}

bool ig_replay_render_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "renderPlanRenderTo", js_render_to);
  return ig_replay_loop_register(env, exports);
}
