import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serializeGadgetEvent } from './event-serialize.js';
import { decodeGadgetEvent } from './client-proto.js';
import { decodeMessage, encodeMessage } from './proto.js';

// protobufjs writes zero values too; proto3 (and upstream's Go encoder) leaves them out: both read the same.
test('serializeGadgetEvent: the bytes protobufjs writes (zero values left out), read back by both decoders', () => {
  const cases = [
    { type: 0x100, seq: 7, payload: Buffer.from('ig\x01\x02 frame bytes'), dataSourceID: 3 },
    { type: 0, seq: 0, payload: Buffer.alloc(0), dataSourceID: 0 },
    { type: (3 << 16) >>> 0, seq: 2 ** 32 - 1, payload: Buffer.alloc(300000, 0xab), dataSourceID: 0 },
  ];
  for (const ev of cases) {
    const ours = Buffer.from(serializeGadgetEvent(ev)); // a view of the scratch: copy before the next call
    if (ev.type && ev.seq && ev.payload.length && ev.dataSourceID) assert.deepEqual(ours, encodeMessage('GadgetEvent', ev), `type ${ev.type}`);
    const back = decodeGadgetEvent(ours);
    assert.deepEqual({ ...back, payload: Buffer.from(back.payload) }, ev);
    const pb = decodeMessage<{ type: number; seq: number; payload: Buffer; dataSourceID: number }>('GadgetEvent', ours);
    assert.deepEqual({ type: pb.type, seq: pb.seq, payload: Buffer.from(pb.payload), dataSourceID: pb.dataSourceID }, ev);
  }
});
