/* libbpf message capture: what libbpf said during an operation, for the error that operation throws. */
#include "addon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------------------------------------
 * libbpf print callback. libbpf has one global callback; each thread appends its warnings to a
 * thread-local buffer that the JS thread resets before every operation, so an Error can carry
 * what libbpf said about that operation. Debug output goes to stderr only when enabled.
 * ------------------------------------------------------------------------------------------- */
#define IG_LOG_CAP (1u << 20)

static __thread char *tl_log;
static __thread size_t tl_len, tl_cap;
static volatile int g_debug;

static int ig_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (__atomic_load_n(&g_debug, __ATOMIC_RELAXED)) {
    va_list cp;
    va_copy(cp, ap);
    vfprintf(stderr, fmt, cp);
    va_end(cp);
  }
  if (level == LIBBPF_DEBUG) return 0;
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n <= 0 || tl_len + (size_t)n + 1 > IG_LOG_CAP) return 0;
  if (tl_len + (size_t)n + 1 > tl_cap) {
    size_t nc = tl_cap ? tl_cap : 4096;
    while (nc < tl_len + (size_t)n + 1) nc *= 2;
    char *p = realloc(tl_log, nc);
    if (!p) return 0;
    tl_log = p;
    tl_cap = nc;
  }
  vsnprintf(tl_log + tl_len, (size_t)n + 1, fmt, ap);
  tl_len += (size_t)n;
  return 0;
}

void ig_log_install(void) { libbpf_set_print(ig_print); }

void ig_log_reset(void) {
  tl_len = 0;
  if (tl_log) tl_log[0] = 0;
}

const char *ig_log_text(void) { return tl_log && tl_len ? tl_log : ""; }

void ig_set_debug(bool on) { __atomic_store_n(&g_debug, on ? 1 : 0, __ATOMIC_RELAXED); }
