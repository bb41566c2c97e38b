// The gadgets of this process whose programs are loaded now (bpfstats attributes programs to them by id, as
// upstream's ebpf operator does for the gadgets its daemon runs).
import type { BpfObject } from '../../bpf/object.js';
import { programIdOfFd } from '../../bpf/prog-stats.js';
import type { GadgetContext } from '../../gadget/context.js';

export interface RunningGadget { id: string; name: string; image: string; progIds: number[] }

const running = new Set<RunningGadget>();

/** Record a loaded gadget's program ids; returns the function that forgets it (at stop). */
export function registerRunningGadget(ctx: GadgetContext, obj: BpfObject): () => void {
  const progIds: number[] = [];
  for (const p of obj.programs()) {
    if (p.autoload === false) continue;
    // A program libbpf did not load has no fd: it has no statistics either.
    try { progIds.push(programIdOfFd(obj.progFd(p.name))); } catch { continue; }
  }
  const g: RunningGadget = { id: ctx.instance.id, name: ctx.instance.name, image: ctx.image.reference, progIds };
  running.add(g);
  return () => { running.delete(g); };
}

export function runningGadgets(): RunningGadget[] {
  return [...running];
}
