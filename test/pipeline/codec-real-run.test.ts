// The packet codec on a real run: trace_open loaded into this kernel with every data operator, and a subscriber
// after all of them (where the gRPC stream sits) that encodes each batch, decodes it, and prints both sides as
// JSON: enriched, formatted, wall-clock records must come out of the codec exactly as they went in.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { OwnCat } from '../harness/daemon.js';
import { tempDir } from '../harness/workload.js';
import { prepareGadget } from '../../src/runtime/assemble.js';
import { defaultDataOperators } from '../../src/runtime/operators.js';
import { Logger } from '../../src/gadget/logger.js';
import type { DataOperator } from '../../src/gadget/operator.js';
import { PacketDecoder, PacketEncoder, type Batch } from '../../src/datasource/index.js';
import { jsonFields, makeJsonEncoder } from '../../src/operators/cli/json.js';
import { capture } from './fixtures.js';

// The opens looked for are our cat's (a name and a file of this file's own), not any cat of the machine.
const tmp = tempDir('ig-codec-real-');
after(() => tmp.cleanup());
const cat = new OwnCat(tmp.dir, 'hcodecrealcat');

test('trace_open: every batch of a real run decodes to the same JSON lines', async () => {
  const sent: string[] = [];
  const received: string[] = [];
  let frames = 0;
  let bytes = 0;
  let unstable = 0;
  const codecCheck: DataOperator = {
    name: 'codec-check',
    priority: 1000000,
    instantiate(ctx) {
      const enc = new PacketEncoder();
      const dec = new PacketDecoder();
      const json = (b: Batch) => makeJsonEncoder(jsonFields(b.ds));
      return {
        name: 'codec-check',
        preStart() {
          for (const ds of ctx.dataSources.values()) {
            const here = makeJsonEncoder(jsonFields(ds));
            ds.subscribe((b) => {
              const before = [...b.indices()].map((i) => here(b, i));
              const packet = enc.encode(b);
              // Derived values follow live state (a process that exits loses its exe): a record whose text changed
              // while it was encoded proves nothing about the codec and is left out.
              const after = [...b.indices()].map((i) => here(b, i));
              frames++;
              bytes += packet.length;
              for (const got of dec.decode(packet)) {
                const there = json(got.batch);
                for (let i = 0; i < got.batch.count; i++) {
                  if (before[i] !== after[i]) { unstable++; continue; }
                  sent.push(before[i]!);
                  received.push(there(got.batch, i));
                }
              }
            }, 1000000);
          }
        },
      };
    },
  };
  const ctx = await prepareGadget('trace_open', { operators: defaultDataOperators({ sink: capture().sink, extra: [codecCheck] }), log: new Logger(), image: { pull: 'never' } });
  ctx.params.set('operator.LocalManager.host', 'true');
  ctx.params.set('operator.cli.output', 'none');
  const poke = setInterval(() => cat.poke(), 50);
  try {
    await ctx.run({ timeoutMs: 3000 });
  } finally {
    clearInterval(poke);
  }
  assert.ok(frames > 0, 'no batch went through the codec');
  assert.ok(sent.length > 0);
  assert.ok(unstable <= sent.length / 10, `${unstable} records changed while encoded, ${sent.length} compared`);
  assert.equal(received.length, sent.length);
  for (let k = 0; k < sent.length; k++) assert.equal(received[k], sent[k], `record ${k}`);
  const ours = sent.map((l) => JSON.parse(l) as { fname: string; proc: { comm: string }; timestamp: string; runtime: unknown })
    .find((e) => e.fname === cat.file && e.proc.comm === cat.comm);
  assert.ok(ours, 'the opens of our cat were traced');
  assert.match(ours.timestamp, /^\d{4}-\d\d-\d\dT/, 'wall-clock timestamp text');
  assert.ok(ours.runtime !== undefined, 'enrichment fields travelled');
  assert.ok(bytes > 0);
});
