/* Map operations by fd through libbpf's low-level bpf_map_* API. Sizes are checked against the
 * kernel's view of the map (bpf_map_get_info_by_fd) so a short Buffer can never be over-read. */
#include "addon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool map_info(napi_env env, int fd, struct bpf_map_info *mi) {
  memset(mi, 0, sizeof *mi);
  uint32_t len = sizeof *mi;
  int err = bpf_map_get_info_by_fd(fd, mi, &len);
  if (err) {
    ig_throw_errno(env, err, false, "map fd %d: get info", fd);
    return false;
  }
  return true;
}

static bool is_percpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static bool is_array(uint32_t type) {
  return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PROG_ARRAY ||
         type == BPF_MAP_TYPE_PERF_EVENT_ARRAY || type == BPF_MAP_TYPE_CGROUP_ARRAY ||
         type == BPF_MAP_TYPE_ARRAY_OF_MAPS;
}

/* Bytes of one value as seen from user space (all CPUs for per-CPU maps). */
static size_t value_bytes(const struct bpf_map_info *mi) {
  if (!is_percpu(mi->type)) return mi->value_size;
  int n = libbpf_num_possible_cpus();
  if (n < 1) n = 1;
  return (size_t)((mi->value_size + 7u) & ~7u) * (size_t)n;
}

/* Check a caller-given size against the kernel's; 0/undefined means "use the map's". */
static bool check_size(napi_env env, napi_value v, uint32_t actual, const char *what, int fd) {
  if (ig_is_nullish(env, v)) return true;
  int64_t s;
  if (!ig_arg_i64(env, v, what, &s)) return false;
  if (s != 0 && s != (int64_t)actual) {
    ig_throw_errno(env, EINVAL, false, "map fd %d: %s %lld does not match the map's %u", fd, what, (long long)s, actual);
    return false;
  }
  return true;
}

static bool key_arg(napi_env env, napi_value v, const struct bpf_map_info *mi, int fd, void **key) {
  size_t len;
  *key = NULL;
  if (mi->key_size == 0 && ig_is_nullish(env, v)) return true;
  if (!ig_arg_bytes(env, v, "key", key, &len)) return false;
  if (len < mi->key_size) {
    ig_throw_errno(env, EINVAL, false, "map fd %d: key is %zu bytes, the map's keys are %u", fd, len, mi->key_size);
    return false;
  }
  return true;
}

/* mapInfo(fd): {name,type,keySize,valueSize,maxEntries,flags,id,fd} */
static napi_value js_map_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!ig_arg_i32(env, argv[0], "fd", &fd)) return NULL;
  struct bpf_map_info mi;
  if (!map_info(env, fd, &mi)) return NULL;
  napi_value o;
  NAPI_TRY(env, napi_create_object(env, &o));
  ig_set_str(env, o, "name", mi.name);
  ig_set_num(env, o, "type", mi.type);
  ig_set_num(env, o, "keySize", mi.key_size);
  ig_set_num(env, o, "valueSize", mi.value_size);
  ig_set_num(env, o, "maxEntries", mi.max_entries);
  ig_set_num(env, o, "flags", mi.map_flags);
  ig_set_num(env, o, "id", mi.id);
  ig_set_num(env, o, "fd", fd);
  return o;
}

/* mapCreate(type, keySize, valueSize, maxEntries, name, flags): fd */
static napi_value js_map_create(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!ig_args(env, info, 6, argv)) return NULL;
  int32_t type, ks, vs, max, flags = 0;
  char *name = NULL;
  if (!ig_arg_i32(env, argv[0], "type", &type) || !ig_arg_i32(env, argv[1], "keySize", &ks) ||
      !ig_arg_i32(env, argv[2], "valueSize", &vs) || !ig_arg_i32(env, argv[3], "maxEntries", &max) ||
      !ig_arg_string_or_null(env, argv[4], "name", &name))
    return NULL;
  if (!ig_is_nullish(env, argv[5]) && !ig_arg_i32(env, argv[5], "flags", &flags)) {
    free(name);
    return NULL;
  }
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = (uint32_t)flags);
  ig_log_reset();
  int fd = bpf_map_create((enum bpf_map_type)type, name, (uint32_t)ks, (uint32_t)vs, (uint32_t)max, &opts);
  napi_value r = NULL;
  if (fd < 0)
    ig_throw_errno(env, fd, false, "create map %s (type %d, key %d, value %d, max %d)", name ? name : "", type, ks, vs,
                   max);
  else
    r = ig_num(env, fd);
  free(name);
  return r;
}

