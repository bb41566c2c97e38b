/* Run a BPF iterator program once over what it walks (iter/task: every task of the machine) and return how many
 * bytes it wrote. The program's work is what counts (e.g. the exe tracker's sweep of the processes older than ig,
 * recorded into its map in the kernel instead of one /proc read per process later); its output is read and dropped.
 * On the JS thread: a sweep of a few hundred tasks takes about a millisecond of kernel time. */
#include "addon.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* iterRun(obj, progName): bytes the program wrote */
static napi_value js_iter_run(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  ig_object *o = ig_object_arg(env, argv[0]);
  if (!o) return NULL;
  char *name = NULL;
  struct bpf_program *p = ig_find_prog(env, o, argv[1], &name, true);
  if (!p) return NULL;
  struct bpf_link *link = bpf_program__attach_iter(p, NULL);
  if (!link) {
    int err = errno;
    napi_value ex = ig_throw_errno(env, err, true, "iterator %s: attach", name);
    free(name);
    return ex;
  }
  int fd = bpf_iter_create(bpf_link__fd(link));
  if (fd < 0) {
    int err = errno;
    bpf_link__destroy(link);
    napi_value ex = ig_throw_errno(env, err, false, "iterator %s: create", name);
    free(name);
    return ex;
  }
  char buf[4096];
  double total = 0;
  int err = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      total += (double)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    break;
  }
  close(fd);
  bpf_link__destroy(link);
  if (err) {
    napi_value ex = ig_throw_errno(env, err, false, "iterator %s: read", name);
    free(name);
    return ex;
  }
  free(name);
  napi_value res;
  NAPI_TRY(env, napi_create_double(env, total, &res));
  return res;
}

bool ig_iter_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "iterRun", js_iter_run);
  return true;
}
