// Deadlines for WASM data callbacks at two uncontended mutex sections per batch (instead of node:vm's
// thread per call, ~50 µs). One process-wide thread watches up to 64 slots; deadlineCall(slot, fn) arms its
// slot, calls fn and disarms it. When an armed call passes its deadline the thread asks V8 to terminate the
// isolate's JavaScript (what node:vm's timeout does); deadlineCall then sees its call end, cancels the
// termination and throws an ordinary Error (code IG_WASM_DEADLINE), so the run fails and stops in order.
//
// The only file that uses V8 and Node's C++ headers: Node-API has no way to stop running JavaScript.
// Races: TerminateExecution is only requested under the lock while the slot is armed with the generation the
// thread saw, and the caller disarms under the same lock before looking at `fired`, so a request never
// outlives the call it was meant for (a request that lands just after fn returned is cancelled too).
// Last resort: a slot still armed at twice its deadline (one deadline after the request: the guest is blocked
// where V8 cannot interrupt it, e.g. inside a host function stuck in a syscall) gets one line on stderr and SIGKILL:
// the kernel then closes every fd, which detaches every program ig attached by fd; only netlink-attached TC
// filters could stay, which is why this is the last resort and not the rule.
#include <node_api.h>
#include <v8.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

namespace {

constexpr int kSlots = 64;
constexpr long kTickNs = 10 * 1000 * 1000;  // 10 ms: deadlines are seconds, the tick is their resolution

struct Slot {
  bool used;
  bool armed;
  uint64_t gen;        // bumped on every arm
  uint64_t fired_gen;  // the generation the watchdog asked V8 to terminate
  int64_t start_ns;
  int64_t timeout_ns;
  v8::Isolate *iso;
  char line[768];      // the last-resort stderr line
};

Slot slots[kSlots];
pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
bool started = false;
// The thread parks after kParkTicks ticks with nothing armed (a run whose module is not called, e.g. trace_exec
// rendered on the reader thread, would otherwise pay 100 wake-ups a second: ~8% of ig's CPU in an exec storm);
// the next arm wakes it. Only a parked thread is signalled, so busy modules pay no extra syscall per call.
constexpr int kParkTicks = 100;  // 1 s
pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
bool parked = false;
uint64_t arms = 0;  // arms so far, guarded by mu

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void *watch(void *) {
  uint64_t seen_arms = 0;
  int idle_ticks = 0;
  for (;;) {
    struct timespec d = {0, kTickNs};
    nanosleep(&d, nullptr);
    pthread_mutex_lock(&mu);
    int64_t now = now_ns();
    bool any_armed = false;
    for (int i = 0; i < kSlots; i++) {
      Slot &s = slots[i];
      if (!s.used || !s.armed) continue;
      any_armed = true;
      int64_t took = now - s.start_ns;
      if (s.fired_gen != s.gen) {
        if (took > s.timeout_ns) {
          s.fired_gen = s.gen;
          s.iso->TerminateExecution();  // thread-safe; takes effect at the guest's next loop/call check
        }
      } else if (took > 2 * s.timeout_ns) {  // one more deadline of grace after the request
        ssize_t w = write(2, s.line, strlen(s.line));
        (void)w;  // nothing left to do if stderr is gone
        kill(getpid(), SIGKILL);
      }
    }
    idle_ticks = any_armed || arms != seen_arms ? 0 : idle_ticks + 1;
    seen_arms = arms;
    if (idle_ticks >= kParkTicks) {
      parked = true;
      while (parked) pthread_cond_wait(&wake, &mu);
      idle_ticks = 0;
      seen_arms = arms;
    }
    pthread_mutex_unlock(&mu);
  }
  return nullptr;
}

// napi_value is V8's handle location (Node's v8impl does the same conversion).
inline v8::Local<v8::Value> local(napi_value v) {
  v8::Local<v8::Value> l;
  static_assert(sizeof l == sizeof v, "napi_value is a v8::Local");
  memcpy(static_cast<void *>(&l), &v, sizeof v);
  return l;
}
inline napi_value value(v8::Local<v8::Value> l) { return reinterpret_cast<napi_value>(*l); }

bool slot_arg(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok || *out < 0 || *out >= kSlots || !slots[*out].used) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "deadline slot: not an open slot");
    return false;
  }
  return true;
}

