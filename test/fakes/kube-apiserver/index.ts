// FAKE Kubernetes API server: what tests import. In process: startFakeKubeApiServer(); as a separate process
// stopped by PID: spawnFakeKubeApiServer(). Object builders: `objects`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { FakeKubeControl, type FakeKubeProcessInfo } from './control.js';

export { startFakeKubeApiServer, type FakeKubeApiServer, type FakeKubeApiServerOptions, type KubeFakeControl, type ForbidRule, type ForwardTarget, type RequestRecord, type KubeObject } from './server.js';
export { FakeKubeControl, type FakeKubeProcessInfo } from './control.js';
export * as objects from './objects.js';

export const FAKE_KUBE_CLI = join(dirname(fileURLToPath(import.meta.url)), 'cli.js');

export interface FakeKubeProcess { child: ChildProcess; info: FakeKubeProcessInfo; control: FakeKubeControl; stop(): Promise<void> }

/** Run the fake as its own process (`args`: cli.ts flags); resolves once it serves. */
export async function spawnFakeKubeApiServer(args: string[] = []): Promise<FakeKubeProcess> {
  const child = spawn(process.execPath, [FAKE_KUBE_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface(child.stdout!);
    rl.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error(`fake kube-apiserver exited (${code}): ${stderr.trim()}`)));
  });
  const info = JSON.parse(line) as FakeKubeProcessInfo;
  return {
    child, info, control: new FakeKubeControl(info),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
