/**
 * Helpers for the container-collection tests.
 */
import type { Container, ContainerCollection } from '../../src/containers/index.js';
import { waitFor } from './proc-util.js';

export interface Recorded { type: 'add' | 'remove'; c: Container; at: number }

/** Record every add/remove of a collection. */
export function record(col: ContainerCollection): Recorded[] {
  const events: Recorded[] = [];
  col.on('add', (c: Container) => events.push({ type: 'add', c, at: Date.now() }));
  col.on('remove', (c: Container) => events.push({ type: 'remove', c, at: Date.now() }));
  return events;
}

export function waitEvent(events: Recorded[], type: 'add' | 'remove', pred: (c: Container) => boolean, timeoutMs = 10_000): Promise<Recorded> {
  return waitFor(`${type} event`, () => events.find((e) => e.type === type && pred(e.c)), timeoutMs);
}

/** Collects warnings. */
export function warnings(): { list: string[]; warn: (m: string) => void } {
  const list: string[] = [];
  return { list, warn: (m: string) => { list.push(m); } };
}
