// Tests that call the addon's test-only exports (renderPlanRender) load its test build, ig_native_test.node: the
// same sources compiled with IG_TEST_HOOKS (native/binding.gyp). Import this module before anything uses the addon
// (it is loaded lazily, on first use); production builds do not export these functions.
import { join } from 'node:path';
import { repoRoot } from './ig.js';
import { native, type NativeAddon } from '../../src/bpf/native.js';

process.env['IG_NATIVE_ADDON'] ??= join(repoRoot(), 'native', 'build', 'Release', 'ig_native_test.node');

export type TestHooks = Required<Pick<NativeAddon, 'renderPlanRender' | 'metricsAggAddBatch'>>;

/** The test-only exports; a clear error when the addon in use is a production build. */
export function nativeTestHooks(): TestHooks {
  const render = native.renderPlanRender;
  if (typeof render !== 'function') {
    throw new Error(`the native addon in use (${process.env['IG_NATIVE_ADDON']}) has no test hooks: build native/ (ig_native_test.node)`);
  }
  return { renderPlanRender: render, metricsAggAddBatch: native.metricsAggAddBatch! };
}