/* mapGetFdById(id): fd — opens a map the kernel knows by id (an inner map found in a map of maps). The caller
 * owns the new fd. Needs CAP_SYS_ADMIN, like every other call here. */
static napi_value js_map_get_fd_by_id(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  int32_t id;
  if (!ig_arg_i32(env, argv[0], "id", &id)) return NULL;
  ig_log_reset();
  int fd = bpf_map_get_fd_by_id((uint32_t)id);
  if (fd < 0) {
    ig_throw_errno(env, fd, false, "open map by id %u", (uint32_t)id);
    return NULL;
  }
  return ig_num(env, fd);
}

/* mapLookup(fd, key, valueSize): Buffer | null */
static napi_value js_map_lookup(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  int32_t fd;
  if (!ig_arg_i32(env, argv[0], "fd", &fd)) return NULL;
  struct bpf_map_info mi;
  if (!map_info(env, fd, &mi)) return NULL;
  void *key;
  if (!key_arg(env, argv[1], &mi, fd, &key) || !check_size(env, argv[2], mi.value_size, "valueSize", fd)) return NULL;
  size_t vb = value_bytes(&mi);
  void *val = malloc(vb ? vb : 1);
  if (!val) return ig_throw_errno(env, ENOMEM, false, "map fd %d: lookup", fd);
  int err = bpf_map_lookup_elem(fd, key, val);
  if (err) {
    free(val);
    if (err == -ENOENT) {
      napi_value n;
      napi_get_null(env, &n);
      return n;
    }
    return ig_throw_errno(env, err, false, "map %s (fd %d): lookup", mi.name, fd);
  }
  return ig_take_buffer(env, val, vb);
}

/* mapUpdate(fd, key, value, flags) */
static napi_value js_map_update(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  int32_t fd, flags = 0;
  if (!ig_arg_i32(env, argv[0], "fd", &fd)) return NULL;
  if (!ig_is_nullish(env, argv[3]) && !ig_arg_i32(env, argv[3], "flags", &flags)) return NULL;
  struct bpf_map_info mi;
  if (!map_info(env, fd, &mi)) return NULL;
  void *key, *val;
  size_t vlen;
  if (!key_arg(env, argv[1], &mi, fd, &key) || !ig_arg_bytes(env, argv[2], "value", &val, &vlen)) return NULL;
  size_t vb = value_bytes(&mi);
  if (vlen < vb) {
    return ig_throw_errno(env, EINVAL, false, "map %s (fd %d): value is %zu bytes, expected %zu%s", mi.name, fd, vlen,
                          vb, is_percpu(mi.type) ? " (one 8-aligned value per possible CPU)" : "");
  }
  int err = bpf_map_update_elem(fd, key, val, (uint64_t)(uint32_t)flags);
  if (err) return ig_throw_errno(env, err, false, "map %s (fd %d): update", mi.name, fd);
  return ig_undefined(env);
}

/* mapDelete(fd, key): boolean (false when absent) */
static napi_value js_map_delete(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  int32_t fd;
  if (!ig_arg_i32(env, argv[0], "fd", &fd)) return NULL;
  struct bpf_map_info mi;
  if (!map_info(env, fd, &mi)) return NULL;
  void *key;
  if (!key_arg(env, argv[1], &mi, fd, &key)) return NULL;
  int err = bpf_map_delete_elem(fd, key);
  napi_value b;
  if (err == -ENOENT) {
    napi_get_boolean(env, false, &b);
    return b;
  }
  if (err) return ig_throw_errno(env, err, false, "map %s (fd %d): delete", mi.name, fd);
  napi_get_boolean(env, true, &b);
  return b;
}

