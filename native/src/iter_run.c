/* BPF iterators: open an iterator of a link (bpf_iter_create) and read it to EOF.
 * - iterRun(obj, prog): attach, read, detach, for programs whose work is what they write into maps (the exe
 *   tracker's sweep of the processes older than ig); the output is counted and dropped.
 * - iterRead(link, netns, chunk): one snapshot of an attached iterator (snapshotters): every byte the program wrote
 *   with bpf_seq_write, in order. Records may straddle read() calls (the kernel fills each read with whole
 *   seq_file pages, not whole records), so the bytes are gathered first and split by the caller.
 * On the JS thread: a walk of a few hundred tasks or sockets takes about a millisecond of kernel time. */
#include "addon.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read fd to EOF. keep: gather the bytes into *out (malloc'd, *len bytes); else only count them. Returns 0 or errno
 * (then *len says how many bytes came before the error, and *out is freed). */
static int read_to_eof(int fd, size_t chunk, bool keep, char **out, size_t *len) {
  char scratch[4096];
  char *buf = NULL;
  size_t cap = 0, n = 0;
  if (chunk == 0) chunk = 64 * 1024;
  if (!keep && chunk > sizeof scratch) chunk = sizeof scratch;
  for (;;) {
    char *dst = scratch;
    if (keep) {
      if (cap - n < chunk) {
        size_t ncap = cap ? cap * 2 : chunk * 2;
        while (ncap - n < chunk) ncap *= 2;
        char *nb = realloc(buf, ncap);
        if (!nb) {
          free(buf);
          *len = n;
          return ENOMEM;
        }
        buf = nb;
        cap = ncap;
      }
      dst = buf + n;
    }
    ssize_t r = read(fd, dst, chunk);
    if (r > 0) {
      n += (size_t)r;
      continue;
    }
    if (r == 0) break;
    if (errno == EINTR) continue;
    int err = errno;
    free(buf);
    *len = n;
    return err;
  }
  if (keep) *out = buf;
  *len = n;
  return 0;
}

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
  size_t total = 0;
  int err = read_to_eof(fd, 0, false, NULL, &total);
  close(fd);
  bpf_link__destroy(link);
  if (err) {
    napi_value ex = ig_throw_errno(env, err, false, "iterator %s: read", name);
    free(name);
    return ex;
  }
  free(name);
  napi_value res;
  NAPI_TRY(env, napi_create_double(env, (double)total, &res));
  return res;
}

/* Network iterators (tcp, udp, unix, netlink, ipv6_route) walk the network namespace of the task that creates the
 * iterator fd; a thread's namespace is its own, so the fd is made on a short-lived thread that joins the target
 * first (the JS thread never changes namespace). */
struct iter_job {
  const char *netns;
  int link_fd;
  int fd;
  int err;
  const char *step;
};

static void *iter_thread(void *arg) {
  struct iter_job *j = arg;
  if ((j->err = ig_netns_enter(j->netns, &j->step))) return NULL;
  j->fd = bpf_iter_create(j->link_fd);
  if (j->fd < 0) {
    j->err = errno;
    j->step = "create";
  }
  return NULL;
}

/* iterRead(link, netnsPath | null, chunk): a Buffer of everything the iterator program wrote (chunk: bytes per
 * read(); 0 for 64 KiB). */
static napi_value js_iter_read(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!ig_args(env, info, 3, argv)) return NULL;
  ig_link *l = ig_handle(env, argv[0], IG_MAGIC_LINK, "link");
  if (!l) return NULL;
  if (!l->active || l->kind != IG_LINK_BPF) return ig_throw_msg(env, "iterRead: not an attached iterator link");
  char *netns = NULL;
  int32_t chunk;
  if (!ig_arg_string_or_null(env, argv[1], "netns", &netns)) return NULL;
  if (!ig_arg_i32(env, argv[2], "chunk", &chunk)) {
    free(netns);
    return NULL;
  }
  if (chunk < 0) {
    free(netns);
    return ig_throw_type(env, "iterRead: chunk must be >= 0");
  }
  struct iter_job j = {.netns = netns, .link_fd = bpf_link__fd(l->link), .fd = -1, .err = 0, .step = "create"};
  if (netns) {
    pthread_t t;
    int e = pthread_create(&t, NULL, iter_thread, &j);
    if (e) {
      free(netns);
      return ig_throw_errno(env, e, false, "iterator: thread");
    }
    pthread_join(t, NULL);
  } else {
    j.fd = bpf_iter_create(j.link_fd);
    if (j.fd < 0) j.err = errno;
  }
  if (j.fd < 0) {
    napi_value ex = netns ? ig_throw_errno(env, j.err, false, "iterator in %s: %s", netns, j.step)
                          : ig_throw_errno(env, j.err, false, "iterator: %s", j.step);
    free(netns);
    return ex;
  }
  free(netns);
  char *buf = NULL;
  size_t len = 0;
  int err = read_to_eof(j.fd, (size_t)chunk, true, &buf, &len);
  close(j.fd);
  if (err) return ig_throw_errno(env, err, false, "iterator: read after %zu bytes", len);
  if (len > 0) {
    /* give back the slack of the doubling (up to half the buffer) */
    char *fit = realloc(buf, len);
    if (fit) buf = fit;
  }
  return ig_take_buffer(env, buf, len);
}

bool ig_iter_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "iterRun", js_iter_run);
  IG_EXPORT(env, exports, "iterRead", js_iter_read);
  return true;
}
