/* Node-API helpers: errors (with errno codes and libbpf's words), argument parsing, values and handles. */
#include "addon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* First line of the captured text, without the "libbpf: " prefix, into out. */
static void first_line(char *out, size_t outsz) {
  const char *t = ig_log_text();
  out[0] = 0;
  while (*t) {
    const char *eol = strchr(t, '\n');
    size_t len = eol ? (size_t)(eol - t) : strlen(t);
    const char *s = t;
    if (len >= 8 && strncmp(s, "libbpf: ", 8) == 0) {
      s += 8;
      len -= 8;
    }
    if (len > 0) {
      if (len >= outsz) len = outsz - 1;
      memcpy(out, s, len);
      out[len] = 0;
      return;
    }
    if (!eol) break;
    t = eol + 1;
  }
}

static const char *errno_name(int err) {
  const char *n = strerrorname_np(err);
  return n ? n : "EUNKNOWN";
}

napi_value ig_make_errno_error(napi_env env, int err, bool with_libbpf_hint, const char *msg) {
  if (err < 0) err = -err;
  if (err == 0) err = EINVAL;
  char hint[512];
  hint[0] = 0;
  if (with_libbpf_hint) first_line(hint, sizeof hint);
  char full[2048];
  if (hint[0])
    snprintf(full, sizeof full, "%s: %s (%s)", msg, strerror(err), hint);
  else
    snprintf(full, sizeof full, "%s: %s", msg, strerror(err));
  napi_value m, e, code;
  if (napi_create_string_utf8(env, full, NAPI_AUTO_LENGTH, &m) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_error(env, code, m, &e) != napi_ok) return NULL;
  ig_set_num(env, e, "errno", err);
  const char *log = ig_log_text();
  if (log[0]) ig_set_str(env, e, "libbpfLog", log);
  return e;
}

napi_value ig_throw_errno(napi_env env, int err, bool with_libbpf_hint, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_value e = ig_make_errno_error(env, err, with_libbpf_hint, msg);
  if (e) napi_throw(env, e);
  return NULL;
}

napi_value ig_throw_type(napi_env env, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

napi_value ig_throw_msg(napi_env env, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_error(env, NULL, msg);
  return NULL;
}

napi_value ig_napi_fail(napi_env env, napi_status st, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env, &info);
    char msg[512];
    snprintf(msg, sizeof msg, "node-api call failed (%d: %s): %s", (int)st,
             info && info->error_message ? info->error_message : "unknown", what);
    napi_throw_error(env, NULL, msg);
  }
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Arguments
 * ------------------------------------------------------------------------------------------- */
bool ig_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    ig_napi_fail(env, napi_generic_failure, "napi_get_cb_info");
    return false;
  }
  /* Missing arguments are filled with undefined by napi_get_cb_info. */
  return true;
}

bool ig_is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

bool ig_arg_string(napi_env env, napi_value v, const char *what, char **out) {
  size_t len = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    ig_throw_type(env, "%s must be a string", what);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    ig_napi_fail(env, napi_string_expected, what);
    return false;
  }
  char *s = malloc(len + 1);
  if (!s) {
    ig_throw_errno(env, ENOMEM, false, "%s", what);
    return false;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  *out = s;
  return true;
}

bool ig_arg_string_or_null(napi_env env, napi_value v, const char *what, char **out) {
  if (ig_is_nullish(env, v)) {
    *out = NULL;
    return true;
  }
  return ig_arg_string(env, v, what, out);
}

bool ig_arg_i64(napi_env env, napi_value v, const char *what, int64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok;
  }
  if (t != napi_number) {
    ig_throw_type(env, "%s must be a number", what);
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (d != d || d > 9.2e18 || d < -9.2e18) {
    ig_throw_type(env, "%s is out of range", what);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool ig_arg_i32(napi_env env, napi_value v, const char *what, int32_t *out) {
  int64_t x;
  if (!ig_arg_i64(env, v, what, &x)) return false;
  if (x < INT32_MIN || x > UINT32_MAX) {
    ig_throw_type(env, "%s is out of range", what);
    return false;
  }
  *out = (int32_t)x;
  return true;
}

bool ig_arg_bool(napi_env env, napi_value v, const char *what, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined || t == napi_null) {
    *out = false;
    return true;
  }
  if (t != napi_boolean) {
    ig_throw_type(env, "%s must be a boolean", what);
    return false;
  }
  return napi_get_value_bool(env, v, out) == napi_ok;
}

bool ig_arg_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    return napi_get_buffer_info(env, v, data, len) == napi_ok;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type tt;
    size_t n, off;
    napi_value ab;
    void *p;
    if (napi_get_typedarray_info(env, v, &tt, &n, &p, &ab, &off) != napi_ok) return false;
    size_t el = 1;
    switch (tt) {
      case napi_int16_array: case napi_uint16_array: el = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
      default: el = 1;
    }
    *data = p;
    *len = n * el;
    return true;
  }
  ig_throw_type(env, "%s must be a Buffer or Uint8Array", what);
  return false;
}

bool ig_opt_i64(napi_env env, napi_value obj, const char *key, int64_t *out, bool *present) {
  if (present) *present = false;
  if (ig_is_nullish(env, obj)) return true;
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return false;
  if (ig_is_nullish(env, v)) return true;
  if (!ig_arg_i64(env, v, key, out)) return false;
  if (present) *present = true;
  return true;
}

uint64_t ig_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

napi_value ig_undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value ig_num(napi_env env, double d) {
  napi_value v;
  if (napi_create_double(env, d, &v) != napi_ok) return NULL;
  return v;
}

napi_value ig_str(napi_env env, const char *s) {
  napi_value v;
  if (napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v) != napi_ok) return NULL;
  return v;
}

bool ig_set_num(napi_env env, napi_value obj, const char *key, double d) {
  napi_value v = ig_num(env, d);
  return v && napi_set_named_property(env, obj, key, v) == napi_ok;
}

bool ig_set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value v = ig_str(env, s);
  return v && napi_set_named_property(env, obj, key, v) == napi_ok;
}

void *ig_handle(napi_env env, napi_value v, uint32_t magic, const char *what) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, v, &p) != napi_ok || !p || *(uint32_t *)p != magic) {
    ig_throw_type(env, "expected a %s handle", what);
    return NULL;
  }
  return p;
}

static void free_taken(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

napi_value ig_take_buffer(napi_env env, void *p, size_t len) { return ig_take_buffer_released(env, p, len, free_taken); }

napi_value ig_take_buffer_released(napi_env env, void *p, size_t len, napi_finalize release) {
  napi_value b;
  if (len == 0) {
    release(env, p, NULL);
    if (napi_create_buffer(env, 0, NULL, &b) != napi_ok) return ig_napi_fail(env, napi_generic_failure, "buffer");
    return b;
  }
  if (napi_create_external_buffer(env, len, p, release, NULL, &b) != napi_ok) {
    /* Some runtimes forbid external buffers: fall back to a copy. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
    }
    napi_status st = napi_create_buffer_copy(env, len, p, NULL, &b);
    release(env, p, NULL);
    if (st != napi_ok) return ig_napi_fail(env, st, "napi_create_buffer_copy");
  }
  return b;
}
