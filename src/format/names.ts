// Where a converted value goes: upstream's naming rule for fields that formatters and the eBPF operator add.

/** What targetName needs of a field (a Field satisfies it). */
export interface NamedField { readonly name: string; annotation(key: string): string | undefined }

/** Output name per upstream: explicit `formatters.<kind>.target`, else the member name minus `_raw`. */
export function targetName(f: NamedField, kind: string): string | undefined {
  const t = f.annotation(`formatters.${kind}.target`);
  if (t) return t;
  if (f.name.endsWith('_raw')) return f.name.slice(0, -4);
  return undefined;
}
