#ifndef IG_PCAP_COMPILE_H
#define IG_PCAP_COMPILE_H
#include <stddef.h>
#include <stdint.h>
/* Compile a pcap expression for a link type; returns malloc'd classic BPF (8 bytes per instruction) and
 * its count, or NULL with libpcap's message in err. */
uint8_t *ig_pcap_compile(const char *expr, int linktype, int snaplen, size_t *n_out, char *err, size_t err_len);
/* libpcap's own interpreter on one packet (the reference the eBPF translation is tested against):
 * 1 match, 0 no match, -1 error (message in err). */
int ig_pcap_match(const char *expr, int linktype, int snaplen, const uint8_t *pkt, size_t len, char *err, size_t err_len);
#endif
