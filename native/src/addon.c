/* Module entry: registration, per-env state and the teardown hook. */
#include <malloc.h>
#include <time.h>
#include "addon.h"
#include "render_plan.h"
#include "metrics_agg.h"
#include "record_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static napi_value js_libbpf_version(napi_env env, napi_callback_info info) {
  (void)info;
  char v[32];
  snprintf(v, sizeof v, "%u.%u", libbpf_major_version(), libbpf_minor_version());
  return ig_str(env, v);
}

static napi_value js_num_possible_cpus(napi_env env, napi_callback_info info) {
  (void)info;
  int n = libbpf_num_possible_cpus();
  if (n < 0) return ig_throw_errno(env, n, false, "libbpf_num_possible_cpus");
  return ig_num(env, n);
}

/* setDebug(on): echo every libbpf message (including debug level) to stderr. */
static napi_value js_set_debug(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  bool on;
  if (!ig_arg_bool(env, argv[0], "on", &on)) return NULL;
  ig_set_debug(on);
  return ig_undefined(env);
}

/* Runs on process.exit() and worker termination: stop poll threads before the env goes away. */
static void env_cleanup(void *arg) {
  ig_env *e = arg;
  ig_readers_shutdown(e);
}

static void env_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* CLOCK_BOOTTIME in ns as a BigInt: what bpf_ktime_get_boot_ns() returns, to turn it into wall-clock time. */
static napi_value js_clock_boottime_ns(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  napi_value v;
  if (napi_create_bigint_uint64(env, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, &v) != napi_ok) return NULL;
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  static int installed;
  if (!__atomic_exchange_n(&installed, 1, __ATOMIC_ACQ_REL)) {
    /* Batches (1 MiB) and the strings written to stdout are large short-lived blocks. With glibc's dynamic mmap
     * threshold they end up in the heap once the first one is freed, and fragmentation held ~700 MiB of RSS
     * under an open() storm; a fixed threshold keeps them mmapped and returned on free (~120 MiB). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    ig_log_install();
    ig_pf_install();
    const char *dbg = getenv("IG_LIBBPF_DEBUG");
    if (dbg && *dbg && strcmp(dbg, "0") != 0) ig_set_debug(true);
  }
  ig_env *e = calloc(1, sizeof *e);
  if (!e) {
    napi_throw_error(env, NULL, "ig_native: out of memory");
    return NULL;
  }
  e->env = env;
  if (napi_set_instance_data(env, e, env_free, NULL) != napi_ok) {
    free(e);
    return ig_napi_fail(env, napi_generic_failure, "napi_set_instance_data");
  }
  napi_add_env_cleanup_hook(env, env_cleanup, e);

  if (!ig_object_register(env, exports) || !ig_attach_register(env, exports) || !ig_maps_register(env, exports) ||
      !ig_reader_register(env, exports) || !ig_raw_socket_filter_register(env, exports) || !ig_ring_drain_register(env, exports) || !ig_prog_stats_register(env, exports) ||
      !ig_render_register(env, exports) || !ig_render_buffer_register(env, exports) || !ig_magg_register(env, exports) || !ig_deadline_register(env, exports) ||
      !ig_pcap_filter_register(env, exports) || !ig_wire_register(env, exports) || !ig_replay_render_register(env, exports) ||
      !ig_record_writer_register(env, exports) || !ig_record_codec_register(env, exports) || !ig_iter_register(env, exports) ||
      !ig_clean_pages_register(env, exports) || !ig_heap_trim_register(env, exports))
    return NULL;
  IG_EXPORT(env, exports, "libbpfVersion", js_libbpf_version);
  IG_EXPORT(env, exports, "numPossibleCpus", js_num_possible_cpus);
  IG_EXPORT(env, exports, "setDebug", js_set_debug);
  IG_EXPORT(env, exports, "clockBoottimeNs", js_clock_boottime_ns);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
