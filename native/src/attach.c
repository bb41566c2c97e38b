/* Attaching programs, link handles, TC, sockets and network namespaces. */
#include "addon.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/perf_event.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif

/* ---------------------------------------------------------------------------------------------
 * TC hook bookkeeping: the clsact qdisc is shared by every filter on an interface, so we only
 * destroy it when the last of our filters on that interface goes and we were the ones who
 * created it.
 * ------------------------------------------------------------------------------------------- */
typedef struct tc_hook_ref {
  struct tc_hook_ref *next;
  int ifindex;
  int refs;
  bool created;
} tc_hook_ref;

static pthread_mutex_t g_tc_mu = PTHREAD_MUTEX_INITIALIZER;
static tc_hook_ref *g_tc_hooks;

static tc_hook_ref *tc_ref_get(int ifindex) {
  for (tc_hook_ref *r = g_tc_hooks; r; r = r->next)
    if (r->ifindex == ifindex) return r;
  return NULL;
}

static void tc_ref_put(int ifindex) {
  pthread_mutex_lock(&g_tc_mu);
  tc_hook_ref *r = tc_ref_get(ifindex);
  if (r && --r->refs == 0) {
    if (r->created) {
      LIBBPF_OPTS(bpf_tc_hook, all, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&all);
    }
    tc_hook_ref **pp = &g_tc_hooks;
    while (*pp != r) pp = &(*pp)->next;
    *pp = r->next;
    free(r);
  }
  pthread_mutex_unlock(&g_tc_mu);
}

static void link_release(ig_link *l) {
  if (!l->active) return;
  l->active = false;
  if (l->kind == IG_LINK_BPF) {
    bpf_link__destroy(l->link);
    l->link = NULL;
    return;
  }
  /* TC */
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->ifindex, .attach_point = l->attach_point);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = l->handle, .priority = l->priority);
  bpf_tc_detach(&hook, &opts);
  tc_ref_put(l->ifindex);
}

static void link_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ig_link *l = data;
  link_release(l);
  l->magic = 0;
  free(l);
}

static napi_value wrap_link(napi_env env, ig_link *l) {
  napi_value ext;
  if (napi_create_external(env, l, link_finalize, NULL, &ext) != napi_ok) {
    link_finalize(env, l, NULL);
    return ig_napi_fail(env, napi_generic_failure, "napi_create_external");
  }
  return ext;
}

static napi_value wrap_bpf_link(napi_env env, struct bpf_link *bl) {
  ig_link *l = calloc(1, sizeof *l);
  if (!l) {
    bpf_link__destroy(bl);
    return ig_throw_errno(env, ENOMEM, false, "link");
  }
  l->magic = IG_MAGIC_LINK;
  l->kind = IG_LINK_BPF;
  l->link = bl;
  l->active = true;
  return wrap_link(env, l);
}

/* Common prologue: object, program (loaded). */
#define ATTACH_PROLOGUE(N)                                             \
  napi_value argv[N];                                                  \
  if (!ig_args(env, info, N, argv)) return NULL;                       \
  ig_object *o = ig_object_arg(env, argv[0]);                          \
  if (!o) return NULL;                                                 \
  char *pname = NULL;                                                  \
  struct bpf_program *prog = ig_find_prog(env, o, argv[1], &pname, true); \
  if (!prog) return NULL;                                              \
  ig_log_reset()

static napi_value finish_attach(napi_env env, struct bpf_link *bl, const char *what, const char *pname) {
  if (!bl) {
    int err = errno;
    return ig_throw_errno(env, err, false, "attach %s for program %s", what, pname);
  }
  return wrap_bpf_link(env, bl);
}

/* attachAuto(h, prog) */
static napi_value js_attach_auto(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(2);
  struct bpf_link *bl = bpf_program__attach(prog);
  char what[512];
  snprintf(what, sizeof what, "%s", bpf_program__section_name(prog));
  napi_value r = finish_attach(env, bl, what, pname);
  free(pname);
  return r;
}

/* attachIter(h, prog, mapFd): a BPF iterator link (BPF_TRACE_ITER); mapFd >= 0 for iter/bpf_map_elem and the other
 * map iterators (the map to walk), -1 otherwise. Each read of the iterator goes through iterRead (iter_run.c). */
