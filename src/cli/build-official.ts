// Build the official gadgets (gadgets/<name>/) into the local store, so they run offline on a fresh install.
// A gadget is rebuilt only when its sources or the shared headers changed since its last build.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildImage, getGadgetImage, OciError } from '../oci/index.js';
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
  const names = readdirSync(gadgetsDir).filter((n) => existsSync(join(gadgetsDir, n, 'gadget.yaml'))).sort();
  for (const name of names) {
    if (opts.only && opts.only.length > 0 && !opts.only.includes(name)) continue;
    const dir = join(gadgetsDir, name);
    // The annotation key is part of the hash: images built before it existed are rebuilt with their provenance.
    const hash = createHash('sha256').update(headers).update(hashTree([dir])).update(ANN_PROVENANCE).digest('hex');
    const stamp = join(stampDir, `${name}.hash`);
    let present = true;
    try { await getGadgetImage(name, { pull: 'never', verifyImage: false }); } catch { present = false; }
    if (!opts.force && present && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) continue;
    process.stderr.write(`[setup] building gadget ${name}\n`);
    // Reproducible: the image's creation time is the last commit that touched the gadget or the headers.
    const saved = process.env['SOURCE_DATE_EPOCH'];
    process.env['SOURCE_DATE_EPOCH'] = saved ?? lastCommitEpoch(root, [dir, join(root, 'include', 'gadget')]);
    try {
      // our own gadget.yaml files must name only what the object has: warnings are errors here
      // Provenance: built here from ig's own sources (trusted because this store built it, not by a signature).
      await buildImage(dir, { tag: name, warn: (l) => { throw new OciError(l); }, annotations: { [ANN_PROVENANCE]: provenance(name, hash) } });
    } finally {
      if (saved === undefined) delete process.env['SOURCE_DATE_EPOCH'];
    }
    writeFileSync(stamp, hash);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildOfficialGadgets({ force: process.argv.includes('--force'), only: process.argv.slice(2).filter((a) => !a.startsWith('-')) })
    .catch((e: Error) => { process.stderr.write(`Error: ${e.message.split('\n')[0]}\n`); if (e instanceof OciError && e.detail) process.stderr.write(e.detail + '\n'); process.exit(1); });
}
