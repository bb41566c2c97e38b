// ig's own metrics (--otel-metrics-export-internals, or collectIGMetrics on a named exporter), on the meter
// "inspektor-gadget" as upstream: gadgets running, records emitted and lost (by cause) per gadget and data
// source, and the process's resident memory. Counted in plain variables (no OpenTelemetry code: every run counts
// gadgets); internals-meter.ts hands them to the SDK, which reads them when it collects.
import type { Attributes } from '@opentelemetry/api';
import type { DataSource } from '../../datasource/index.js';

export interface Count { attrs: Attributes; n: number }

/** Read by the instruments of internals-meter.ts. */
export const state = {
  running: 0,
  events: new Map<string, Count>(),
  lost: new Map<string, Count>(),
};

function count(map: Map<string, Count>, attrs: Attributes, n: number): void {
  const id = JSON.stringify(attrs);
  const c = map.get(id);
  if (c) c.n += n;
  else map.set(id, { attrs, n });
}

/** Count a run's records and losses (a subscriber per data source, ahead of every other one). */
export function trackDataSources(gadget: string, sources: DataSource[]): void {
  for (const ds of sources) {
    const attrs = { gadget, datasource: ds.name };
    let c: Count | undefined;
    ds.subscribe((b) => {
      c ??= (count(state.events, attrs, 0), state.events.get(JSON.stringify(attrs)));
      c!.n += b.count;
    }, -1_000_000);
    ds.onLost((n, cause) => count(state.lost, { ...attrs, cause }, n));
  }
}

export function gadgetStarted(): void { state.running++; }
export function gadgetStopped(): void { state.running = Math.max(0, state.running - 1); }
