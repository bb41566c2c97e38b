/* bpf_object lifecycle: open, pre-load configuration, load, introspection, close. */
#include "addon.h"
#include "signals_held.h"

#include <bpf/btf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The verifier log buffer handed to libbpf through kernel_log_buf. It only lives until load()
 * returns; malloc maps it lazily, so only the pages the kernel writes cost memory. The kernel
 * keeps the tail of an overlong log (rotating log), which holds the rejection reason. */
#define IG_VERIFIER_LOG_SIZE (16u << 20)

static void object_release(ig_object *o) {
  if (o->obj) {
    ig_pf_forget(o->obj);
    bpf_object__close(o->obj);
    o->obj = NULL;
  }
  free(o->elf_copy);
  o->elf_copy = NULL;
  free(o->log_buf);
  o->log_buf = NULL;
  for (size_t i = 0; i < o->n_aliases; i++) free(o->aliases[i].name);
  free(o->aliases);
  o->aliases = NULL;
  o->n_aliases = 0;
}

static struct bpf_map *alias_lookup(ig_object *o, const char *name) {
  for (size_t i = 0; i < o->n_aliases; i++)
    if (strcmp(o->aliases[i].name, name) == 0) return o->aliases[i].map;
  return NULL;
}

static const char *declared_name(ig_object *o, struct bpf_map *m) {
  for (size_t i = 0; i < o->n_aliases; i++)
    if (o->aliases[i].map == m) return o->aliases[i].name;
  return bpf_map__name(m);
}

static void object_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ig_object *o = data;
  object_release(o);
  free(o->name);
  o->magic = 0;
  free(o);
}

ig_object *ig_object_arg(napi_env env, napi_value v) {
  ig_object *o = ig_handle(env, v, IG_MAGIC_OBJECT, "bpf_object");
  if (!o) return NULL;
  if (!o->obj) {
    ig_throw_msg(env, "bpf object %s is closed", o->name ? o->name : "?");
    return NULL;
  }
  return o;
}

struct bpf_program *ig_find_prog(napi_env env, ig_object *o, napi_value name_v, char **name_out, bool need_loaded) {
  char *name;
  if (!ig_arg_string(env, name_v, "program name", &name)) return NULL;
  struct bpf_program *p = bpf_object__find_program_by_name(o->obj, name);
  if (!p) {
    ig_throw_errno(env, ENOENT, false, "program %s not found in object %s", name, o->name);
    free(name);
    return NULL;
  }
  if (need_loaded && bpf_program__fd(p) < 0) {
    ig_throw_errno(env, EBADF, false, "program %s of object %s is not loaded", name, o->name);
    free(name);
    return NULL;
  }
  if (name_out)
    *name_out = name;
  else
    free(name);
  return p;
}

static struct bpf_map *find_map(napi_env env, ig_object *o, napi_value name_v, char **name_out) {
  char *name;
  if (!ig_arg_string(env, name_v, "map name", &name)) return NULL;
  struct bpf_map *m = alias_lookup(o, name);
  if (!m) m = bpf_object__find_map_by_name(o->obj, name);
  if (!m) {
    ig_throw_errno(env, ENOENT, false, "map %s not found in object %s", name, o->name);
    free(name);
    return NULL;
  }
  if (name_out)
    *name_out = name;
  else
    free(name);
  return m;
}

static bool require_not_loaded(napi_env env, ig_object *o, const char *op) {
  if (o->loaded) {
    ig_throw_msg(env, "%s: object %s is already loaded", op, o->name);
    return false;
  }
  return true;
}