// deadlineOpen(timeoutMs, lastResortLine): slot number, or -1 when all 64 are taken.
napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double ms = 0;
  char line[768] = {0};
  size_t len = 0;
  if (argc < 2 || napi_get_value_double(env, argv[0], &ms) != napi_ok || !(ms >= 1) ||
      napi_get_value_string_utf8(env, argv[1], line, sizeof line - 1, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "deadlineOpen(timeoutMs >= 1, line: string)");
    return nullptr;
  }
  pthread_mutex_lock(&mu);
  int slot = -1;
  for (int i = 0; i < kSlots && slot < 0; i++)
    if (!slots[i].used) slot = i;
  if (slot >= 0) {
    Slot &s = slots[slot];
    s.used = true;
    s.armed = false;
    s.fired_gen = s.gen;
    s.timeout_ns = (int64_t)(ms * 1e6);
    memcpy(s.line, line, sizeof line);
  }
  if (slot >= 0 && !started) {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, watch, nullptr) == 0) started = true;
    pthread_attr_destroy(&a);
    if (!started) {
      slots[slot].used = false;
      slot = -1;  // no watchdog thread: the caller falls back to node:vm
    }
  }
  pthread_mutex_unlock(&mu);
  napi_value r;
  napi_create_int32(env, slot, &r);
  return r;
}

napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t slot;
  if (argc < 1 || !slot_arg(env, argv[0], &slot)) return nullptr;
  pthread_mutex_lock(&mu);
  slots[slot].used = false;
  pthread_mutex_unlock(&mu);
  return nullptr;
}

// deadlineCall(slot, fn): fn() under the slot's deadline; throws Error{code: 'IG_WASM_DEADLINE'} when stopped.
napi_value js_call(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t slot;
  if (argc < 2 || !slot_arg(env, argv[0], &slot)) return nullptr;
  v8::Local<v8::Value> fv = local(argv[1]);
  if (!fv->IsFunction()) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "deadlineCall: fn is not a function");
    return nullptr;
  }
  v8::Isolate *iso = v8::Isolate::GetCurrent();
  Slot &s = slots[slot];
  pthread_mutex_lock(&mu);
  uint64_t gen = ++s.gen;
  s.iso = iso;
  s.start_ns = now_ns();
  s.armed = true;
  arms++;
  if (parked) {
    parked = false;
    pthread_cond_signal(&wake);
  }
  pthread_mutex_unlock(&mu);

  napi_value result = nullptr;
  bool fired;
  {
    v8::TryCatch tc(iso);
    v8::MaybeLocal<v8::Value> r = fv.As<v8::Function>()->Call(iso->GetCurrentContext(), v8::Undefined(iso), 0, nullptr);
    pthread_mutex_lock(&mu);
    s.armed = false;
    fired = s.fired_gen == gen;
    pthread_mutex_unlock(&mu);
    if (fired) {
      // Ours: clear the termination (running or still requested) and what the TryCatch caught.
      iso->CancelTerminateExecution();
      tc.Reset();
    } else if (r.IsEmpty()) {
      // The callback's own exception, or someone else's termination (node:vm, worker.terminate()): pass it on.
      tc.ReThrow();
      return nullptr;
    } else {
      result = value(r.ToLocalChecked());
    }
  }
  if (fired) {
    napi_throw_error(env, "IG_WASM_DEADLINE", "did not return within the deadline and was stopped");
    return nullptr;
  }
  return result;
}

}  // namespace

extern "C" bool ig_deadline_register(napi_env env, napi_value exports) {
  const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"deadlineOpen", js_open}, {"deadlineClose", js_close}, {"deadlineCall", js_call}};
  for (const auto &f : fns) {
    napi_value v;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v) != napi_ok ||
        napi_set_named_property(env, exports, f.name, v) != napi_ok)
      return false;
  }
  return true;
}
