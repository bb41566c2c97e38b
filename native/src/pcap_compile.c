/* libpcap's compiler, kept apart from libbpf: both define struct bpf_insn. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap_compile.h"

uint8_t *ig_pcap_compile(const char *expr, int linktype, int snaplen, size_t *n_out, char *err, size_t err_len) {
  pcap_t *p = pcap_open_dead(linktype, snaplen);
  if (!p) {
    snprintf(err, err_len, "pcap_open_dead: out of memory");
    return NULL;
  }
  struct bpf_program prog;
  if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    snprintf(err, err_len, "%s", pcap_geterr(p));
    pcap_close(p);
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
  pcap_freecode(&prog);
  pcap_close(p);
  return out;
}

int ig_pcap_match(const char *expr, int linktype, int snaplen, const uint8_t *pkt, size_t len, char *err, size_t err_len) {
  pcap_t *p = pcap_open_dead(linktype, snaplen);
  if (!p) {
    snprintf(err, err_len, "pcap_open_dead: out of memory");
    return -1;
  }
  struct bpf_program prog;
  if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    snprintf(err, err_len, "%s", pcap_geterr(p));
    pcap_close(p);
    return -1;
  }
  struct pcap_pkthdr h = {.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len};
  int r = pcap_offline_filter(&prog, &h, pkt) != 0;
  pcap_freecode(&prog);
  pcap_close(p);
  return r;
}
