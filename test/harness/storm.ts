// An open() storm of the test's own: a copy of perl under a comm of its own, so a trace_open instance filtered on
// that comm (`--comm`, operator.oci.ebpf.comm) sees only this process's opens, never the machine's other processes'
// (other tests, other ig users).
import { chmodSync, copyFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export class OwnStorm {
  readonly bin: string;

  constructor(dir: string, readonly comm: string) {
    if (comm.length > 15) throw new Error(`comm ${comm} is longer than the kernel's 15 characters`);
    this.bin = join(dir, comm);
    copyFileSync('/usr/bin/perl', this.bin);
    chmodSync(this.bin, 0o755);
  }

  /** Runs a perl script under this comm; resolves with its exit code. */
  run(script: string): Promise<number | null> {
    return new Promise((resolve) => spawn(this.bin, ['-e', script], { stdio: 'ignore' }).on('exit', (code) => resolve(code)));
  }

  /**
   * `n` opens of /etc/hostname, each closed at once; with `pauseEvery` > 0 a 1 ms sleep after every that many, which
   * caps the rate (~5 k opens/s at 5) so that a test's budget in frames is reached by the count, not by the machine.
   */
  opens(n: number, pauseEvery = 0): Promise<number | null> {
    const pause = pauseEvery > 0 ? ` select(undef, undef, undef, 0.001) if $i % ${pauseEvery} == 0;` : '';
    return this.run(`for my $i (1..${n}) { open(my $f, '<', '/etc/hostname'); close($f);${pause} }`);
  }
}
