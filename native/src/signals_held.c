/*
 * The verifier gives up with EAGAIN when a signal is pending for the loading thread (signal_pending() in its main
 * loop), and libbpf retries a program load only 5 times, at once. A thread that receives signals often enough
 * fails every attempt: `node --cpu-prof --cpu-prof-interval 10` (SIGPROF to the main thread every 10 us) made 7 of 8
 * gadget loads fail here, and SIGCHLD of exiting children does the same on a busy machine, more rarely. Blocked
 * signals do not make a thread's signal pending: they wait and are delivered when the load is over (a Ctrl-C is
 * handled some ms later, or by another thread of the process that does not block it).
 */
#include "signals_held.h"
#include <pthread.h>

void ig_signals_hold(sigset_t *old) {
  sigset_t set;
  sigfillset(&set);
  /* Signals raised by a fault of this thread cannot wait: blocked, the kernel would kill the process silently. */
  sigdelset(&set, SIGSEGV);
  sigdelset(&set, SIGBUS);
  sigdelset(&set, SIGFPE);
  sigdelset(&set, SIGILL);
  sigdelset(&set, SIGABRT);
  pthread_sigmask(SIG_BLOCK, &set, old);
}

void ig_signals_release(const sigset_t *old) {
  pthread_sigmask(SIG_SETMASK, old, NULL);
}