static napi_value js_attach_iter(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(3);
  int32_t map_fd;
  if (!ig_arg_i32(env, argv[2], "mapFd", &map_fd)) {
    free(pname);
    return NULL;
  }
  union bpf_iter_link_info linfo;
  memset(&linfo, 0, sizeof linfo);
  LIBBPF_OPTS(bpf_iter_attach_opts, opts);
  if (map_fd >= 0) {
    linfo.map.map_fd = (__u32)map_fd;
    opts.link_info = &linfo;
    opts.link_info_len = sizeof linfo;
  }
  struct bpf_link *bl = bpf_program__attach_iter(prog, &opts);
  char what[512];
  snprintf(what, sizeof what, "iterator %s", bpf_program__section_name(prog));
  napi_value r = finish_attach(env, bl, what, pname);
  free(pname);
  return r;
}

/* attachTracepoint(h, prog, category, name) */
static napi_value js_attach_tracepoint(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(4);
  char *cat = NULL, *name = NULL;
  napi_value r = NULL;
  if (ig_arg_string(env, argv[2], "category", &cat) && ig_arg_string(env, argv[3], "name", &name)) {
    struct bpf_link *bl = bpf_program__attach_tracepoint(prog, cat, name);
    char what[512];
    snprintf(what, sizeof what, "tracepoint %s/%s", cat, name);
    r = finish_attach(env, bl, what, pname);
  }
  free(cat);
  free(name);
  free(pname);
  return r;
}

/* attachRawTracepoint(h, prog, name) */
static napi_value js_attach_raw_tracepoint(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(3);
  char *name = NULL;
  napi_value r = NULL;
  if (ig_arg_string(env, argv[2], "name", &name)) {
    struct bpf_link *bl = bpf_program__attach_raw_tracepoint(prog, name);
    char what[512];
    snprintf(what, sizeof what, "raw tracepoint %s", name);
    r = finish_attach(env, bl, what, pname);
  }
  free(name);
  free(pname);
  return r;
}

/* attachKprobe(h, prog, func, retprobe) */
static napi_value js_attach_kprobe(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(4);
  char *func = NULL;
  bool ret = false;
  napi_value r = NULL;
  if (ig_arg_string(env, argv[2], "func", &func) && ig_arg_bool(env, argv[3], "retprobe", &ret)) {
    struct bpf_link *bl = bpf_program__attach_kprobe(prog, ret, func);
    char what[512];
    snprintf(what, sizeof what, "%s %s", ret ? "kretprobe" : "kprobe", func);
    r = finish_attach(env, bl, what, pname);
  }
  free(func);
  free(pname);
  return r;
}

/* attachUprobe(h, prog, binaryPath, func, offset, retprobe, pid) */
static napi_value js_attach_uprobe(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(7);
  char *path = NULL, *func = NULL;
  int64_t off = 0;
  int32_t pid = -1;
  bool ret = false;
  napi_value r = NULL;
  if (ig_arg_string(env, argv[2], "binaryPath", &path) && ig_arg_string_or_null(env, argv[3], "func", &func) &&
      (ig_is_nullish(env, argv[4]) || ig_arg_i64(env, argv[4], "offset", &off)) &&
      ig_arg_bool(env, argv[5], "retprobe", &ret) &&
      (ig_is_nullish(env, argv[6]) || ig_arg_i32(env, argv[6], "pid", &pid))) {
    LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret, .func_name = (func && func[0]) ? func : NULL);
    struct bpf_link *bl = bpf_program__attach_uprobe_opts(prog, pid, path, (size_t)off, &uo);
    char what[1024];
    snprintf(what, sizeof what, "%s %s:%s+%lld", ret ? "uretprobe" : "uprobe", path, func ? func : "",
             (long long)off);
    r = finish_attach(env, bl, what, pname);
  }
  free(path);
  free(func);
  free(pname);
  return r;
}