/* open(src: string | Buffer, name: string, btfCustomPath?: string): ObjectHandle. btfCustomPath: the kernel types
 * CO-RE relocations read instead of /sys/kernel/btf/vmlinux (a minimized BTF: parsing vmlinux's was most of a
 * load's time). */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  char *name = NULL, *path = NULL, *btf_path = NULL; /* libbpf keeps its own copy of btf_path */
  void *data = NULL;
  size_t len = 0;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    if (!ig_arg_string(env, argv[0], "path", &path)) return NULL;
  } else if (!ig_arg_bytes(env, argv[0], "src", &data, &len)) {
    return NULL;
  }
  if (ig_is_nullish(env, argv[1])) {
    name = strdup(path ? path : "object");
    if (!name) {
      free(path);
      return ig_throw_errno(env, ENOMEM, false, "open object");
    }
  } else if (!ig_arg_string(env, argv[1], "name", &name)) {
    free(path);
    return NULL;
  }

  ig_object *o = calloc(1, sizeof *o);
  if (!o) {
    free(path);
    free(name);
    return ig_throw_errno(env, ENOMEM, false, "open object");
  }
  o->magic = IG_MAGIC_OBJECT;
  o->name = name;
  o->log_size = IG_VERIFIER_LOG_SIZE;
  o->log_buf = malloc(o->log_size);
  if (!o->log_buf) goto nomem;
  o->log_buf[0] = 0;
  if (!ig_arg_string_or_null(env, argv[2], "btfCustomPath", &btf_path)) {
    free(path);
    object_finalize(env, o, NULL);
    return NULL;
  }

  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name, .kernel_log_buf = o->log_buf,
              .kernel_log_size = o->log_size, .kernel_log_level = 0, .btf_custom_path = btf_path);
  ig_iter_target_register(); /* SEC("ig_iter/...") must have its handler before any object opens */
  ig_log_reset();
  if (path) {
    o->obj = bpf_object__open_file(path, &opts);
  } else {
    if (len == 0) {
      errno = EINVAL;
      o->obj = NULL;
    } else {
      /* libbpf keeps pointers into the image: give it a copy we own until close. */
      o->elf_copy = malloc(len);
      if (!o->elf_copy) goto nomem;
      memcpy(o->elf_copy, data, len);
      o->obj = bpf_object__open_mem(o->elf_copy, len, &opts);
    }
  }
  free(btf_path);
  if (!o->obj) {
    int err = errno;
    ig_throw_errno(env, err, true, "open object %s%s%s", name, path ? " from " : "", path ? path : "");
    free(path);
    object_finalize(env, o, NULL);
    return NULL;
  }
  free(path);

  napi_value ext;
  if (napi_create_external(env, o, object_finalize, NULL, &ext) != napi_ok) {
    object_finalize(env, o, NULL);
    return ig_napi_fail(env, napi_generic_failure, "napi_create_external");
  }
  return ext;

nomem:
  free(path);
  free(btf_path);
  object_finalize(env, o, NULL);
  return ig_throw_errno(env, ENOMEM, false, "open object");
}

/* setVar(h, varName, value) */
static napi_value js_set_var(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  if (!require_not_loaded(env, o, "setVar")) return NULL;
  char *var;
  if (!ig_arg_string(env, argv[1], "variable name", &var)) return NULL;
  void *val;
  size_t vlen;
  if (!ig_arg_bytes(env, argv[2], "value", &val, &vlen)) {
    free(var);
    return NULL;
  }

  const struct btf *btf = bpf_object__btf(o->obj);
  if (!btf) {
    ig_throw_errno(env, ENOENT, false, "setVar %s: object %s has no BTF", var, o->name);
    free(var);
    return NULL;
  }
  const char *sec_name = NULL;
  uint32_t off = 0, size = 0;
  bool found = false;
  uint32_t n = btf__type_cnt(btf);
  for (uint32_t id = 1; id < n && !found; id++) {
    const struct btf_type *t = btf__type_by_id(btf, id);
    if (!t || !btf_is_datasec(t)) continue;
    const struct btf_var_secinfo *vs = btf_var_secinfos(t);
    for (uint16_t i = 0; i < btf_vlen(t); i++, vs++) {
      const struct btf_type *vt = btf__type_by_id(btf, vs->type);
      if (!vt || !btf_is_var(vt)) continue;
      const char *vn = btf__name_by_offset(btf, vt->name_off);
      if (vn && strcmp(vn, var) == 0) {
        sec_name = btf__name_by_offset(btf, t->name_off);
        off = vs->offset;
        size = vs->size;
        found = true;
        break;
      }
    }
  }
  if (!found) {
    ig_throw_errno(env, ENOENT, false, "setVar: variable %s not found in object %s", var, o->name);
    free(var);
    return NULL;
  }
  if (vlen > size) {
    ig_throw_errno(env, E2BIG, false, "setVar: value for %s is %zu bytes, the variable has %u", var, vlen, size);
    free(var);
    return NULL;
  }
  struct bpf_map *m = sec_name ? bpf_object__find_map_by_name(o->obj, sec_name) : NULL;
  if (!m) {
    ig_throw_errno(env, ENOENT, false, "setVar: no map backs section %s of variable %s", sec_name ? sec_name : "?", var);
    free(var);
    return NULL;
  }
  size_t msize = 0;
  uint8_t *mem = bpf_map__initial_value(m, &msize);
  if (!mem || (size_t)off + size > msize) {
    ig_throw_errno(env, EINVAL, false, "setVar: variable %s lies outside the %s data (%zu bytes)", var, sec_name, msize);
    free(var);
    return NULL;
  }
  memcpy(mem + off, val, vlen);
  if (vlen < size) memset(mem + off + vlen, 0, size - vlen);
  free(var);
  return ig_undefined(env);
}

