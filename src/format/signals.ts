// Signal numbers as names (gadget_signal), real-time signals as SIGRTMIN+n.
const SIGNALS = ['', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN',
  'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS'];

export function signalName(v: number): string {
  if (v > 0 && v < SIGNALS.length) return SIGNALS[v]!;
  if (v >= 34 && v <= 64) return v === 34 ? 'SIGRTMIN' : v === 64 ? 'SIGRTMAX' : `SIGRTMIN+${v - 34}`;
  return v === 0 ? '' : `SIG${v}`;
}