/* attachPerfEvent(h, prog, {type, config, freq?, period?, cpu, pid?}) */
static napi_value js_attach_perf_event(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(3);
  int64_t type = 0, config = 0, freq = 0, period = 0, cpu = -1, pid = -1;
  bool has_freq = false, has_period = false, has_type = false, has_cpu = false;
  napi_value r = NULL;
  if (!ig_opt_i64(env, argv[2], "type", &type, &has_type) || !ig_opt_i64(env, argv[2], "config", &config, NULL) ||
      !ig_opt_i64(env, argv[2], "freq", &freq, &has_freq) ||
      !ig_opt_i64(env, argv[2], "period", &period, &has_period) || !ig_opt_i64(env, argv[2], "cpu", &cpu, &has_cpu) ||
      !ig_opt_i64(env, argv[2], "pid", &pid, NULL))
    goto out;
  if (!has_type || (!has_cpu && pid < 0)) {
    ig_throw_type(env, "attachPerfEvent needs type and cpu (or pid)");
    goto out;
  }
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = (uint32_t)type;
  attr.config = (uint64_t)config;
  if (has_freq && freq > 0) {
    attr.freq = 1;
    attr.sample_freq = (uint64_t)freq;
  } else {
    attr.sample_period = has_period && period > 0 ? (uint64_t)period : 1;
  }
  char what[256];
  snprintf(what, sizeof what, "perf event type %lld config %lld on cpu %lld", (long long)type, (long long)config,
           (long long)cpu);
  int pfd = (int)syscall(__NR_perf_event_open, &attr, (pid_t)pid, (int)cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (pfd < 0) {
    int err = errno;
    ig_throw_errno(env, err, false, "attach %s for program %s (perf_event_open)", what, pname);
    goto out;
  }
  struct bpf_link *bl = bpf_program__attach_perf_event(prog, pfd);
  if (!bl) {
    int err = errno;
    close(pfd);
    ig_throw_errno(env, err, false, "attach %s for program %s", what, pname);
    goto out;
  }
  /* The link owns pfd from here on: bpf_link__destroy closes it. */
  r = wrap_bpf_link(env, bl);
out:
  free(pname);
  return r;
}

/* attachSocketFilter(h, prog, sockFd) */
static napi_value js_attach_socket_filter(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(3);
  int32_t sock;
  napi_value r = NULL;
  if (ig_arg_i32(env, argv[2], "sockFd", &sock)) {
    int pfd = bpf_program__fd(prog);
    if (setsockopt(sock, SOL_SOCKET, SO_ATTACH_BPF, &pfd, sizeof pfd) < 0) {
      int err = errno;
      ig_throw_errno(env, err, false, "attach socket filter on fd %d for program %s", sock, pname);
    } else {
      r = ig_undefined(env);
    }
  }
  free(pname);
  return r;
}

/* TC attach of a program fd on ifindex (shared by attachTc and attachTcFd); returns a link or NULL (thrown). */
static napi_value tc_attach_fd(napi_env env, int prog_fd, const char *pname, int32_t ifindex, bool egress) {
  int point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
  char what[128];
  snprintf(what, sizeof what, "tc %s on ifindex %d", egress ? "egress" : "ingress", ifindex);

  ig_link *l = calloc(1, sizeof *l);
  if (!l) return ig_throw_errno(env, ENOMEM, false, "attach %s for program %s", what, pname);
  pthread_mutex_lock(&g_tc_mu);
  tc_hook_ref *ref = tc_ref_get(ifindex);
  if (!ref) {
    ref = calloc(1, sizeof *ref);
    if (!ref) {
      pthread_mutex_unlock(&g_tc_mu);
      free(l);
      return ig_throw_errno(env, ENOMEM, false, "attach %s for program %s", what, pname);
    }
    LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex, .attach_point = point);
    int err = bpf_tc_hook_create(&h);
    if (err && err != -EEXIST) {
      pthread_mutex_unlock(&g_tc_mu);
      free(ref);
      free(l);
      return ig_throw_errno(env, err, false, "attach %s for program %s (create clsact hook)", what, pname);
    }
    ref->ifindex = ifindex;
    ref->created = (err == 0);
    ref->next = g_tc_hooks;
    g_tc_hooks = ref;
  }
  ref->refs++;
  pthread_mutex_unlock(&g_tc_mu);

  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd);
  int err = bpf_tc_attach(&hook, &opts);
  l->magic = IG_MAGIC_LINK;
  l->kind = IG_LINK_TC;
  l->ifindex = ifindex;
  l->attach_point = point;
  if (err) {
    /* Drop our hook reference (destroys the hook if we just created it). */
    tc_ref_put(ifindex);
    free(l);
    return ig_throw_errno(env, err, false, "attach %s for program %s", what, pname);
  }
  l->handle = opts.handle;
  l->priority = opts.priority;
  l->active = true;
  return wrap_link(env, l);
}

/* attachTc(h, prog, ifindex, egress) */
static napi_value js_attach_tc(napi_env env, napi_callback_info info) {
  ATTACH_PROLOGUE(4);
  int32_t ifindex;
  bool egress = false;
  napi_value r = NULL;
  if (ig_arg_i32(env, argv[2], "ifindex", &ifindex) && ig_arg_bool(env, argv[3], "egress", &egress))
    r = tc_attach_fd(env, bpf_program__fd(prog), pname, ifindex, egress);
  free(pname);
  return r;
}