/* maps(h): MapInfo[] */
static napi_value js_maps(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  napi_value arr;
  NAPI_TRY(env, napi_create_array(env, &arr));
  uint32_t i = 0;
  struct bpf_map *m;
  bpf_object__for_each_map(m, o->obj) {
    napi_value e;
    NAPI_TRY(env, napi_create_object(env, &e));
    ig_set_str(env, e, "name", declared_name(o, m));
    ig_set_num(env, e, "type", bpf_map__type(m));
    ig_set_num(env, e, "keySize", bpf_map__key_size(m));
    ig_set_num(env, e, "valueSize", bpf_map__value_size(m));
    ig_set_num(env, e, "maxEntries", bpf_map__max_entries(m));
    ig_set_num(env, e, "fd", o->loaded && bpf_map__fd(m) >= 0 ? bpf_map__fd(m) : -1);
    napi_value internal;
    napi_get_boolean(env, bpf_map__is_internal(m), &internal);
    napi_set_named_property(env, e, "internal", internal);
    NAPI_TRY(env, napi_set_element(env, arr, i++, e));
  }
  return arr;
}

/* programs(h): ProgramInfo[] */
static napi_value js_programs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  napi_value arr;
  NAPI_TRY(env, napi_create_array(env, &arr));
  uint32_t i = 0;
  struct bpf_program *p;
  bpf_object__for_each_program(p, o->obj) {
    napi_value e;
    NAPI_TRY(env, napi_create_object(env, &e));
    ig_set_str(env, e, "name", bpf_program__name(p));
    ig_set_str(env, e, "section", bpf_program__section_name(p));
    ig_set_num(env, e, "type", bpf_program__type(p));
    int pfd = bpf_program__fd(p);
    ig_set_num(env, e, "fd", pfd < 0 ? -1 : pfd);
    napi_value autoload;
    napi_get_boolean(env, bpf_program__autoload(p), &autoload);
    napi_set_named_property(env, e, "autoload", autoload);
    NAPI_TRY(env, napi_set_element(env, arr, i++, e));
  }
  return arr;
}

/* setMapMaxEntries(h, map, n) */
static napi_value js_set_map_max_entries(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o || !require_not_loaded(env, o, "setMapMaxEntries")) return NULL;
  char *name;
  struct bpf_map *m = find_map(env, o, argv[1], &name);
  if (!m) return NULL;
  int64_t n;
  if (!ig_arg_i64(env, argv[2], "maxEntries", &n)) goto out;
  if (n < 0 || n > UINT32_MAX) {
    ig_throw_type(env, "maxEntries out of range");
    goto out;
  }
  ig_log_reset();
  int err = bpf_map__set_max_entries(m, (uint32_t)n);
  if (err) ig_throw_errno(env, err, true, "set max entries of map %s", name);
out:
  free(name);
  return ig_undefined(env);
}

/* setMapType(h, map, type) */
static napi_value js_set_map_type(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o || !require_not_loaded(env, o, "setMapType")) return NULL;
  char *name;
  struct bpf_map *m = find_map(env, o, argv[1], &name);
  if (!m) return NULL;
  int32_t type;
  if (!ig_arg_i32(env, argv[2], "type", &type)) goto out;
  enum bpf_map_type old = bpf_map__type(m);
  ig_log_reset();
  int err = bpf_map__set_type(m, (enum bpf_map_type)type);
  if (!err && old == BPF_MAP_TYPE_RINGBUF && type == BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
    /* A perf event array maps CPU index -> perf fd; libbpf sizes it to the CPU count when 0. */
    err = bpf_map__set_key_size(m, 4);
    if (!err) err = bpf_map__set_value_size(m, 4);
    if (!err) err = bpf_map__set_max_entries(m, 0);
  }
  if (err) ig_throw_errno(env, err, true, "set type of map %s to %d", name, type);
