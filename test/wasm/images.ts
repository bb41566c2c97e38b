// Build gadget images with a WASM module into a throwaway store: an official gadget's eBPF sources plus a
// build.yaml naming the module (a prebuilt .wasm, or a source ig image build compiles).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { repoRoot, runIgSync } from '../harness/ig.js';

export interface WasmImage { env: NodeJS.ProcessEnv; image: string; dir: string; cleanup(): void }

/**
 * `files` are written into the gadget directory (e.g. { 'module.wasm': bytes }); `wasm` is build.yaml's value.
 * `gadget` is an official gadget's name, or a directory relative to the repository (e.g. test/wasm/gadgets/x).
 * Throws with ig's stderr when the build fails.
 */
export function buildWithWasm(gadget: string, files: Record<string, string | Buffer>, wasm: string, tag = `${gadget}_wasm_test`): WasmImage {
  const src = gadget.includes('/') ? join(repoRoot(), gadget) : join(repoRoot(), 'gadgets', gadget);
  gadget = basename(src);
  const base = mkdtempSync(join(tmpdir(), `ig-wasm-${gadget}-`));
  const dir = join(base, 'src');
  cpSync(src, dir, { recursive: true, filter: (s) => !s.includes(`${gadget}/test`) });
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  writeFileSync(join(dir, 'build.yaml'), `wasm: ${wasm}\n`);
  const env = { IG_OCI_STORE: join(base, 'store') };
  const r = runIgSync(['image', 'build', dir, '-t', tag], { env, timeoutMs: 180000 });
  if (r.code !== 0) {
    rmSync(base, { recursive: true, force: true });
    throw new Error(`building ${tag}: ${r.stderr}`);
  }
  return { env, image: tag, dir, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

/**
 * Replace the WASM layer of `img` by `bytes` in its store (what a tampered or foreign image would carry;
 * ig image build refuses such a module).
 */
export async function replaceWasmLayer(img: WasmImage, bytes: Buffer): Promise<void> {
  const { OciStore } = await import('../../src/oci/store.js');
  const { sha256 } = await import('../../src/oci/digest.js');
  const { MT_WASM } = await import('../../src/oci/mediatypes.js');
  type Desc = { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: unknown };
  const store = new OciStore(img.env.IG_OCI_STORE);
  const entry = await store.resolve(img.image);
  if (!entry) throw new Error(`${img.image} is not in the store`);
  const index = await store.readJson<{ manifests: Desc[] }>(entry.descriptor.digest, 'index');
  const txn = store.begin();
  await txn.stage(bytes);
  for (const m of index.manifests) {
    const man = await store.readJson<{ layers: Desc[] }>(m.digest, 'manifest');
    man.layers = man.layers.map((l) => (l.mediaType === MT_WASM ? { ...l, digest: sha256(bytes), size: bytes.length } : l));
    const mb = Buffer.from(JSON.stringify(man));
    m.digest = await txn.stage(mb);
    m.size = mb.length;
  }
  const ib = Buffer.from(JSON.stringify(index));
  const digest = await txn.stage(ib);
  await txn.commit((idx) => OciStore.setTag(idx, entry.ref ?? img.image, { ...entry.descriptor, digest, size: ib.length }));
}
