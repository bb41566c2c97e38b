/*
 * Small helpers for network gadgets: load a program given as raw BPF instructions (the per-netns socket
 * filter dispatcher is a handful of instructions built in TypeScript), and attach a program fd to a socket.
 */
#include "addon.h"
#include "signals_held.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif

#define IG_RAW_LOG_SIZE (64 * 1024)

/* progLoadRaw(type, insns: Buffer (8 bytes per instruction), name, license): fd.
 * On failure throws Error with .errno and .log (the verifier log). */
static napi_value js_prog_load_raw(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!ig_args(env, info, 4, argv)) return NULL;
  int32_t type;
  void *insns;
  size_t len;
  char *name = NULL, *license = NULL;
  if (!ig_arg_i32(env, argv[0], "type", &type) || !ig_arg_bytes(env, argv[1], "insns", &insns, &len)) return NULL;
  if (len == 0 || len % sizeof(struct bpf_insn) != 0) return ig_throw_type(env, "insns: expected a multiple of 8 bytes");
  if (!ig_arg_string(env, argv[2], "name", &name)) return NULL;
  if (!ig_arg_string(env, argv[3], "license", &license)) {
    free(name);
    return NULL;
  }
  char *log = calloc(1, IG_RAW_LOG_SIZE);
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = log ? IG_RAW_LOG_SIZE : 0, .log_level = 0);
  sigset_t held; /* a signal arriving while the verifier runs fails the load with EAGAIN (signals_held.c) */
  ig_signals_hold(&held);
  int fd = bpf_prog_load((enum bpf_prog_type)type, name, license, insns, len / sizeof(struct bpf_insn), &opts);
  if (fd < 0 && log) {
    /* Retry with a verbose log so the caller can show why. */
    opts.log_level = 1;
    log[0] = 0;
    int fd2 = bpf_prog_load((enum bpf_prog_type)type, name, license, insns, len / sizeof(struct bpf_insn), &opts);
    if (fd2 >= 0) fd = fd2;
  }
  ig_signals_release(&held);
  napi_value r = NULL;
  if (fd < 0) {
    int err = -fd;
    napi_value e = ig_make_errno_error(env, err, false, "load raw program");
    if (e) {
      napi_value lv;
      if (napi_create_string_utf8(env, log ? log : "", NAPI_AUTO_LENGTH, &lv) == napi_ok)
        napi_set_named_property(env, e, "log", lv);
      napi_throw(env, e);
    }
  } else {
    r = ig_num(env, fd);
  }
  free(log);
  free(name);
  free(license);
  return r;
}

/* attachSocketFilterFd(sockFd, progFd): SO_ATTACH_BPF. */
static napi_value js_attach_socket_filter_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  int32_t sock, prog;
  if (!ig_arg_i32(env, argv[0], "sockFd", &sock) || !ig_arg_i32(env, argv[1], "progFd", &prog)) return NULL;
  if (setsockopt(sock, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof prog) < 0)
    return ig_throw_errno(env, errno, false, "attach program fd %d to socket fd %d", prog, sock);
  return ig_undefined(env);
}

bool ig_raw_socket_filter_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "progLoadRaw", js_prog_load_raw);
  IG_EXPORT(env, exports, "attachSocketFilterFd", js_attach_socket_filter_fd);
  return true;
}
