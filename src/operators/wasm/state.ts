// What the host functions share: the run, the handle table, guest memory and the callback into the guest.
import type { GadgetContext } from '../../gadget/context.js';
import type { GuestMemory } from './memory.js';
import { HandleTable, type HostObject } from './handles.js';

export interface HostState {
  readonly ctx: GadgetContext;
  readonly who: string;
  readonly handles: HandleTable;
  readonly mem: GuestMemory;
  /** Values of the module's own params (gadget.yaml params.wasm), by key. */
  readonly paramValue: (key: string) => string | undefined;
  /** The guest's dataSourceCallback(cbID, ds, data) export; call it only inside run(). */
  dsCallback?: (cb: bigint, ds: number, data: number) => unknown;
  /** Run guest code under the deadline (WasmGuest.call). */
  readonly run: <T>(what: string, fn: () => T) => T;
  /** End the run with this error (a failure in a subscription, where nothing can throw to the caller). */
  readonly fail: (e: Error) => void;
  /** Run on stop: subscriptions become no-ops, maps and readers the guest made are released. */
  readonly cleanups: (() => void)[];
}

export function newState(init: Omit<HostState, 'handles' | 'cleanups'>): HostState {
  return { ...init, handles: new HandleTable(), cleanups: [] };
}

/** The object behind a handle if it has the wanted type; a warning (as upstream) otherwise. */
export function handleOf<T extends HostObject['t']>(s: HostState, h: number, t: T, fn: string): Extract<HostObject, { t: T }> | undefined {
  const o = s.handles.get(h);
  if (!o) {
    s.ctx.log.debug(`${s.who}: ${fn}: handle ${h} not found`);
    return undefined;
  }
  if (o.t !== t) {
    s.ctx.log.debug(`${s.who}: ${fn}: handle ${h} is a ${o.t}, not a ${t}`);
    return undefined;
  }
  return o as Extract<HostObject, { t: T }>;
}
