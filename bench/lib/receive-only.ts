// The receive path alone, for gadgetctl-stream.bench.ts's `receive` setup: a GadgetClient run that takes every
// batch frame as bytes and drops it (grpc-js, HTTP/2, the GadgetEvent decoder, the frame split; no render).
//   node dist/bench/lib/receive-only.js ADDRESS
import { GadgetClient } from '../../src/service/client.js';

const client = new GadgetClient({ address: process.argv[2]! });
let frames = 0;
const h = client.run({ imageName: 'trace_open' }, {
  onInfo: () => undefined,
  onDataSources: () => undefined,
  onBatch: () => undefined,
  onBatchFrame: () => { frames++; return true; },
  onLog: () => undefined,
  onLost: () => undefined,
});
h.done.then(() => { client.close(); process.stderr.write(`receive-only: ${frames} frames\n`); }, (e: unknown) => { process.stderr.write(`receive-only: ${(e as Error).message}\n`); process.exitCode = 1; });
