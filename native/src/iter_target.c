/* SEC("ig_iter/<target>"): a BPF task/… iterator whose attach point ig finds in the kernel's BTF itself.
 *
 * For SEC("iter/<target>") libbpf reads and indexes all of /sys/kernel/btf/vmlinux to find one type id (the FUNC
 * bpf_iter_<target>): its parser reads the file into one buffer and copies it into another, so ≈11.5 MiB of C heap
 * for ≈150 ms and ≈16 ms of CPU (5.4 MB of BTF here), even when CO-RE reads a minimized BTF. The exe tracker's
 * start-up sweep (src/operators/process/exe-tracker.ts) did that in every `ig run`. Here the type id comes from two
 * streaming passes over the same file through one 64 KiB buffer: the strings (where the name is) and the types (which
 * FUNC has that name).
 *
 * libbpf loads TRACING programs only after parsing vmlinux's BTF (prog_needs_vmlinux_btf), so the section is
 * registered as a socket filter and becomes TRACING / BPF_TRACE_ITER with its attach id in the prepare-load callback,
 * which libbpf calls just before BPF_PROG_LOAD (prog->type and expected_attach_type are read after it). */
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTION "ig_iter/"
#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"
#define CHUNK (64 * 1024)

/* The bytes that follow a type record of this kind (vlen: its member count). */
static long trailing_bytes(__u32 kind, __u32 vlen) {
  switch (kind) {
  case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG: return 4;
  case BTF_KIND_ARRAY: return sizeof(struct btf_array);
  case BTF_KIND_STRUCT: case BTF_KIND_UNION: return (long)vlen * sizeof(struct btf_member);
  case BTF_KIND_ENUM: return (long)vlen * sizeof(struct btf_enum);
  case BTF_KIND_FUNC_PROTO: return (long)vlen * sizeof(struct btf_param);
  case BTF_KIND_DATASEC: return (long)vlen * sizeof(struct btf_var_secinfo);
  case BTF_KIND_ENUM64: return (long)vlen * 12;
  case BTF_KIND_PTR: case BTF_KIND_FWD: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST:
  case BTF_KIND_RESTRICT: case BTF_KIND_FUNC: case BTF_KIND_FLOAT: case BTF_KIND_TYPE_TAG: return 0;
  default: return -1; /* a kind this code does not know: the walk cannot go on */
  }
}

/* Offset (in the string section) of `name`, or -ENOENT. Strings are NUL-separated from offset 0 (""). */
static long find_string(int fd, off_t start, __u32 len, const char *name, char *buf) {
  size_t nlen = strlen(name);
  char needle[128];
  if (nlen + 2 > sizeof needle) return -EINVAL;
  needle[0] = 0;
  memcpy(needle + 1, name, nlen + 1); /* "\0name\0" */
  size_t keep = 0; /* bytes carried over from the previous chunk (a match may straddle two) */
  for (__u32 pos = 0; pos < len;) {
    size_t want = CHUNK - keep;
    if (want > len - pos) want = len - pos;
    ssize_t r = pread(fd, buf + keep, want, start + pos);
    if (r <= 0) return r < 0 ? -errno : -EIO;
    size_t have = keep + (size_t)r;
    char *hit = memmem(buf, have, needle, nlen + 2);
    if (hit) return (long)(pos - keep + (size_t)(hit - buf)) + 1;
    pos += (__u32)r;
    keep = have < nlen + 1 ? have : nlen + 1;
    memmove(buf, buf + have - keep, keep);
  }
  return -ENOENT;
}

/* Type id of the FUNC named `name` in the kernel's BTF, or -errno. */
static long vmlinux_func_id(const char *name) {
  int fd = open(VMLINUX_BTF, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char *buf = malloc(CHUNK);
  long ret = -ENOMEM;
  if (!buf) goto out;
  struct btf_header h;
  ret = -EINVAL;
  if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.magic != BTF_MAGIC || h.hdr_len < sizeof h) goto out;
  long name_off = find_string(fd, (off_t)h.hdr_len + h.str_off, h.str_len, name, buf);
  if (name_off < 0) {
    ret = name_off;
    goto out;
  }
  off_t base = (off_t)h.hdr_len + h.type_off;
  size_t have = 0, at = 0; /* buf holds `have` bytes of the type section from offset `at` */
  __u32 pos = 0;
  ret = -ENOENT;
  for (long id = 1; pos < h.type_len; id++) {
    if (pos + sizeof(struct btf_type) > at + have) {
      at = pos;
      size_t want = h.type_len - pos < CHUNK ? h.type_len - pos : CHUNK;
      ssize_t r = pread(fd, buf, want, base + pos);
      if (r < (ssize_t)sizeof(struct btf_type)) {
        ret = r < 0 ? -errno : -EIO;
        break;
      }
      have = (size_t)r;
    }
    const struct btf_type *t = (const struct btf_type *)(buf + (pos - at));
    __u32 kind = BTF_INFO_KIND(t->info);
    long extra = trailing_bytes(kind, BTF_INFO_VLEN(t->info));
    if (extra < 0) {
      ret = -EPROTO;
      break;
    }
    if (kind == BTF_KIND_FUNC && t->name_off == (__u32)name_off) {
      ret = id;
      break;
    }
    pos += sizeof(struct btf_type) + (__u32)extra;
  }
out:
  free(buf);
  close(fd);
  return ret;
}

static int prepare_iter_load(struct bpf_program *prog, struct bpf_prog_load_opts *opts, long cookie) {
  const char *target = bpf_program__section_name(prog) + strlen(SECTION);
  char func[96];
  if (snprintf(func, sizeof func, "bpf_iter_%s", target) >= (int)sizeof func) return -ENAMETOOLONG;
  long id = vmlinux_func_id(func);
  if (id < 0) return (int)id; /* no such iterator in this kernel (or no BTF): the load fails with this */
  /* After this the program has no SEC() handler (set_type drops it): nothing in the load uses it again. */
  int err = bpf_program__set_type(prog, BPF_PROG_TYPE_TRACING);
  if (!err) err = bpf_program__set_expected_attach_type(prog, BPF_TRACE_ITER);
  if (err) return err;
  opts->attach_btf_id = (__u32)id;
  opts->attach_btf_obj_fd = 0;
  return 0;
}

static int registered = -1;

static void register_section(void) {
  LIBBPF_OPTS(libbpf_prog_handler_opts, o, .prog_prepare_load_fn = prepare_iter_load);
  registered = libbpf_register_prog_handler(SECTION, BPF_PROG_TYPE_SOCKET_FILTER, 0, &o);
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;

/* Before the first object opens (libbpf picks a program's handler at open). */
void ig_iter_target_register(void) {
  pthread_once(&register_once, register_section);
}
