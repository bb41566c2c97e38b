/* Line output: a growable buffer of whole lines written to a file descriptor (the render plan's JSON lines on the
 * reader's thread, and the lines JS renders for the same reader). Written so that the output never ends in the
 * middle of a line, even when the run stops while the reader of the fd does not read. */
#include "line_output.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool ig_out_init(ig_out *o, int fd, size_t cap) {
  memset(o, 0, sizeof *o);
  atomic_init(&o->error, 0);
  o->fd = fd;
  o->p = malloc(cap);
  if (!o->p) return false;
  o->cap = cap;
  return true;
}

void ig_out_free(ig_out *o) {
  free(o->p);
  o->p = NULL;
  o->len = o->cap = 0;
}

int ig_out_error(const ig_out *o) { return atomic_load_explicit(&o->error, memory_order_acquire); }

static void set_error(ig_out *o, int err) { atomic_store_explicit(&o->error, err, memory_order_release); }

/* Stopping while the reader of our output does not read: how long a line already begun may take to finish. */
#define FINISH_LINE_NS (5ull * 1000000000ull)

/* Write p[0..len). Every call starts at a line boundary: the buffer holds whole lines (a line is flushed only
 * once rendered), and JS hands over whole lines. */
static void write_all(ig_out *o, const uint8_t *p, size_t len) {
  const uint8_t *start = p;
  uint64_t finish_by = 0; /* stopping in the middle of a line: the deadline for the rest of it */
  while (len > 0 && !ig_out_error(o)) {
    ssize_t n = write(o->fd, p, len);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      /* stdout is non-blocking when Node made it a pipe or socket: wait until the reader drains it. */
      struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};
      if (poll(&pfd, 1, 100) == 0 && o->cancel && __atomic_load_n(o->cancel, __ATOMIC_ACQUIRE)) {
        /* Stopping, and nobody reads our output: do not hang the stop, but never leave half a line behind (the
         * reader may drain the pipe after we exit). At a line boundary give up now: the lines not written are
         * dropped whole. Inside a line, write the rest of that line only, waiting up to FINISH_LINE_NS. */
        if (p == start || p[-1] == '\n') {
          set_error(o, ECANCELED);
          return;
        }
        const uint8_t *nl = memchr(p, '\n', len);
        if (nl) len = (size_t)(nl + 1 - p);
        uint64_t now = ig_mono_ns();
        if (!finish_by) {
          finish_by = now + FINISH_LINE_NS;
        } else if (now >= finish_by) {
          set_error(o, ECANCELED); /* the reader is gone for good: nothing more can be done for this line */
          return;
        }
      }
      continue;
    }
    set_error(o, n < 0 ? errno : EIO);
  }
  /* The line begun when stopping is complete; what came after it is dropped. */
  if (finish_by) set_error(o, ECANCELED);
}

void ig_out_flush(ig_out *o) {
  if (o->len && o->fd >= 0) write_all(o, o->p, o->len);
  o->len = 0;
}

void ig_out_write(ig_out *o, const void *p, size_t len) {
  ig_out_flush(o);
  if (o->fd >= 0) write_all(o, p, len);
}