/* attachTcFd(progFd, ifindex, egress, name): a program loaded outside an object (e.g. a dispatcher) */
static napi_value js_attach_tc_fd(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  int32_t fd, ifindex;
  bool egress = false;
  char *name;
  if (!ig_arg_i32(env, argv[0], "progFd", &fd) || !ig_arg_i32(env, argv[1], "ifindex", &ifindex) ||
      !ig_arg_bool(env, argv[2], "egress", &egress) || !ig_arg_string(env, argv[3], "name", &name))
    return NULL;
  napi_value r = tc_attach_fd(env, fd, name, ifindex, egress);
  free(name);
  return r;
}

/* linkDestroy(l): idempotent */
static napi_value js_link_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  ig_link *l = ig_handle(env, argv[0], IG_MAGIC_LINK, "link");
  if (!l) return NULL;
  link_release(l);
  return ig_undefined(env);
}

/* ---------------------------------------------------------------------------------------------
 * Packet sockets inside a network namespace. The namespace of a thread is its own, so the socket
 * is made on a short-lived thread that joins the target netns first; the socket keeps the netns
 * it was created in, and the JS thread never changes namespace.
 * ------------------------------------------------------------------------------------------- */
struct pkt_job {
  const char *netns;
  int ifindex;
  int fd;
  int err;
  const char *step;
};

static void *pkt_thread(void *arg) {
  struct pkt_job *j = arg;
  j->fd = -1;
  if (j->netns && (j->err = ig_netns_enter(j->netns, &j->step))) return NULL;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) {
    j->err = errno;
    j->step = "socket";
    return NULL;
  }
  if (j->ifindex > 0) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = j->ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
      j->err = errno;
      j->step = "bind";
      close(fd);
      return NULL;
    }
  }
  j->fd = fd;
  return NULL;
}

/* openPacketSocket(netnsPath | null, ifindex): fd */
static napi_value js_open_packet_socket(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  char *ns = NULL;
  int32_t ifindex = 0;
  if (!ig_arg_string_or_null(env, argv[0], "netnsPath", &ns)) return NULL;
  if (!ig_is_nullish(env, argv[1]) && !ig_arg_i32(env, argv[1], "ifindex", &ifindex)) {
    free(ns);
    return NULL;
  }
  struct pkt_job j = {.netns = ns, .ifindex = ifindex, .fd = -1};
  pthread_t t;
  int err = pthread_create(&t, NULL, pkt_thread, &j);
  if (err) {
    free(ns);
    return ig_throw_errno(env, err, false, "open packet socket: pthread_create");
  }
  pthread_join(t, NULL);
  napi_value r = NULL;
  if (j.fd < 0)
    ig_throw_errno(env, j.err, false, "open packet socket in %s (ifindex %d): %s", ns ? ns : "current netns",
                   ifindex, j.step);
  else
    r = ig_num(env, j.fd);
  free(ns);
  return r;
}

/* closeFd(fd) */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  int32_t fd;
  if (!ig_arg_i32(env, argv[0], "fd", &fd)) return NULL;
  if (fd < 0) return ig_undefined(env);
  if (close(fd) < 0 && errno != EINTR) return ig_throw_errno(env, errno, false, "close fd %d", fd);
  return ig_undefined(env);
}

bool ig_attach_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "attachAuto", js_attach_auto);
  IG_EXPORT(env, exports, "attachIter", js_attach_iter);
  IG_EXPORT(env, exports, "attachTracepoint", js_attach_tracepoint);
  IG_EXPORT(env, exports, "attachRawTracepoint", js_attach_raw_tracepoint);
  IG_EXPORT(env, exports, "attachKprobe", js_attach_kprobe);
  IG_EXPORT(env, exports, "attachUprobe", js_attach_uprobe);
  IG_EXPORT(env, exports, "attachPerfEvent", js_attach_perf_event);
  IG_EXPORT(env, exports, "attachSocketFilter", js_attach_socket_filter);
  IG_EXPORT(env, exports, "attachTc", js_attach_tc);
  IG_EXPORT(env, exports, "attachTcFd", js_attach_tc_fd);
  IG_EXPORT(env, exports, "linkDestroy", js_link_destroy);
  IG_EXPORT(env, exports, "openPacketSocket", js_open_packet_socket);
  IG_EXPORT(env, exports, "closeFd", js_close_fd);
  return true;
}
