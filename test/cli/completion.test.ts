// ig completion bash|zsh|fish: each script is valid for its shell, and completing through it offers commands,
// flags, the gadgets of the local store and a gadget's own params.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIgSync, IG_MAIN } from '../harness/ig.js';

const tmp = mkdtempSync(join(tmpdir(), 'ig-firstfive-completion-'));
// A command named ig on PATH for the scripts to call back, running this build.
const bin = join(tmp, 'ig');
writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${IG_MAIN}" "$@"\n`);
chmodSync(bin, 0o755);
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const complete = (...words: string[]) => runIgSync(['__complete', ...words]).stdout.split('\n').filter(Boolean);

test('__complete: commands, subcommands, flags, local gadgets, gadget params and flag values', () => {
  assert.ok(complete('').includes('run') && complete('').includes('image') && complete('').includes('completion'));
  assert.deepEqual(complete('image', 'bu'), ['build']);
  assert.ok(complete('run', 'trace_o').includes('trace_open'));
  assert.ok(complete('run', 'trace_open', '--').includes('--failed'), 'the gadget\'s own params');
  assert.ok(complete('run', 'trace_open', '--').includes('--host'));
  assert.ok(!complete('run', 'trace_open', '--').includes('--sort'), 'flags the gadget lacks are not offered');
  assert.ok(complete('run', 'top_file', '--').includes('--sort'));
  assert.deepEqual(complete('run', '-o', 'js'), ['json', 'jsonpretty']);
  assert.ok(complete('run', '-o', 'json', 'trace_').includes('trace_exec'), 'the image after flags');
  assert.ok(complete('image', 'inspect', 'trace_').includes('trace_open'));
  assert.deepEqual(complete('completion', ''), ['bash', 'fish', 'zsh']);
});

test('bash: the script completes through ig itself', () => {
  const script = runIgSync(['completion', 'bash']);
  assert.equal(script.code, 0, script.stderr);
  const file = join(tmp, 'ig.bash');
  writeFileSync(file, script.stdout);
  const r = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(ig run trace_op); COMP_CWORD=2; _ig_complete; printf '%s\\n' "\${COMPREPLY[@]}"; complete -p ig`], { encoding: 'utf8', env: { ...process.env, PATH: `${tmp}:${process.env['PATH']}` } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^trace_open$/m);
  assert.match(r.stdout, /complete .*-F _ig_complete ig/);
  const flags = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(ig run trace_open --fai); COMP_CWORD=3; _ig_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', env: { ...process.env, PATH: `${tmp}:${process.env['PATH']}` } });
  assert.equal(flags.stdout.trim(), '--failed');
});

test('zsh and fish: the scripts parse', () => {
  for (const [shell, args] of [['zsh', ['-n']], ['fish', ['--no-execute']]] as const) {
    const script = runIgSync(['completion', shell]);
    assert.equal(script.code, 0, script.stderr);
    const file = join(tmp, `ig.${shell}`);
    writeFileSync(file, script.stdout);
    const r = spawnSync(shell, [...args, file], { encoding: 'utf8' });
    assert.equal(r.error, undefined, `${shell} is installed by setup (scripts/deps/apt-test.txt)`);
    assert.equal(r.status, 0, `${shell}: ${r.stderr}`);
  }
  const fish = spawnSync('fish', ['-c', `source ${join(tmp, 'ig.fish')}; complete -C 'ig run trace_op'`], { encoding: 'utf8', env: { ...process.env, PATH: `${tmp}:${process.env['PATH']}` } });
  assert.equal(fish.status, 0, fish.stderr);
  assert.match(fish.stdout, /^trace_open/m);
  const bad = runIgSync(['completion', 'tcsh']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unsupported shell "tcsh": use bash, zsh or fish/);
});
