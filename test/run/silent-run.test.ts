// A run that matches nothing must not look broken: the header comes at once, a selector that matches no
// container is named with the containers that exist (and the containerd namespaces that have some), and after a
// few silent seconds on a terminal ig says what it watches. Uses a real containerd with its own namespace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startContainerd, containerdAvailable, type ContainerdHarness } from '../harness/containerd.js';
import { IG_MAIN, runIgSync } from '../harness/ig.js';

const skip = containerdAvailable() ? false : 'needs containerd, runc and root';
let h: ContainerdHarness;

before(async () => {
  if (skip) return;
  h = await startContainerd();
  await h.run('ff-known', 'sleep 1000');
});
after(async () => { await h?.stop(); });

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run ig with a terminal as stdout and stderr (script(1)); returns what the terminal showed. */
function onTerminal(args: string[], env: Record<string, string>): { code: number | null; screen: string } {
  const cmd = ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, IG_MAIN, ...args].map(q).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status, screen: r.stdout.replace(/\r/g, '') };
}

test('on a terminal: header at once, the unmatched selector named with the known containers, then what is watched', { skip }, () => {
  const r = onTerminal(['run', 'trace_open', '-c', 'ff-nosuch', '-r', 'containerd', '--containerd-socketpath', h.socket, '--containerd-namespace', h.namespace, '-t', '4'], { IG_QUIET_NOTE_MS: '1500' });
  assert.equal(r.code, 0, r.screen);
  const lines = r.screen.split('\n');
  assert.ok(lines.some((l) => /^RUNTIME\.CONTAINERNAME +COMM +PID/.test(l)), `header printed at start:\n${r.screen}`);
  assert.match(r.screen, /WARN: -c ff-nosuch matches no running container \(known: ff-known\); containers that start later and match are traced/);
  assert.match(r.screen, /INFO: no events in 1\.5s: watching containers selected by -c ff-nosuch \(0 running now\)/);
  assert.equal(r.screen.match(/matches no running container/g)?.length, 1, 'warned once');
});

test('a followed containerd namespace without containers names those that have some', { skip }, () => {
  const r = runIgSync(['run', 'trace_open', '-c', 'ff-known', '-r', 'containerd', '--containerd-socketpath', h.socket, '--containerd-namespace', 'ff-empty-ns', '-t', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`containerd namespace ff-empty-ns has no containers, ${h.namespace} has 1 \\(--containerd-namespace\\)`));
  assert.doesNotMatch(r.stderr, /INFO: no events/, 'the note is for terminals only');
});
