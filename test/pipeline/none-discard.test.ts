// `-o none` with nothing that reads the records: the reader thread advances over them and no batch reaches JS.
// Before, every batch went to JS to be dropped there, which under an open() storm kept ig's JS path warm: 49 MiB
// resident and 33 MiB unique under load, against 32 and 21 with the records dropped on the reader thread (and
// 42-44 / 24-25 for -o json). An operator that does read them still gets every record.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { OwnStorm } from '../harness/storm.js';
import { tempDir } from '../harness/workload.js';
import { prepareGadget } from '../../src/runtime/assemble.js';
import { defaultDataOperators } from '../../src/runtime/operators.js';
import { Logger } from '../../src/gadget/logger.js';
import type { DataOperator } from '../../src/gadget/operator.js';
import { capture } from './fixtures.js';

const tmp = tempDir('ig-none-discard-');
after(() => tmp.cleanup());
const OPENS = 20000;

/** trace_open -o none on our own storm's comm; `reader` subscribes to the records when given. Returns the debug log. */
async function runNone(storm: OwnStorm, reader?: (n: number) => void): Promise<string> {
  let log = '';
  let stormDone: Promise<unknown> = Promise.resolve();
  const kick: DataOperator = {
    name: 'storm-kick',
    priority: 1000000,
    instantiate(ctx) {
      return {
        name: 'storm-kick',
        preStart() {
          if (!reader) return;
          for (const ds of ctx.dataSources.values()) ds.subscribe((b) => reader(b.liveCount), 1000000, { releasesBatch: true });
        },
        // after every reader is open: the whole storm is traced
        start() { stormDone = storm.opens(OPENS); },
      };
    },
  };
  const ctx = await prepareGadget('trace_open', {
    operators: defaultDataOperators({ sink: capture().sink, extra: [kick] }),
    log: new Logger('debug', (s) => { log += s; }),
    image: { pull: 'never' },
  });
  ctx.params.set('operator.LocalManager.host', 'true');
  ctx.params.set('operator.oci.ebpf.comm', storm.comm);
  ctx.params.set('operator.cli.output', 'none');
  const running = ctx.run({ timeoutMs: 60000 });
  // the storm started at `start`; stop once it is over and its records had time to be read
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await stormDone, 0, 'the storm ran');
  await new Promise((r) => setTimeout(r, 300));
  ctx.done('timeout');
  await running;
  return log;
}

test('-o none and no operator reading the records: the reader thread drops them, no batch is handed to JS', async () => {
  const log = await runNone(new OwnStorm(tmp.dir, 'igdiscstorm'));
  assert.match(log, /open: nothing reads the records: the reader thread drops them/);
  assert.doesNotMatch(log, /batches handed to JS/, 'no batch reached JS');
  assert.doesNotMatch(log, /lost/, 'nothing lost');
});

test('-o none with an operator that reads the records: every record still reaches it, in reused buffers', async () => {
  let records = 0;
  const log = await runNone(new OwnStorm(tmp.dir, 'igreadstorm'), (n) => { records += n; });
  assert.doesNotMatch(log, /the reader thread drops them/);
  // perl's own start-up opens come on top of the storm's
  assert.ok(records >= OPENS, `${records} records of ${OPENS} opens reached the subscriber`);
  // The reader says it keeps no batch (releasesBatch), and nothing else does: each batch goes straight back to the reader (batchRelease) instead of
  // staying resident until V8's next GC, so the storm is served by a handful of reused buffers.
  const m = /open: (\d+) batches handed to JS in (\d+) full-size buffers/.exec(log);
  assert.ok(m, `no batch statistics in: ${log}`);
  const [batches, buffers] = [Number(m[1]), Number(m[2])];
  assert.ok(batches >= 10, `${batches} batches`);
  // One filling, one or two being read, the pool's spares: not one buffer per batch until a GC frees them.
  assert.ok(buffers <= 8, `${buffers} buffers for ${batches} batches`);
});
