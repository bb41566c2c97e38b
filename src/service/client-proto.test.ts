// The client's precompiled API (client-proto.ts) must be api.proto as proto-loader reads it: the same descriptor,
// method paths and stream flags, the same bytes out and objects in; GadgetEvent's hand decoder agrees with
// protobufjs and keeps the payload a view of the received bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { API_DESCRIPTOR } from './client-descriptor.js';
import { clientServiceDefinition, decodeGadgetEvent, decodeClientMessage } from './client-proto.js';
import { serviceOf, encodeMessage, decodeMessage, type ApiGadgetEvent } from './proto.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROTO = path.resolve(here, '..', '..', '..', 'src', 'service', 'api.proto');

test('client-descriptor.ts is api.proto (run scripts/gen-client-descriptor.mjs after editing api.proto)', () => {
  assert.equal(JSON.stringify(API_DESCRIPTOR), JSON.stringify(protobuf.loadSync(PROTO).toJSON()));
});

const SAMPLES: Record<string, object> = {
  GadgetControlRequest: { runRequest: { imageName: 'trace_open', paramValues: { 'operator.LocalManager.host': 'true' }, args: [], version: 1, logLevel: 3, timeout: '5000000000' } },
  GetGadgetInfoRequest: { imageName: 'trace_open', paramValues: { a: 'b' }, version: 1, flags: 1, requestExtraInfo: false },
  GadgetEvent: { type: 0x30002, seq: 0xffffffff, payload: Buffer.from('ig\x01\x02'), dataSourceID: 3 },
  CreateGadgetInstanceRequest: { gadgetInstance: { id: 'ab', name: 'n', tags: ['t'], nodes: [], gadgetConfig: { imageName: 'x', paramValues: {}, version: 1, timeout: '0' } }, eventBufferLength: 7 },
  GadgetInstanceId: { id: 'abc' },
  InfoRequest: { version: '1' },
};

test('service definitions match proto-loader\'s: paths, streams, names, bytes and objects', () => {
  for (const svc of ['GadgetManager', 'GadgetInstanceManager', 'BuiltInGadgetManager'] as const) {
    const ours = clientServiceDefinition(svc);
    const theirs = serviceOf(svc).service;
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort(), svc);
    for (const [name, m] of Object.entries(ours)) {
      const t = theirs[name]!;
      assert.equal(m.path, t.path);
      assert.equal(m.requestStream, t.requestStream);
      assert.equal(m.responseStream, t.responseStream);
      assert.equal(m.originalName, t.originalName);
      for (const [kind, ser, tser, deser, tdeser] of [
        ['request', m.requestSerialize, t.requestSerialize, m.requestDeserialize, t.requestDeserialize],
        ['response', m.responseSerialize, t.responseSerialize, m.responseDeserialize, t.responseDeserialize],
      ] as const) {
        const typed = t as unknown as Record<'requestType' | 'responseType', { type: { name: string } }>;
        const typeName = typed[kind === 'request' ? 'requestType' : 'responseType'].type.name;
        const sample = SAMPLES[typeName] ?? {};
        const bytes = Buffer.from(tser(sample));
        assert.deepEqual(Buffer.from(ser(sample)), bytes, `${svc}.${name} ${kind} ${typeName}: serialized bytes`);
        assert.deepEqual(deser(bytes), tdeser(bytes), `${svc}.${name} ${kind} ${typeName}: decoded object`);
      }
    }
  }
});

test('GadgetEvent: the hand decoder reads what protobufjs reads, the payload as a view', () => {
  const cases: ApiGadgetEvent[] = [
    { type: 0, seq: 0, payload: Buffer.alloc(0), dataSourceID: 0 },
    { type: 5, seq: 1, payload: Buffer.from([1, 2, 3]), dataSourceID: 0 },
    { type: 0xffffffff, seq: 0x80000000, payload: Buffer.alloc(300000, 7), dataSourceID: 65535 },
  ];
  for (const ev of cases) {
    const bytes = encodeMessage('GadgetEvent', ev);
    const got = decodeGadgetEvent(bytes);
    assert.deepEqual(got, decodeMessage('GadgetEvent', bytes));
    if (got.payload.length) assert.equal(got.payload.buffer, bytes.buffer, 'a view, not a copy');
  }
  // Unknown fields (a later API version) are skipped: varint, 64-bit, length-delimited and 32-bit.
  const extra = Buffer.concat([encodeMessage('GadgetEvent', cases[1]!), Buffer.from([0x28, 0x96, 0x01, 0x31, 1, 2, 3, 4, 5, 6, 7, 8, 0x3a, 2, 9, 9, 0x45, 1, 2, 3, 4])]);
  assert.deepEqual(decodeGadgetEvent(extra), decodeMessage('GadgetEvent', extra));
  assert.throws(() => decodeGadgetEvent(Buffer.from([0x1a, 10, 1])), /^Error: malformed GadgetEvent message: field 3: 10 bytes, 1 left$/);
  assert.throws(() => decodeGadgetEvent(Buffer.from([0x08])), /malformed GadgetEvent message: truncated varint/);
  assert.throws(() => decodeGadgetEvent(Buffer.from([0x0b])), /wire type 3/);
});

test('GadgetInfo decodes as through proto.ts', () => {
  const info = { name: 'trace_open', imageName: 'trace_open', id: 'x', params: [{ key: 'host', prefix: 'operator.LocalManager.', typeHint: 'bool' }], dataSources: [{ id: 0, name: 'open', type: 1, fields: [{ name: 'pid', fullName: 'proc.pid', kind: 7, offs: 4, size: 4, tags: ['a'], annotations: { x: 'y' } }] }], annotations: { a: 'b' }, metadata: Buffer.from('name: x') };
  const bytes = encodeMessage('GadgetInfo', info);
  assert.deepEqual(decodeClientMessage('GadgetInfo', bytes), decodeMessage('GadgetInfo', bytes));
});