/* mapNextKey(fd, key | null, keySize): Buffer | null */
static napi_value js_map_next_key(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  int32_t fd;
  if (!ig_arg_i32(env, argv[0], "fd", &fd)) return NULL;
  struct bpf_map_info mi;
  if (!map_info(env, fd, &mi)) return NULL;
  if (!check_size(env, argv[2], mi.key_size, "keySize", fd)) return NULL;
  void *key = NULL;
  if (!ig_is_nullish(env, argv[1]) && !key_arg(env, argv[1], &mi, fd, &key)) return NULL;
  void *next = malloc(mi.key_size ? mi.key_size : 1);
  if (!next) return ig_throw_errno(env, ENOMEM, false, "map fd %d: next key", fd);
  int err = bpf_map_get_next_key(fd, key, next);
  if (err) {
    free(next);
    if (err == -ENOENT) {
      napi_value n;
      napi_get_null(env, &n);
      return n;
    }
    return ig_throw_errno(env, err, false, "map %s (fd %d): next key", mi.name, fd);
  }
  return ig_take_buffer(env, next, mi.key_size);
}

/* Growable byte vector. */
typedef struct {
  uint8_t *p;
  size_t len, cap;
} vec;

static bool vec_reserve(vec *v, size_t extra) {
  if (v->len + extra <= v->cap) return true;
  size_t nc = v->cap ? v->cap : 4096;
  while (nc < v->len + extra) nc *= 2;
  uint8_t *p = realloc(v->p, nc);
  if (!p) return false;
  v->p = p;
  v->cap = nc;
  return true;
}

/* Batch dump. Returns 0, or -errno; -EOPNOTSUPP/-ENOTSUPP/-EINVAL mean "use the fallback". */
static int dump_batch(int fd, const struct bpf_map_info *mi, bool del, vec *keys, vec *vals, uint32_t *count) {
  size_t vb = value_bytes(mi);
  uint32_t chunk = mi->max_entries < 256 ? (mi->max_entries ? mi->max_entries : 1) : 256;
  /* in/out batch tokens: the kernel uses a u32 bucket for hash maps and a key for arrays. */
  size_t tok = mi->key_size > 8 ? mi->key_size : 8;
  uint8_t *in = calloc(1, tok), *out = calloc(1, tok);
  if (!in || !out) {
    free(in);
    free(out);
    return -ENOMEM;
  }
  bool first = true;
  int ret = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  for (;;) {
    uint32_t n = chunk;
    if (!vec_reserve(keys, (size_t)n * mi->key_size) || !vec_reserve(vals, (size_t)n * vb)) {
      ret = -ENOMEM;
      break;
    }
    int err = del ? bpf_map_lookup_and_delete_batch(fd, first ? NULL : in, out, keys->p + keys->len,
                                                    vals->p + vals->len, &n, &opts)
                  : bpf_map_lookup_batch(fd, first ? NULL : in, out, keys->p + keys->len, vals->p + vals->len, &n,
                                         &opts);
    if (err && err != -ENOENT) {
      if (err == -ENOSPC && chunk < (1u << 20)) {
        /* A hash bucket holds more entries than fit: retry this step with a bigger chunk. */
        chunk *= 4;
        continue;
      }
      ret = err;
      break;
    }
    keys->len += (size_t)n * mi->key_size;
    vals->len += (size_t)n * vb;
    *count += n;
    if (err == -ENOENT) break; /* no more entries */
    memcpy(in, out, tok);
    first = false;
  }
  free(in);
  free(out);
  return ret;
}

