// Image operators by media type: each layer goes to the operator registered for its media type, in manifest
// order; layers nobody runs are skipped; an image with nothing runnable is one clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GadgetContext } from '../gadget/context.js';
import { parseMetadata } from '../gadget/metadata.js';
import { registerImageOperator, imageOperatorFor } from './image-operators.js';
import { instantiateImageOperators } from './assemble.js';
import { MT_EBPF } from '../oci/mediatypes.js';

const ctx = () => new GadgetContext({ reference: 'test', digest: '', ebpf: null, wasm: null, annotations: {} }, parseMetadata('name: test'));
const layer = (mediaType: string, data = 'x') => ({ mediaType, digest: `sha256:${mediaType.length}`, data: Buffer.from(data) });

test('the eBPF image operator is registered by its media type', () => {
  assert.equal(imageOperatorFor(MT_EBPF)?.name, 'ebpf');
});

test('layers are dispatched by media type, in order; unknown ones are skipped', async () => {
  const seen: string[] = [];
  registerImageOperator('application/vnd.test.a', { name: 'a', instantiate: (_c, l) => { seen.push(`a:${l.data}`); return { name: 'a' }; } });
  registerImageOperator('application/vnd.test.b', { name: 'b', instantiate: (_c, l) => { seen.push(`b:${l.data}`); return { name: 'b' }; } });
  const insts = await instantiateImageOperators(ctx(), 'test', [layer('application/vnd.test.b', '1'), layer('application/vnd.unknown'), layer('application/vnd.test.a', '2')]);
  assert.deepEqual(insts.map((i) => i.name), ['b', 'a']);
  assert.deepEqual(seen, ['b:1', 'a:2']);
});

test('a second operator for one media type is refused', () => {
  const op = { name: 'c', instantiate: () => ({ name: 'c' }) };
  registerImageOperator('application/vnd.test.c', op);
  registerImageOperator('application/vnd.test.c', op); // the same one again is harmless
  assert.throws(() => registerImageOperator('application/vnd.test.c', { name: 'd', instantiate: () => ({ name: 'd' }) }), /already registered \(c\)/);
});

test('an image without a runnable layer is one line naming its media types', async () => {
  await assert.rejects(instantiateImageOperators(ctx(), 'img:v1', [layer('application/vnd.nothing')]),
    /^Error: image img:v1 has no layer ig can run \(layer media types: application\/vnd.nothing; runnable: .*application\/vnd.gadget.ebpf.program.v1\+binary/);
});
