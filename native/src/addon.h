/* Shared declarations for the ig native addon (plain C Node-API over libbpf). */
#ifndef IG_NATIVE_ADDON_H
#define IG_NATIVE_ADDON_H

#define NAPI_VERSION 8
#define _GNU_SOURCE 1

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>

/* ---- handle kinds (first field of every handle struct) ---- */
#define IG_MAGIC_OBJECT 0x1b0b7ec7u
#define IG_MAGIC_LINK 0x1b0711c4u
#define IG_MAGIC_READER 0x1b0ead37u

typedef struct ig_object {
  uint32_t magic;
  struct bpf_object *obj; /* NULL once closed */
  void *elf_copy;         /* private copy of the ELF when opened from a Buffer */
  char *log_buf;          /* verifier log buffer, only alive until load */
  size_t log_size;
  char *name;
  bool loaded;
  /* bpf_map__reuse_fd renames the map after the reused one; remember the declared names. */
  struct ig_map_alias {
    char *name;
    struct bpf_map *map;
  } *aliases;
  size_t n_aliases;
} ig_object;

enum ig_link_kind { IG_LINK_BPF = 1, IG_LINK_TC = 2 };

typedef struct ig_link {
  uint32_t magic;
  int kind;
  bool active;
  struct bpf_link *link; /* IG_LINK_BPF */
  /* IG_LINK_TC */
  int ifindex;
  int attach_point;
  uint32_t handle;
  uint32_t priority;
} ig_link;

typedef struct ig_reader ig_reader;

/* Per-env state (napi instance data). */
typedef struct ig_env {
  napi_env env;
  ig_reader *readers; /* running readers, for the env cleanup hook */
} ig_env;

/* ---- libbpf_log.c ---- */
void ig_log_install(void);
void ig_log_reset(void);
const char *ig_log_text(void); /* captured libbpf warnings on this thread ("" if none) */
void ig_set_debug(bool on);

/* ---- napi_helpers.c ---- */

/* Throw an Error "<msg>: <strerror(err)>" with .errno/.code (and .libbpfLog when libbpf said something).
 * When with_libbpf_hint is set, the first libbpf warning line is appended in parentheses. Always returns NULL. */
napi_value ig_throw_errno(napi_env env, int err, bool with_libbpf_hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Create (not throw) such an error object. */
napi_value ig_make_errno_error(napi_env env, int err, bool with_libbpf_hint, const char *msg);
napi_value ig_throw_type(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
napi_value ig_throw_msg(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After a failed napi_* call: make sure an exception is pending. Returns NULL. */
napi_value ig_napi_fail(napi_env env, napi_status st, const char *what);
/* A Buffer over malloc'd memory: ownership moves to JS (freed by its finaliser; copied and freed at once where a
 * runtime forbids external buffers). len 0: p is freed, the Buffer is empty. */
napi_value ig_take_buffer(napi_env env, void *p, size_t len);
/* The same for memory `release` gives back (a pool's block): it runs as the Buffer's finaliser, or at once. */
napi_value ig_take_buffer_released(napi_env env, void *p, size_t len, napi_finalize release);

#define NAPI_TRY(env, call)                                   \
  do {                                                        \
    napi_status ig_st_ = (call);                              \
    if (ig_st_ != napi_ok) return ig_napi_fail(env, ig_st_, #call); \
  } while (0)

/* Argument helpers. All return false with a pending TypeError on failure. */
bool ig_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv);
bool ig_arg_string(napi_env env, napi_value v, const char *what, char **out);       /* malloc'd */
bool ig_arg_string_or_null(napi_env env, napi_value v, const char *what, char **out); /* NULL for null/undefined */
bool ig_arg_i64(napi_env env, napi_value v, const char *what, int64_t *out);
bool ig_arg_i32(napi_env env, napi_value v, const char *what, int32_t *out);
bool ig_arg_bool(napi_env env, napi_value v, const char *what, bool *out);
bool ig_arg_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len);
bool ig_is_nullish(napi_env env, napi_value v);
/* Optional property of an options object; returns true and leaves *out untouched if absent. */
bool ig_opt_i64(napi_env env, napi_value obj, const char *key, int64_t *out, bool *present);

/* CLOCK_MONOTONIC in ns (readers' latency deadlines, render memos' TTLs). */
uint64_t ig_mono_ns(void);

napi_value ig_undefined(napi_env env);
napi_value ig_num(napi_env env, double d);
napi_value ig_str(napi_env env, const char *s);
bool ig_set_num(napi_env env, napi_value obj, const char *key, double d);
bool ig_set_str(napi_env env, napi_value obj, const char *key, const char *s);

/* Unwrap a handle external of the given magic; throws a TypeError naming `what` otherwise. */
void *ig_handle(napi_env env, napi_value v, uint32_t magic, const char *what);

/* ---- modules: each returns false on failure (exception pending) ---- */
bool ig_object_register(napi_env env, napi_value exports);
bool ig_attach_register(napi_env env, napi_value exports);
bool ig_maps_register(napi_env env, napi_value exports);
bool ig_reader_register(napi_env env, napi_value exports);
bool ig_raw_socket_filter_register(napi_env env, napi_value exports); /* raw_socket_filter.c */
bool ig_ring_drain_register(napi_env env, napi_value exports);        /* ring_drain.c */
bool ig_prog_stats_register(napi_env env, napi_value exports);       /* prog_stats.c */
bool ig_clean_pages_register(napi_env env, napi_value exports);      /* clean_pages.c */
bool ig_heap_trim_register(napi_env env, napi_value exports);        /* heap_trim.c */
bool ig_deadline_register(napi_env env, napi_value exports);          /* deadline.cc (C++: V8 termination) */
bool ig_pcap_filter_register(napi_env env, napi_value exports);       /* pcap_filter.c */
bool ig_wire_register(napi_env env, napi_value exports);              /* wire_batch.c */
bool ig_replay_render_register(napi_env env, napi_value exports);     /* replay_render.c */
bool ig_iter_register(napi_env env, napi_value exports);              /* iter_run.c */
/* Join the network namespace at `path` (this thread only): 0, or an errno with *step naming the failed step. */
int ig_netns_enter(const char *path, const char **step); /* netns_enter.c */
/* pcap_filter.c: the "classifier/" section handler (once per process) and an object's filters at close */
void ig_pf_install(void);
void ig_pf_forget(struct bpf_object *obj);

/* SEC("ig_iter/<target>") programs: iterators whose attach point ig finds without libbpf parsing vmlinux BTF (iter_target.c). */
void ig_iter_target_register(void);
/* object.c helpers used by attach.c */
ig_object *ig_object_arg(napi_env env, napi_value v);
struct bpf_program *ig_find_prog(napi_env env, ig_object *o, napi_value name_v, char **name_out, bool need_loaded);

/* reader.c: hard-stop every running reader of this env (cleanup hook). */
void ig_readers_shutdown(ig_env *e);

#define IG_EXPORT(env, exports, jsname, fn)                                          \
  do {                                                                             \
    napi_value f_;                                                                 \
    if (napi_create_function(env, jsname, NAPI_AUTO_LENGTH, fn, NULL, &f_) != napi_ok || \
        napi_set_named_property(env, exports, jsname, f_) != napi_ok)              \
      return false;                                                                \
  } while (0)

#endif
