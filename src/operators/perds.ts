// Per-data-source param values: "val" applies to every DS; "ds1:val1;ds2:val2" (or "," for scalar params) targets some.
export function perDataSource(value: string, dsNames: string[], sep = ';'): Map<string, string> {
  const out = new Map<string, string>();
  if (value === '') return out;
  const parts = value.split(sep);
  const targeted = parts.every((p) => {
    const i = p.indexOf(':');
    return i > 0 && dsNames.includes(p.slice(0, i));
  });
  if (!targeted) {
    for (const n of dsNames) out.set(n, value);
    return out;
  }
  for (const p of parts) {
    const i = p.indexOf(':');
    out.set(p.slice(0, i), p.slice(i + 1));
  }
  return out;
}

/**
 * Upstream's per-data-source string values (otel-metrics-name, otel-logs-exporter): "ds:val,ds2:val2", or one
 * bare value (key '') for every data source; mixing both forms is an error naming the flag.
 */
export function parseNameMappings(v: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of v.split(',')) {
    if (part === '') continue;
    const i = part.indexOf(':');
    out.set(i < 0 ? '' : part.slice(0, i), i < 0 ? part : part.slice(i + 1));
  }
  if (out.has('') && out.size > 1) throw new Error(`invalid value "${v}" for ${flag}: mixes values with and without a data source`);
  return out;
}