/* Fallback: collect keys first (deleting while iterating would restart the walk), then look up. */
static int dump_iter(int fd, const struct bpf_map_info *mi, bool del, vec *keys, vec *vals, uint32_t *count) {
  size_t ks = mi->key_size, vb = value_bytes(mi);
  vec all = {0};
  uint8_t *cur = NULL;
  for (;;) {
    if (!vec_reserve(&all, ks ? ks : 1)) {
      free(all.p);
      return -ENOMEM;
    }
    uint8_t *next = all.p + all.len;
    int err = bpf_map_get_next_key(fd, cur, next);
    if (err == -ENOENT) break;
    if (err) {
      free(all.p);
      return err;
    }
    all.len += ks;
    cur = all.p + all.len - ks;
    if (all.len / (ks ? ks : 1) > (size_t)mi->max_entries + 1) break; /* map changing under us */
  }
  size_t n = ks ? all.len / ks : 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t *k = all.p + i * ks;
    if (!vec_reserve(keys, ks) || !vec_reserve(vals, vb)) {
      free(all.p);
      return -ENOMEM;
    }
    int err = del ? bpf_map_lookup_and_delete_elem(fd, k, vals->p + vals->len) : bpf_map_lookup_elem(fd, k, vals->p + vals->len);
    if (err && del && err != -ENOENT) {
      /* Older kernels lack lookup-and-delete on hash maps: lookup, then delete. */
      err = bpf_map_lookup_elem(fd, k, vals->p + vals->len);
      if (!err) bpf_map_delete_elem(fd, k);
    }
    if (err == -ENOENT) continue; /* deleted meanwhile */
    if (err) {
      free(all.p);
      return err;
    }
    memcpy(keys->p + keys->len, k, ks);
    keys->len += ks;
    vals->len += vb;
    (*count)++;
  }
  free(all.p);
  return 0;
}

/* mapDump(fd, keySize, valueSize, del): {keys, values, count} */
static napi_value js_map_dump(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  int32_t fd;
  bool del = false;
  if (!ig_arg_i32(env, argv[0], "fd", &fd) || !ig_arg_bool(env, argv[3], "del", &del)) return NULL;
  struct bpf_map_info mi;
  if (!map_info(env, fd, &mi)) return NULL;
  if (!check_size(env, argv[1], mi.key_size, "keySize", fd) || !check_size(env, argv[2], mi.value_size, "valueSize", fd))
    return NULL;
  if (del && is_array(mi.type))
    return ig_throw_errno(env, EINVAL, false, "map %s (fd %d): array maps cannot delete entries", mi.name, fd);
  vec keys = {0}, vals = {0};
  uint32_t count = 0;
  int err = dump_batch(fd, &mi, del, &keys, &vals, &count);
  if (err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */ || err == -EINVAL) {
    /* Unsupported batch op (it fails on the first call). When deleting, whatever a partial batch
     * already removed is kept and the walk continues with the rest. */
    if (!del) {
      keys.len = vals.len = 0;
      count = 0;
    }
    err = dump_iter(fd, &mi, del, &keys, &vals, &count);
  }
  if (err) {
    free(keys.p);
    free(vals.p);
    return ig_throw_errno(env, err, false, "map %s (fd %d): dump", mi.name, fd);
  }
  napi_value o;
  if (napi_create_object(env, &o) != napi_ok) {
    free(keys.p);
    free(vals.p);
    return ig_napi_fail(env, napi_generic_failure, "napi_create_object");
  }
  napi_value kb = ig_take_buffer(env, keys.p, keys.len);
  if (!kb) {
    free(vals.p);
    return NULL;
  }
  napi_value vbuf = ig_take_buffer(env, vals.p, vals.len);
  if (!vbuf) return NULL;
  napi_set_named_property(env, o, "keys", kb);
  napi_set_named_property(env, o, "values", vbuf);
  ig_set_num(env, o, "count", count);
  return o;
}

bool ig_maps_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "mapInfo", js_map_info);
  IG_EXPORT(env, exports, "mapCreate", js_map_create);
  IG_EXPORT(env, exports, "mapGetFdById", js_map_get_fd_by_id);
  IG_EXPORT(env, exports, "mapLookup", js_map_lookup);
  IG_EXPORT(env, exports, "mapUpdate", js_map_update);
  IG_EXPORT(env, exports, "mapDelete", js_map_delete);
  IG_EXPORT(env, exports, "mapNextKey", js_map_next_key);
  IG_EXPORT(env, exports, "mapDump", js_map_dump);
  return true;
}
