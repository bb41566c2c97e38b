// The socket tracker: the socket enricher's eBPF program (bpf/socket_tracker.bpf.c) that fills `gadget_sockets`
// from tracepoints as sockets are bound, connected, accepted or first send, so a socket created a moment ago
// (a one-shot DNS query) has its process before user space could have scanned /proc. The object is compiled
// once per source version into .build/bpf/ (scripts/setup.sh does it at install; a run compiles it if missing).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../../bpf/object.js';
import { helperObjectPath } from '../../bpf/helper-object.js';
import type { BpfMap } from '../../bpf/map.js';

const MAP = 'gadget_sockets';
const SOURCE = join('src', 'operators', 'socketenricher', 'bpf', 'socket_tracker.bpf.c');
const HEADERS = ['types.h', 'sockets-map.h', 'filesystem.h'];

/** The compiled object, built now if this source version has not been built yet. */
export function trackerObjectPath(): string {
  return helperObjectPath({ label: 'socket tracker', stem: 'socket_tracker', source: SOURCE, headers: HEADERS });
}

/** The loaded tracker writing into `map`; close() detaches and unloads it. */
export class SocketTracker {
  private constructor(private readonly obj: BpfObject) {}

  /**
   * Load and attach the tracker over the operator's map. Throws when the map's layout differs from the one the
   * tracker was compiled with (a gadget built with other headers) or a hook is missing.
   */
  static start(map: BpfMap): SocketTracker {
    // From memory, so that a minimized kernel BTF kept for it (setCoreBtfSource) spares parsing vmlinux's: its load
    // took 32 ms of CPU before a network gadget's first event, 8.5 ms with one.
    const elf = readFileSync(trackerObjectPath());
    const obj = BpfObject.openLoaded((vmlinuxBtf) => {
      const o = BpfObject.open(elf, 'socket_tracker', vmlinuxBtf ? { vmlinuxBtf } : undefined);
      const own = o.maps().find((m) => m.name === MAP);
      if (!own || own.keySize !== map.keySize || own.valueSize !== map.valueSize) {
        o.close();
        throw new Error(`the gadget's ${MAP} entries (${map.keySize}+${map.valueSize} bytes) differ from the tracker's (${own?.keySize}+${own?.valueSize})`);
      }
      o.reuseMap(MAP, map);
      return o;
    });
    try {
      for (const p of obj.programs()) obj.attachAuto(p.name);
      return new SocketTracker(obj);
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  close(): void {
    this.obj.close();
  }
}
