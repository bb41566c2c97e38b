// ig's own metrics (--otel-metrics-export-internals, or collectIGMetrics on a named exporter), on the meter
// "inspektor-gadget" as upstream: gadgets running, records emitted and lost (by cause) per gadget and data
// source, and the process's resident memory. Counted in plain variables; the SDK reads them when it collects.
import type { Attributes, MeterProvider } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import type { DataSource } from '../../datasource/index.js';

interface Count { attrs: Attributes; n: number }

const state = {
  running: 0,
  events: new Map<string, Count>(),
  lost: new Map<string, Count>(),
};
const registered = new WeakSet<MeterProvider>();

function count(map: Map<string, Count>, attrs: Attributes, n: number): void {
  const id = JSON.stringify(attrs);
  const c = map.get(id);
  if (c) c.n += n;
  else map.set(id, { attrs, n });
}

/** Add the internal instruments to a provider (once per provider). */
export function registerInternals(provider: MeterProvider): void {
  if (registered.has(provider)) return;
  registered.add(provider);
  const meter = provider.getMeter('inspektor-gadget');
  meter.createObservableUpDownCounter('ig_gadgets_running', { description: 'Number of running gadgets', unit: '{instance}', valueType: ValueType.INT })
    .addCallback((r) => r.observe(state.running));
  meter.createObservableCounter('ig_events', { description: 'Records emitted by gadgets\' data sources', valueType: ValueType.INT })
    .addCallback((r) => { for (const c of state.events.values()) r.observe(c.n, c.attrs); });
  meter.createObservableCounter('ig_lost_events', { description: 'Records the kernel or ig could not hand over, by cause', valueType: ValueType.INT })
    .addCallback((r) => { for (const c of state.lost.values()) r.observe(c.n, c.attrs); });
  meter.createObservableGauge('ig_process_resident_memory', { description: 'Resident set size of the ig process', unit: 'By', valueType: ValueType.INT })
    .addCallback((r) => r.observe(process.memoryUsage.rss()));
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
