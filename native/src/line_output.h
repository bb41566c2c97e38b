/* Line output (line_output.c): whole lines to a file descriptor; see there. */
#ifndef IG_NATIVE_LINE_OUTPUT_H
#define IG_NATIVE_LINE_OUTPUT_H

#include "addon.h"

#include <stdatomic.h>

/* Growable output buffer of whole lines written to a file descriptor. */
typedef struct ig_out {
  uint8_t *p;
  size_t len, cap;
  int fd;
  atomic_int error; /* errno of the first failed write; output is discarded from then on. Written by the thread
                     * that writes, read by others (reader stats on the JS thread): C11 atomic, see ig_out_error. */
  const int *cancel; /* when set and non-zero, a write that makes no progress for 100 ms gives up at a line
                      * boundary (a line begun is finished first, for up to 5 s) */
} ig_out;

bool ig_out_init(ig_out *o, int fd, size_t cap);
/* The errno of the first failed write (0: none); safe from any thread. */
int ig_out_error(const ig_out *o);
void ig_out_free(ig_out *o);
/* Write everything buffered (blocking: waits for POLLOUT on a non-blocking fd). */
void ig_out_flush(ig_out *o);
/* Write `len` bytes now, after what is buffered. */
void ig_out_write(ig_out *o, const void *p, size_t len);

#endif
