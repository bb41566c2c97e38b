// The YAML library, loaded on first use: a run whose gadget.yaml is in the parsed-metadata cache and that has no
// config file and no -o yaml never needs it (its ~40 modules took 20-70 ms of `ig run`'s start-up).
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let lib: typeof Yaml | undefined;

export function yaml(): typeof Yaml {
  lib ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return lib;
}
