// FAKE Kubernetes API server as its own process, for tests that run the fake beside other processes and stop it
// by PID (SIGTERM/SIGINT stop it cleanly). Prints one JSON line (FakeKubeProcessInfo) on stdout once it serves.
//   node dist/test/fakes/kube-apiserver/cli.js [--dir DIR] [--host ADDR] [--port N] [--san NAME]...
//        [--objects FILE.json] [--bookmark-interval-ms N]
// FILE.json holds an array of Kubernetes objects (or a v1 List). Drive it with FakeKubeControl (control.ts) or
// with any Kubernetes client through the kubeconfig it wrote.
import { readFileSync } from 'node:fs';
import { startFakeKubeApiServer, type FakeKubeApiServerOptions, type KubeObject } from './server.js';
import type { FakeKubeProcessInfo } from './control.js';

function usage(msg: string): never {
  process.stderr.write(`fake-kube-apiserver: ${msg}\n`);
  process.exit(2);
}

const opts: FakeKubeApiServerOptions = { sans: [] };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const v = () => args[++i] ?? usage(`${a} needs a value`);
  switch (a) {
    case '--dir': opts.dir = v(); break;
    case '--host': opts.host = v(); break;
    case '--port': opts.port = Number(v()); break;
    case '--san': opts.sans!.push(v()); break;
    case '--bookmark-interval-ms': opts.bookmarkIntervalMs = Number(v()); break;
    case '--objects': {
      const f = v();
      const parsed = JSON.parse(readFileSync(f, 'utf8')) as KubeObject[] | { items: KubeObject[] };
      opts.objects = Array.isArray(parsed) ? parsed : parsed.items;
      break;
    }
    default: usage(`unknown argument ${a}`);
  }
}

const fake = await startFakeKubeApiServer(opts);
const info: FakeKubeProcessInfo = {
  pid: process.pid, url: fake.url, token: fake.token, caPath: fake.caPath, dir: fake.dir,
  kubeconfigPath: fake.kubeconfigPath, inClusterPrefix: fake.inClusterPrefix, inClusterEnv: fake.inClusterEnv,
};
process.stdout.write(JSON.stringify(info) + '\n');
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void fake.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
