// RunGadget events written straight onto the HTTP/2 stream: the same message bytes as grpc-js's path, read by a
// real grpc-js client over a unix socket with both decoders (protobufjs and gadgetctl's hand decoder), in order
// with the status grpc-js writes after them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Http2EventWriter, gadgetEventFraming } from './http2-event-writer.js';
import { serializeGadgetEvent } from './event-serialize.js';
import { serviceOf, type ApiGadgetEvent } from './proto.js';
import { clientServiceOf } from './client-proto.js';

const big = Buffer.alloc(300000);
for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
const EVENTS: ApiGadgetEvent[] = [
  { type: 4, seq: 0, payload: Buffer.from('gadget info'), dataSourceID: 0 },
  { type: 0x100, seq: 1, payload: big, dataSourceID: 0 },
  { type: 0x100, seq: 2, payload: big, dataSourceID: 3 }, // the same Buffer again, as a frame shared by clients
  { type: 0, seq: 0, payload: Buffer.alloc(0), dataSourceID: 0 },
  { type: (3 << 16) >>> 0, seq: 2 ** 32 - 1, payload: Buffer.alloc(5000, 0xab), dataSourceID: 200 },
  { type: 0x101, seq: 300, payload: Buffer.alloc(8, 1), dataSourceID: 0 },
];

let dir: string;
let server: grpc.Server;
let address: string;
/** What the handler does with each call: write EVENTS then end, or fail with this status. */
let fail: { code: number; details: string } | undefined;
let writerFound = false;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ig-h2writer-'));
  address = `unix://${join(dir, 's.sock')}`;
  server = new grpc.Server();
  server.addService(serviceOf('GadgetManager').service, {
    GetGadgetInfo: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED }),
    RunGadget: (call: grpc.ServerDuplexStream<unknown, ApiGadgetEvent>) => {
      call.once('data', () => {
        const w = Http2EventWriter.of(call);
        writerFound = w !== undefined;
        if (!w) { call.end(); return; }
        let written = 0;
        for (const ev of EVENTS) w.write(ev, (err) => { assert.ifError(err); written++; });
        if (fail) w.emit('error', fail);
        else setImmediate(() => { assert.ok(written <= EVENTS.length); w.end(); });
      });
      call.on('error', () => { /* the client's side ending is asserted there */ });
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
});

after(() => {
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

function run(ctor: grpc.ServiceClientConstructor): Promise<{ events: ApiGadgetEvent[]; status: grpc.StatusObject }> {
  const client = new ctor(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { RunGadget: (md?: grpc.Metadata) => grpc.ClientDuplexStream<object, ApiGadgetEvent> };
  const call = client.RunGadget(new grpc.Metadata());
  const events: ApiGadgetEvent[] = [];
  return new Promise((resolve) => {
    let status: grpc.StatusObject | undefined;
    let ended = false;
    const done = () => { if (status && ended) { client.close(); resolve({ events, status }); } };
    call.on('data', (ev: ApiGadgetEvent) => events.push({ type: ev.type, seq: ev.seq, payload: Buffer.from(ev.payload ?? []), dataSourceID: ev.dataSourceID }));
    call.on('status', (s) => { status = s; done(); });
    call.on('error', () => { ended = true; done(); });
    call.on('end', () => { ended = true; done(); });
    call.write({ runRequest: { imageName: 'x', version: 1 } });
  });
}

test('gadgetEventFraming: prefix and fields around the payload make the bytes serializeGadgetEvent writes', () => {
  for (const ev of EVENTS) {
    const { head, tail } = gadgetEventFraming(ev);
    const msg = Buffer.concat([head, ev.payload, tail ?? Buffer.alloc(0)]);
    const want = Buffer.from(serializeGadgetEvent(ev));
    assert.equal(msg[0], 0, 'not compressed');
    assert.equal(msg.readUInt32BE(1), want.length, 'length prefix');
    assert.ok(msg.subarray(5).equals(want), `type ${ev.type} seq ${ev.seq}`);
  }
});

test('events written on the HTTP/2 stream reach grpc-js clients (protobufjs and the hand decoder) in order, then OK', async () => {
  fail = undefined;
  for (const ctor of [serviceOf('GadgetManager') as unknown as grpc.ServiceClientConstructor, clientServiceOf('GadgetManager')]) {
    const { events, status } = await run(ctor);
    assert.ok(writerFound, 'grpc-js exposes the call\'s HTTP/2 stream as this writer expects (else the daemon falls back to grpc-js\'s copying path)');
    assert.equal(status.code, grpc.status.OK, status.details);
    assert.equal(events.length, EVENTS.length);
    events.forEach((ev, k) => {
      const want = EVENTS[k]!;
      assert.equal(ev.type, want.type, `event ${k} type`);
      assert.equal(ev.seq, want.seq, `event ${k} seq`);
      assert.equal(ev.dataSourceID, want.dataSourceID, `event ${k} data source`);
      assert.ok(Buffer.from(ev.payload).equals(want.payload), `event ${k} payload`);
    });
  }
});

test('an error after the events reaches the client as its status, after the events', async () => {
  fail = { code: grpc.status.NOT_FOUND, details: 'no such gadget: x' };
  const { events, status } = await run(clientServiceOf('GadgetManager'));
  assert.equal(status.code, grpc.status.NOT_FOUND);
  assert.equal(status.details, 'no such gadget: x');
  assert.equal(events.length, EVENTS.length);
});