out:
  free(name);
  return ig_undefined(env);
}

/* reuseMapFd(h, map, fd) */
static napi_value js_reuse_map_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o || !require_not_loaded(env, o, "reuseMapFd")) return NULL;
  char *name;
  struct bpf_map *m = find_map(env, o, argv[1], &name);
  if (!m) return NULL;
  int32_t fd;
  if (!ig_arg_i32(env, argv[2], "fd", &fd)) goto out;
  bool had_alias = alias_lookup(o, name) != NULL;
  struct ig_map_alias *na = had_alias ? o->aliases : realloc(o->aliases, (o->n_aliases + 1) * sizeof *na);
  if (!na) {
    ig_throw_errno(env, ENOMEM, false, "reuse fd %d for map %s", fd, name);
    goto out;
  }
  o->aliases = na;
  ig_log_reset();
  int err = bpf_map__reuse_fd(m, fd);
  if (err) {
    ig_throw_errno(env, err, true, "reuse fd %d for map %s", fd, name);
  } else if (!had_alias && strcmp(bpf_map__name(m), name) != 0) {
    o->aliases[o->n_aliases].name = name;
    o->aliases[o->n_aliases].map = m;
    o->n_aliases++;
    name = NULL; /* owned by the alias table */
  }
out:
  free(name);
  return ig_undefined(env);
}

static napi_value set_prog_flag(napi_env env, napi_callback_info info, bool autoattach) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  if (!autoattach && !require_not_loaded(env, o, "setAutoload")) return NULL;
  char *name;
  struct bpf_program *p = ig_find_prog(env, o, argv[1], &name, false);
  if (!p) return NULL;
  bool on;
  if (ig_arg_bool(env, argv[2], "flag", &on)) {
    if (autoattach) {
      bpf_program__set_autoattach(p, on);
    } else {
      int err = bpf_program__set_autoload(p, on);
      if (err) ig_throw_errno(env, err, false, "set autoload of program %s", name);
    }
  }
  free(name);
  return ig_undefined(env);
}

static napi_value js_set_autoload(napi_env env, napi_callback_info info) { return set_prog_flag(env, info, false); }

/* Sections libbpf does not know (upstream's "socket1", "perf_event/<name>") need their type set before load. */
static napi_value js_set_program_type(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  if (!require_not_loaded(env, o, "setProgramType")) return NULL;
  char *name;
  struct bpf_program *p = ig_find_prog(env, o, argv[1], &name, false);
  if (!p) return NULL;
  int32_t type;
  if (ig_arg_i32(env, argv[2], "type", &type)) {
    int err = bpf_program__set_type(p, (enum bpf_prog_type)type);
    if (err) ig_throw_errno(env, err, false, "set type of program %s", name);
  }
  free(name);
  return ig_undefined(env);
}

/* Run a loaded program once with BPF_PROG_TEST_RUN (on-demand snapshot programs). Returns its return value. */
static napi_value js_prog_test_run(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  char *name;
  struct bpf_program *p = ig_find_prog(env, o, argv[1], &name, true);
  if (!p) return NULL;
  void *ctx = NULL;
  size_t ctx_len = 0;
  if (!ig_is_nullish(env, argv[2]) && !ig_arg_bytes(env, argv[2], "ctx", &ctx, &ctx_len)) {
    free(name);
    return NULL;
  }
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx, .ctx_size_in = (__u32)ctx_len);
  int err = bpf_prog_test_run_opts(bpf_program__fd(p), &opts);
  napi_value res = NULL;
  if (err) ig_throw_errno(env, -errno, false, "test run of program %s", name);
  else res = ig_num(env, (double)opts.retval);
  free(name);
  return res;
}
static napi_value js_set_autoattach(napi_env env, napi_callback_info info) { return set_prog_flag(env, info, true); }

