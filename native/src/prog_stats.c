/* Every eBPF program and map on the machine, by kernel id: run-time statistics (bpfstats).
 *
 *   enableRunTimeStats(): fd   BPF_ENABLE_STATS(BPF_STATS_RUN_TIME); the kernel counts run time and run count of
 *                              every program while this fd is open (the caller owns it; closeFd ends it)
 *   progNextId(id): number     the next program id after `id`, 0 when there is none
 *   progInfo(id): {...}|null   id, type, name, runTimeNs, runCnt, mapIds (null when the program went away)
 *   mapMemlock(id): number|-1  the `memlock:` bytes of /proc/self/fdinfo of the map (-1 when it went away)
 *   progIdOfFd(fd): number     the kernel id of a program fd this process holds
 *
 * Needs CAP_SYS_ADMIN, like every other call here. */
#include "addon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static napi_value js_enable_run_time_stats(napi_env env, napi_callback_info info) {
  ig_log_reset();
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) return ig_throw_errno(env, fd, false, "enable eBPF run-time statistics (BPF_ENABLE_STATS)");
  return ig_num(env, fd);
}

static napi_value js_prog_next_id(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  int64_t id;
  if (!ig_arg_i64(env, argv[0], "id", &id)) return NULL;
  __u32 next = 0;
  int err = bpf_prog_get_next_id((__u32)id, &next);
  if (err == -ENOENT) return ig_num(env, 0);
  if (err) return ig_throw_errno(env, err, false, "next eBPF program after id %u", (__u32)id);
  return ig_num(env, next);
}

/* At most this many map ids per program are reported (a gadget has tens). */
#define MAX_MAP_IDS 64

static napi_value js_prog_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  int64_t id;
  if (!ig_arg_i64(env, argv[0], "id", &id)) return NULL;
  int fd = bpf_prog_get_fd_by_id((__u32)id);
  if (fd == -ENOENT) {
    napi_value n;
    napi_get_null(env, &n);
    return n;
  }
  if (fd < 0) return ig_throw_errno(env, fd, false, "open eBPF program %u", (__u32)id);
  __u32 map_ids[MAX_MAP_IDS];
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof(pi));
  pi.nr_map_ids = MAX_MAP_IDS;
  pi.map_ids = (__u64)(unsigned long)map_ids;
  __u32 len = sizeof(pi);
  int err = bpf_obj_get_info_by_fd(fd, &pi, &len);
  close(fd);
  if (err) return ig_throw_errno(env, err, false, "eBPF program %u: info", (__u32)id);
  napi_value o, ids;
  if (napi_create_object(env, &o) != napi_ok) return ig_napi_fail(env, napi_generic_failure, "object");
  __u32 n = pi.nr_map_ids < MAX_MAP_IDS ? pi.nr_map_ids : MAX_MAP_IDS;
  if (napi_create_array_with_length(env, n, &ids) != napi_ok) return ig_napi_fail(env, napi_generic_failure, "array");
  for (__u32 i = 0; i < n; i++) napi_set_element(env, ids, i, ig_num(env, map_ids[i]));
  char name[BPF_OBJ_NAME_LEN + 1];
  memcpy(name, pi.name, BPF_OBJ_NAME_LEN);
  name[BPF_OBJ_NAME_LEN] = 0;
  /* run_time_ns exceeds 2^53 only after 104 days of CPU time in one program: a double is exact enough. */
  if (!ig_set_num(env, o, "id", pi.id) || !ig_set_num(env, o, "type", pi.type) || !ig_set_str(env, o, "name", name) ||
      !ig_set_num(env, o, "runTimeNs", (double)pi.run_time_ns) || !ig_set_num(env, o, "runCnt", (double)pi.run_cnt) ||
      napi_set_named_property(env, o, "mapIds", ids) != napi_ok)
    return NULL;
  return o;
}

static napi_value js_map_memlock(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  int64_t id;
  if (!ig_arg_i64(env, argv[0], "id", &id)) return NULL;
  int fd = bpf_map_get_fd_by_id((__u32)id);
  if (fd == -ENOENT) return ig_num(env, -1);
  if (fd < 0) return ig_throw_errno(env, fd, false, "open eBPF map %u", (__u32)id);
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(path, "r");
  double memlock = 0;
  if (f) {
    char line[256];
    unsigned long long v;
    while (fgets(line, sizeof(line), f))
      if (sscanf(line, "memlock: %llu", &v) == 1) { memlock = (double)v; break; }
    fclose(f);
  }
  close(fd);
  return ig_num(env, memlock);
}

static napi_value js_prog_id_of_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!ig_arg_i32(env, argv[0], "fd", &fd)) return NULL;
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof(pi));
  __u32 len = sizeof(pi);
  int err = bpf_obj_get_info_by_fd(fd, &pi, &len);
  if (err) return ig_throw_errno(env, err, false, "program fd %d: info", fd);
  return ig_num(env, pi.id);
}

bool ig_prog_stats_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "enableRunTimeStats", js_enable_run_time_stats);
  IG_EXPORT(env, exports, "progNextId", js_prog_next_id);
  IG_EXPORT(env, exports, "progInfo", js_prog_info);
  IG_EXPORT(env, exports, "mapMemlock", js_map_memlock);
  IG_EXPORT(env, exports, "progIdOfFd", js_prog_id_of_fd);
  return true;
}
