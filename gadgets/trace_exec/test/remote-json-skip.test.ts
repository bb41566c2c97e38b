// trace_exec through ig daemon + gadgetctl: the client renders (as upstream's, whose json formatter runs on the
// client with the field annotations the daemon sends), so json.skip fields (args_count, args_size) are left out
// there too, whether the frames are rendered natively or in JS, and in yaml.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { DaemonHarness } from '../../../test/harness/daemon.js';
import { GADGETCTL_MAIN, IgProcess } from '../../../test/harness/ig.js';

const d = new DaemonHarness('daemon-hskip-exec');
before(async () => { await d.start(); });
after(async () => { await d.cleanup(); });

test('gadgetctl run trace_exec: -o json (native frames and JS) and -o yaml print no json.skip field', async () => {
  const marker = `ig-exec-remote-${process.pid}`;
  const base = ['run', 'trace_exec', '--host', '--filter', 'proc.comm==echo'];
  const runs: [string, IgProcess][] = [
    ['native', d.ctlProcess([...base, '-o', 'json', '-v'])],
    ['yaml', d.ctlProcess([...base, '-o', 'yaml'])],
    // the client's native renderer off
    ['js', new IgProcess([...base, '-o', 'json', '-v', '--remote-address', d.address], { IG_NATIVE_RENDER: '0' }, { main: GADGETCTL_MAIN })],
  ];
  try {
    for (let t = 0; t < 120 && !runs.every(([, p]) => p.stdout.includes(marker)); t++) {
      spawn('/bin/echo', ['x', marker], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await Promise.all(runs.map(([, p]) => p.stop('SIGINT')));
  }
  for (const [name, p] of runs) {
    assert.ok(p.stdout.includes(marker), `${name} saw the exec: ${p.stderr}`);
    assert.doesNotMatch(p.stdout, /args_(count|size)/, name);
  }
  const byName = new Map(runs);
  assert.match(byName.get('native')!.stderr, /\bexec: JSON rendered natively from the received batch frames/);
  assert.match(byName.get('js')!.stderr, /\bexec: JSON rendered in JS \(IG_NATIVE_RENDER=0\)/);
  assert.match(byName.get('yaml')!.stdout, new RegExp(`^args: /bin/echo\u00a0x\u00a0${marker}$`, 'm'));
  for (const name of ['native', 'js']) {
    const ev = byName.get(name)!.stdout.split('\n').filter((l) => l.includes(marker)).map((l) => JSON.parse(l) as { args: string })[0]!;
    assert.equal(ev.args, ['/bin/echo', 'x', marker].join('\u00a0'), name);
  }
});
