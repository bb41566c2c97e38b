// Loads the C addon (native/build/Release/ig_native.node) on first use.
// Works from src/bpf/native.ts and from the compiled dist/src/bpf/native.js: the repository root is
// found by walking up from this module until native/binding.gyp appears. IG_NATIVE_ADDON overrides
// the path to the .node file.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './native-api.js';

export type { NativeAddon } from './native-api.js';

const require = createRequire(import.meta.url);
const ADDON_REL = join('native', 'build', 'Release', 'ig_native.node');

/** Where the addon is expected (whether or not it is built). */
export function nativeAddonPath(): string {
  const override = process.env.IG_NATIVE_ADDON;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'native', 'binding.gyp')) || existsSync(join(dir, ADDON_REL))) {
      return join(dir, ADDON_REL);
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // Fall back to the layout of the source tree (src/bpf -> repo root).
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', ADDON_REL);
}

let loaded: NativeAddon | undefined;

/** The addon, loaded on first call. Throws a clear error when it has not been built. */
export function loadNative(): NativeAddon {
  if (loaded) return loaded;
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    throw new Error(`native addon not built: run npm run build:native (expected ${path})`);
  }
  try {
    loaded = require(path) as NativeAddon;
  } catch (err) {
    const e = new Error(`native addon failed to load from ${path}: ${(err as Error).message}`);
    (e as Error & { cause?: unknown }).cause = err;
    throw e;
  }
  return loaded;
}

/** True when the addon file exists (it may still fail to load). */
export function nativeAvailable(): boolean {
  return loaded !== undefined || existsSync(nativeAddonPath());
}

/** The addon, loaded lazily on first property access. */
export const native: NativeAddon = new Proxy({} as NativeAddon, {
  get(_target, prop) {
    const addon = loadNative() as unknown as Record<string | symbol, unknown>;
    return addon[prop];
  },
  has(_target, prop) {
    return prop in (loadNative() as object);
  },
});
