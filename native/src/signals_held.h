/* Signals held off the calling thread while the kernel verifies BPF programs (signals_held.c). */
#ifndef IG_SIGNALS_HELD_H
#define IG_SIGNALS_HELD_H
#include <signal.h>

/* Block every signal that can wait on this thread; `old` receives the mask to give back to ig_signals_release. */
void ig_signals_hold(sigset_t *old);
void ig_signals_release(const sigset_t *old);

#endif
