/* Let go of this process's clean, file-backed, read-only pages (issue 16, memory).
 *
 *   dropCleanFilePages(start, end): number
 *       madvise(MADV_DONTNEED) on [start, end), which must lie inside one mapping of this process that is
 *       file-backed, not writable and holds no private (anonymous, copy-on-write) page. Returns the kB that
 *       mapping had resident before. Throws, and touches nothing, for anything else: a writable mapping, a
 *       RELRO or text-relocated one (its private copies hold relocations and would be lost), an anonymous one.
 *   dropCleanCodePages(withReadOnlyData): { mappings, residentKb }
 *       the same for every executable (r-x) file mapping of the process (node's code, libc, libbpf, the addon),
 *       and with withReadOnlyData also every read-only (r--) one; each still checked as above.
 *
 * What this is and is not: those pages belong to the page cache, shared with every other process that maps the
 * same file; dropping them takes them out of this process's page tables (its RSS) and frees no memory. Whatever
 * the process runs again refaults from the page cache (a minor fault, ~16 pages at a time with fault-around).
 * MADV_DONTNEED, not MADV_PAGEOUT: PAGEOUT would evict pages only this process maps from the page cache, and the
 * next use would read the disk. */
#include "addon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
  uintptr_t start, end;
  char perms[5];
  uint64_t inode;
  bool file;      /* a path, not [heap], [stack], [vdso], anonymous */
  long rss_kb;
  long anon_kb;   /* private copies (COW) inside a file mapping */
  long locked_kb; /* mlock()ed pages: leave those alone */
} mapping;

typedef struct {
  mapping *v;
  size_t n, cap;
} mapping_list;

/* Every mapping of this process with its Rss, Anonymous and Locked figures (/proc/self/smaps). 0 or -errno. */
static int read_mappings(mapping_list *out) {
  FILE *f = fopen("/proc/self/smaps", "re");
  if (!f) return -errno;
  char *line = NULL;
  size_t cap = 0;
  mapping *cur = NULL;
  int err = 0;
  while (getline(&line, &cap, f) > 0) {
    uintptr_t s, e;
    char perms[8];
    unsigned long long off, inode;
    char dev[32];
    int path_at = 0;
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %31s %llu %n", &s, &e, perms, &off, dev, &inode, &path_at) >= 6) {
      if (out->n == out->cap) {
        size_t ncap = out->cap ? out->cap * 2 : 256;
        mapping *nv = realloc(out->v, ncap * sizeof(*nv));
        if (!nv) { err = -ENOMEM; break; }
        out->v = nv;
        out->cap = ncap;
      }
      cur = &out->v[out->n++];
      memset(cur, 0, sizeof(*cur));
      cur->start = s;
      cur->end = e;
      memcpy(cur->perms, perms, 4);
      cur->inode = inode;
      cur->file = path_at > 0 && line[path_at] == '/' && inode != 0;
      continue;
    }
    if (!cur) continue;
    long kb;
    if (sscanf(line, "Rss: %ld kB", &kb) == 1) cur->rss_kb = kb;
    else if (sscanf(line, "Anonymous: %ld kB", &kb) == 1) cur->anon_kb = kb;
    else if (sscanf(line, "Locked: %ld kB", &kb) == 1) cur->locked_kb = kb;
  }
  free(line);
  fclose(f);
  return err;
}

/* NULL when the mapping's pages may be dropped, else why not. */
static const char *refusal(const mapping *m) {
  if (m->perms[1] == 'w') return "it is writable";
  if (!m->file) return "it is not backed by a file";
  if (m->anon_kb > 0) return "it holds private copies of pages (relocations or other writes)";
  if (m->locked_kb > 0) return "it is locked in memory";
  return NULL;
}

static napi_value js_drop_clean_file_pages(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!ig_args(env, info, 2, argv)) return NULL;
  int64_t start, end;
  if (!ig_arg_i64(env, argv[0], "start", &start) || !ig_arg_i64(env, argv[1], "end", &end)) return NULL;
  long page = sysconf(_SC_PAGESIZE);
  if (start < 0 || end <= start || start % page || end % page)
    return ig_throw_type(env, "dropCleanFilePages: [0x%" PRIx64 ", 0x%" PRIx64 ") is not a page-aligned range", (uint64_t)start, (uint64_t)end);
  mapping_list l = {0};
  int err = read_mappings(&l);
  if (err) { free(l.v); return ig_throw_errno(env, -err, false, "read /proc/self/smaps"); }
  const mapping *m = NULL;
  for (size_t i = 0; i < l.n; i++)
    if (l.v[i].start <= (uintptr_t)start && (uintptr_t)end <= l.v[i].end) { m = &l.v[i]; break; }
  if (!m) {
    free(l.v);
    return ig_throw_msg(env, "refusing to drop pages of [0x%" PRIx64 ", 0x%" PRIx64 "): not inside one mapping of this process", (uint64_t)start, (uint64_t)end);
  }
  const char *why = refusal(m);
  if (why) {
    char perms[5];
    memcpy(perms, m->perms, 5);
    uintptr_t ms = m->start, me = m->end;
    free(l.v);
    return ig_throw_msg(env, "refusing to drop pages of mapping %" PRIxPTR "-%" PRIxPTR " (%s): %s", ms, me, perms, why);
  }
  long rss = m->rss_kb;
  free(l.v);
  if (madvise((void *)(uintptr_t)start, (size_t)(end - start), MADV_DONTNEED) != 0)
    return ig_throw_errno(env, errno, false, "madvise(MADV_DONTNEED) on [0x%" PRIx64 ", 0x%" PRIx64 ")", (uint64_t)start, (uint64_t)end);
  return ig_num(env, (double)rss);
}

static napi_value js_drop_clean_code_pages(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!ig_args(env, info, 1, argv)) return NULL;
  bool with_ro = false;
  if (!ig_arg_bool(env, argv[0], "withReadOnlyData", &with_ro)) return NULL;
  mapping_list l = {0};
  int err = read_mappings(&l);
  if (err) { free(l.v); return ig_throw_errno(env, -err, false, "read /proc/self/smaps"); }
  long rss = 0;
  int n = 0;
  for (size_t i = 0; i < l.n; i++) {
    const mapping *m = &l.v[i];
    bool code = m->perms[0] == 'r' && m->perms[2] == 'x';
    bool ro = m->perms[0] == 'r' && m->perms[1] == '-' && m->perms[2] == '-';
    if (!(code || (with_ro && ro)) || refusal(m) || m->rss_kb == 0) continue;
    /* A mapping that went away since smaps was read (another thread's dlclose) fails with ENOMEM: skip it. */
    if (madvise((void *)m->start, m->end - m->start, MADV_DONTNEED) != 0) continue;
    rss += m->rss_kb;
    n++;
  }
  free(l.v);
  napi_value o;
  NAPI_TRY(env, napi_create_object(env, &o));
  if (!ig_set_num(env, o, "mappings", n) || !ig_set_num(env, o, "residentKb", (double)rss)) return NULL;
  return o;
}

bool ig_clean_pages_register(napi_env env, napi_value exports) {
  IG_EXPORT(env, exports, "dropCleanFilePages", js_drop_clean_file_pages);
  IG_EXPORT(env, exports, "dropCleanCodePages", js_drop_clean_code_pages);
  return true;
}
