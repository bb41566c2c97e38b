// Build the official gadgets (gadgets/<name>/) into the local store, so they run offline on a fresh install.
// A gadget is rebuilt only when its sources or the shared headers changed since its last build.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { buildImage, getGadgetImage, OciError } from '../oci/index.js';
import { creationTime } from '../oci/build.js';
import { repoRoot, igVersion } from './version.js';

function hashTree(paths: string[]): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) {
        if (e === 'vmlinux.h' || e === 'test' || e.endsWith('.test.ts')) continue;
        walk(join(p, e));
      }
    } else {
      h.update(p);
      h.update(readFileSync(p));
    }
  };
  for (const p of paths) if (existsSync(p)) walk(p);
  return h.digest('hex');
}

function lastCommitEpoch(root: string, paths: string[]): string {
  const r = spawnSync('git', ['-C', root, 'log', '-1', '--format=%ct', '--', ...paths], { encoding: 'utf8' });
  const t = r.status === 0 ? r.stdout.trim() : '';
  return /^\d+$/.test(t) ? t : '0';
}

/** Annotation on the official images built at install: where they come from. */
export const ANN_PROVENANCE = 'io.inspektor-gadget.ig.provenance';

function provenance(name: string, sourceHash: string): string {
  return `official gadget built locally by ig ${igVersion()} from gadgets/${name} (sources sha256:${sourceHash})`;
}

export async function buildOfficialGadgets(opts: { force?: boolean; only?: string[] } = {}): Promise<void> {
  const root = repoRoot();
  const gadgetsDir = join(root, 'gadgets');
  const stampDir = join(root, '.build', 'gadgets');
  mkdirSync(stampDir, { recursive: true });
  const headers = hashTree([join(root, 'include', 'gadget')]);
  const names = readdirSync(gadgetsDir).filter((n) => existsSync(join(gadgetsDir, n, 'gadget.yaml'))).sort()
    .filter((n) => !opts.only || opts.only.length === 0 || opts.only.includes(n));
  const buildOne = async (name: string) => {
    const dir = join(gadgetsDir, name);
    // The annotation key is part of the hash: images built before it existed are rebuilt with their provenance.
    const hash = createHash('sha256').update(headers).update(hashTree([dir])).update(ANN_PROVENANCE).digest('hex');
    const stamp = join(stampDir, `${name}.hash`);
    let present = true;
    try { await getGadgetImage(name, { pull: 'never', verifyImage: false }); } catch { present = false; }
    if (!opts.force && present && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
    process.stderr.write(`[setup] building gadget ${name}\n`);
    // Reproducible: the image's creation time is the last commit that touched the gadget or the headers.
    const sde = process.env['SOURCE_DATE_EPOCH'] ?? lastCommitEpoch(root, [dir, join(root, 'include', 'gadget')]);
    // our own gadget.yaml files must name only what the object has: warnings are errors here
    // Provenance: built here from ig's own sources (trusted because this store built it, not by a signature).
    await buildImage(dir, {
      tag: name, created: creationTime(sde), warn: (l) => { throw new OciError(l); },
      annotations: { [ANN_PROVENANCE]: provenance(name, hash) },
    });
    writeFileSync(stamp, hash);
  };
  // One build per CPU: each is mostly one clang (or wasm toolchain) process, so on a clean clone's 35 gadgets two at a
  // time take about half the time of one after another on 2 cores. The first failure stops the others from starting.
  const queue = [...names];
  let failed = false;
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined && !failed; name = queue.shift()) {
      try { await buildOne(name); } catch (e) { failed = true; throw e; }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(availableParallelism(), names.length)) }, worker));
  const firstFailure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (firstFailure) throw firstFailure.reason;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildOfficialGadgets({ force: process.argv.includes('--force'), only: process.argv.slice(2).filter((a) => !a.startsWith('-')) })
    .catch((e: Error) => { process.stderr.write(`Error: ${e.message.split('\n')[0]}\n`); if (e instanceof OciError && e.detail) process.stderr.write(e.detail + '\n'); process.exit(1); });
}
