// ig's own metrics as OpenTelemetry instruments (loaded only by runs that export metrics): observable
// instruments that read the counts internals.ts keeps.
import type { MeterProvider } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { state } from './internals.js';

const registered = new WeakSet<MeterProvider>();

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