/* Verifier log as printed by libbpf through the print callback, for when our buffer is empty. */
static char *log_from_libbpf_text(void) {
  const char *t = ig_log_text();
  const char *b = strstr(t, "-- BEGIN PROG LOAD LOG --\n");
  if (!b) return NULL;
  b += strlen("-- BEGIN PROG LOAD LOG --\n");
  const char *e = strstr(b, "-- END PROG LOAD LOG --");
  size_t n = e ? (size_t)(e - b) : strlen(b);
  char *s = malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, b, n);
  s[n] = 0;
  return s;
}

/* load(h) */
static napi_value js_load(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o || !require_not_loaded(env, o, "load")) return NULL;
  if (o->log_buf) o->log_buf[0] = 0;
  ig_log_reset();
  sigset_t held; /* a signal arriving while the verifier runs fails the load with EAGAIN (signals_held.c) */
  ig_signals_hold(&held);
  int err = bpf_object__load(o->obj);
  ig_signals_release(&held);
  o->loaded = true; /* libbpf refuses a second load attempt either way */
  if (err) {
    napi_value e;
    char msg[512];
    snprintf(msg, sizeof msg, "load object %s", o->name);
    e = ig_make_errno_error(env, err, true, msg);
    if (e) {
      char *fallback = NULL;
      const char *log = o->log_buf && o->log_buf[0] ? o->log_buf : NULL;
      if (!log) log = fallback = log_from_libbpf_text();
      ig_set_str(env, e, "log", log ? log : "");
      free(fallback);
      napi_throw(env, e);
    }
  }
  /* libbpf only uses the log buffer while loading. */
  free(o->log_buf);
  o->log_buf = NULL;
  return err ? NULL : ig_undefined(env);
}

/* mapFd(h, map): number (-1 before load) */
static napi_value js_map_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  struct bpf_map *m = find_map(env, o, argv[1], NULL);
  if (!m) return NULL;
  return ig_num(env, o->loaded && bpf_map__fd(m) >= 0 ? bpf_map__fd(m) : -1);
}

/* progFd(h, prog): number (-1 before load) */
static napi_value js_prog_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  struct bpf_program *p = ig_find_prog(env, o, argv[1], NULL, false);
  if (!p) return NULL;
  int pfd = bpf_program__fd(p);
  return ig_num(env, pfd < 0 ? -1 : pfd);
}

/* close(h): idempotent */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_object *o = ig_handle(env, argv[0], IG_MAGIC_OBJECT, "bpf_object");
  if (!o) return NULL;
  object_release(o);
  return ig_undefined(env);
}

/* btf(h): Buffer with the object's raw BTF (after open, DATASEC sizes/offsets fixed), or null. */
static napi_value js_btf(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  const struct btf *btf = bpf_object__btf(o->obj);
  napi_value res;
  if (!btf) {
    napi_get_null(env, &res);
    return res;
  }
  uint32_t sz = 0;
  const void *raw = btf__raw_data(btf, &sz);
  if (!raw) return ig_throw_errno(env, errno, false, "btf of object %s", o->name);
  NAPI_TRY(env, napi_create_buffer_copy(env, sz, raw, NULL, &res));
  return res;
}

bool ig_object_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "open", js_open);
  IG_EXPORT(env, exports, "setVar", js_set_var);
  IG_EXPORT(env, exports, "maps", js_maps);
  IG_EXPORT(env, exports, "programs", js_programs);
  IG_EXPORT(env, exports, "setMapMaxEntries", js_set_map_max_entries);
  IG_EXPORT(env, exports, "setMapType", js_set_map_type);
  IG_EXPORT(env, exports, "reuseMapFd", js_reuse_map_fd);
  IG_EXPORT(env, exports, "setAutoload", js_set_autoload);
  IG_EXPORT(env, exports, "setAutoattach", js_set_autoattach);
  IG_EXPORT(env, exports, "setProgramType", js_set_program_type);
  IG_EXPORT(env, exports, "progTestRun", js_prog_test_run);
  IG_EXPORT(env, exports, "load", js_load);
  IG_EXPORT(env, exports, "mapFd", js_map_fd);
  IG_EXPORT(env, exports, "progFd", js_prog_fd);
  IG_EXPORT(env, exports, "close", js_close);
  IG_EXPORT(env, exports, "btf", js_btf);
  return true;
}
