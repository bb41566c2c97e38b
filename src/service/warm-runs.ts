// Gadget assemblies kept for a moment between a client's GetGadgetInfo and its RunGadget of the same image:
// gadgetctl asks for the info (to offer the gadget's flags) and then runs it; assembling twice (image, gadget.yaml,
// eBPF object, operators) was a large part of the time to the first event. An assembly holds no kernel object
// before run(), so one that is not taken is simply dropped.
import type { GadgetRun } from './gadget-run.js';

/** How long an assembly waits for its run (a client between its two calls parses flags: milliseconds). */
const KEEP_MS = 10_000;
/** At most this many images kept (each assembly is a few MiB of parsed object and BTF). */
const MAX_KEPT = 4;

export class WarmRuns {
  private readonly kept = new Map<string, { run: GadgetRun; at: number }>();

  put(imageName: string, run: GadgetRun): void {
    this.kept.delete(imageName);
    this.kept.set(imageName, { run, at: Date.now() });
    while (this.kept.size > MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
  }

  /** The kept assembly of this image if it is fresh and was assembled at the same log level; it is handed out once. */
  take(imageName: string, logLevel: number | undefined): GadgetRun | undefined {
    const k = this.kept.get(imageName);
    if (!k) return undefined;
    this.kept.delete(imageName);
    if (Date.now() - k.at > KEEP_MS || k.run.logLevel !== (logLevel || k.run.logLevel)) return undefined;
    return k.run;
  }
}
