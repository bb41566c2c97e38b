/* libpcap's compiler, kept apart from libbpf: both define struct bpf_insn.
 * libpcap is opened on first use, not linked: only a pcap filter (network gadgets' --pf) needs it, and linked it
 * came with its dependencies (libsystemd, libgcrypt, libdbus, liblzma, liblz4, libcap …) into every ig process:
 * ≈1 MiB of resident pages and their relocations at the addon's load. */
#include <dlfcn.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap_compile.h"

static struct {
  __typeof__(pcap_open_dead) *open_dead;
  __typeof__(pcap_compile) *compile;
  __typeof__(pcap_geterr) *geterr;
  __typeof__(pcap_close) *close;
  __typeof__(pcap_freecode) *freecode;
  __typeof__(pcap_offline_filter) *offline_filter;
} pcap;
static pthread_once_t pcap_once = PTHREAD_ONCE_INIT;
static char pcap_missing[200];

static void pcap_open_library(void) {
  /* Debian's soname, then upstream's (Fedora, Arch) */
  void *h = dlopen("libpcap.so.0.8", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libpcap.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(pcap_missing, sizeof pcap_missing, "libpcap is not installed (%s)", dlerror());
    return;
  }
  pcap.open_dead = (__typeof__(pcap.open_dead))dlsym(h, "pcap_open_dead");
  pcap.compile = (__typeof__(pcap.compile))dlsym(h, "pcap_compile");
  pcap.geterr = (__typeof__(pcap.geterr))dlsym(h, "pcap_geterr");
  pcap.close = (__typeof__(pcap.close))dlsym(h, "pcap_close");
  pcap.freecode = (__typeof__(pcap.freecode))dlsym(h, "pcap_freecode");
  pcap.offline_filter = (__typeof__(pcap.offline_filter))dlsym(h, "pcap_offline_filter");
  if (!pcap.open_dead || !pcap.compile || !pcap.geterr || !pcap.close || !pcap.freecode || !pcap.offline_filter) {
    snprintf(pcap_missing, sizeof pcap_missing, "libpcap lacks a function ig uses");
    pcap.open_dead = NULL;
  }
}

/* libpcap's handle for a compile, or NULL with the reason in err. */
static pcap_t *pcap_dead(int linktype, int snaplen, char *err, size_t err_len) {
  pthread_once(&pcap_once, pcap_open_library);
  if (!pcap.open_dead) {
    snprintf(err, err_len, "%s", pcap_missing);
    return NULL;
  }
  pcap_t *p = pcap.open_dead(linktype, snaplen);
  if (!p) snprintf(err, err_len, "pcap_open_dead: out of memory");
  return p;
}

uint8_t *ig_pcap_compile(const char *expr, int linktype, int snaplen, size_t *n_out, char *err, size_t err_len) {
  pcap_t *p = pcap_dead(linktype, snaplen, err, err_len);
  if (!p) return NULL;
  struct bpf_program prog;
  if (pcap.compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    snprintf(err, err_len, "%s", pcap.geterr(p));
    pcap.close(p);
    return NULL;
  }
  uint8_t *out = malloc((size_t)prog.bf_len * 8 + 1);
  if (out) {
    /* little-endian u16 code, u8 jt, u8 jf, u32 k: the layout the TypeScript converter reads */
    for (u_int i = 0; i < prog.bf_len; i++) {
      const struct bpf_insn *in = &prog.bf_insns[i];
      uint8_t *o = out + (size_t)i * 8;
      o[0] = in->code & 0xff;
      o[1] = in->code >> 8;
      o[2] = in->jt;
      o[3] = in->jf;
      for (int b = 0; b < 4; b++) o[4 + b] = (in->k >> (8 * b)) & 0xff;
    }
    *n_out = prog.bf_len;
  } else {
    snprintf(err, err_len, "out of memory");
  }
  pcap.freecode(&prog);
  pcap.close(p);
  return out;
}

int ig_pcap_match(const char *expr, int linktype, int snaplen, const uint8_t *pkt, size_t len, char *err, size_t err_len) {
  pcap_t *p = pcap_dead(linktype, snaplen, err, err_len);
  if (!p) return -1;
  struct bpf_program prog;
  if (pcap.compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    snprintf(err, err_len, "%s", pcap.geterr(p));
    pcap.close(p);
    return -1;
  }
  struct pcap_pkthdr h = {.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len};
  int r = pcap.offline_filter(&prog, &h, pkt) != 0;
  pcap.freecode(&prog);
  pcap.close(p);
  return r;
}
