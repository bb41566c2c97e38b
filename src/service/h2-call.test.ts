// The raw HTTP/2 gRPC call (h2-call.ts) against a real grpc-js server over a unix socket and TCP: messages of every
// size (one byte to several MiB, across DATA frames and socket reads) arrive intact and in order whether or not the
// handler keeps them, the server receives what the client writes, statuses and their messages (trailers-only and
// after messages, percent-encoded text) come through, a cancel reaches the server, and a missing server is an
// UNAVAILABLE with the socket's error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as net from 'node:net';
import { H2Call, type CallStatus } from './h2-call.js';
import { encodeLiterals } from './hpack.js';

const PATH = '/test.Echo/Run';
const identity = (b: Buffer): Buffer => b;
const DEF: grpc.ServiceDefinition = {
  Run: { path: PATH, requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};

type Behaviour = (call: grpc.ServerDuplexStream<Buffer, Buffer>, first: Buffer) => void;

async function server(bind: string, behave: Behaviour): Promise<{ s: grpc.Server; port: number }> {
  const s = new grpc.Server({ 'grpc.max_send_message_length': 64 << 20 });
  s.addService(DEF, { Run: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => { call.once('data', (b: Buffer) => behave(call, b)); call.on('error', () => undefined); } });
  const port = await new Promise<number>((resolve, reject) => s.bindAsync(bind, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { s, port };
}

function message(k: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + k) & 0xff;
  return b;
}

const SIZES = [1, 0, 100, 16_379, 16_384, 70_000, 1 << 20, (3 << 20) + 5, 5];

function run(where: { socketPath?: string; host?: string; port?: number }, keep: boolean, write: Buffer[] = [Buffer.from('hello')], metadata: Record<string, string> = {}): { got: Buffer[]; status: Promise<CallStatus>; call: H2Call } {
  const got: Buffer[] = [];
  let done!: (s: CallStatus) => void;
  const status = new Promise<CallStatus>((r) => { done = r; });
  const call = new H2Call({ ...where, path: PATH, authority: 'localhost', metadata }, {
    onMessage: (buf, start, end) => { got.push(keep ? buf.subarray(start, end) : Buffer.from(buf.subarray(start, end))); return keep; },
    onStatus: (s) => done(s),
  });
  for (const w of write) call.write(w);
  return { got, status, call };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ig-h2call-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

for (const transport of ['unix', 'tcp'] as const) {
  test(`${transport}: messages of every size arrive intact and in order, the server gets the request and metadata`, async () => {
    const sock = path.join(tmp, `echo-${transport}.sock`);
    let seenMd: string | undefined;
    let seenFirst: Buffer | undefined;
    const { s, port } = await server(transport === 'unix' ? `unix://${sock}` : '127.0.0.1:0', (call, first) => {
      seenFirst = first;
      seenMd = String(call.metadata.get('x-ig-test')[0]);
      SIZES.forEach((n, k) => call.write(message(k, n)));
      call.end();
    });
    try {
      for (const keep of [true, false]) {
        const where = transport === 'unix' ? { socketPath: sock } : { host: '127.0.0.1', port };
        const r = run(where, keep, [Buffer.from('first request')], { 'x-ig-test': 'yes' });
        const st = await r.status;
        assert.equal(st.code, grpc.status.OK, st.details);
        assert.equal(r.got.length, SIZES.length);
        SIZES.forEach((n, k) => assert.ok(r.got[k]!.equals(message(k, n)), `message ${k} (${n} bytes), keep=${keep}`));
        assert.equal(seenFirst?.toString(), 'first request');
        assert.equal(seenMd, 'yes');
      }
    } finally {
      s.forceShutdown();
    }
  });
}

test('statuses: an error before any message (trailers only) and after messages, with their text', async () => {
  const sock = path.join(tmp, 'err.sock');
  const { s } = await server(`unix://${sock}`, (call, first) => {
    if (first.toString() === 'after') { call.write(message(1, 50_000)); call.write(message(2, 10)); }
    call.emit('error', { code: grpc.status.NOT_FOUND, details: 'gadget "ünï/cödé" 100% not found\tat all' });
  });
  try {
    for (const when of ['before', 'after']) {
      const r = run({ socketPath: sock }, false, [Buffer.from(when)]);
      const st = await r.status;
      assert.equal(st.code, grpc.status.NOT_FOUND);
      assert.equal(st.details, 'gadget "ünï/cödé" 100% not found\tat all');
      assert.equal(r.got.length, when === 'after' ? 2 : 0);
    }
  } finally {
    s.forceShutdown();
  }
});

test('a cancel reaches the server; no server is UNAVAILABLE with the socket error', async () => {
  const sock = path.join(tmp, 'cancel.sock');
  let cancelled!: () => void;
  const serverSawCancel = new Promise<void>((r) => { cancelled = r; });
  const { s } = await server(`unix://${sock}`, (call) => {
    call.on('cancelled', () => cancelled());
    call.write(message(0, 10));
  });
  try {
    const got: Buffer[] = [];
    let status: CallStatus | undefined;
    const call = new H2Call({ socketPath: sock, path: PATH, authority: 'localhost' }, {
      onMessage: (b, st, e) => { got.push(Buffer.from(b.subarray(st, e))); call.cancel(); return false; },
      onStatus: (st) => { status = st; },
    });
    call.write(Buffer.from('x'));
    await serverSawCancel;
    assert.equal(got.length, 1);
    assert.equal(status?.code, grpc.status.CANCELLED);
  } finally {
    s.forceShutdown();
  }
  const missing = run({ socketPath: path.join(tmp, 'nobody.sock') }, false);
  const st = await missing.status;
  assert.equal(st.code, grpc.status.UNAVAILABLE);
  assert.match(st.details, /ENOENT/);
});

/** An HTTP/2 frame as a server sends it. */
function h2frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

test('frame headers and message prefixes split across socket reads at every byte arrive as the same messages', { timeout: 20_000 }, async () => {
  // A hand-made server response written in pieces of 1 to 11 bytes, one per read: frame headers and gRPC message
  // prefixes cut at every position, messages spanning DATA frames, several messages in one frame.
  const msgs = [message(1, 3), message(2, 0), message(3, 40), message(4, 7)];
  const grpcMsg = (m: Buffer) => { const p = Buffer.alloc(5); p.writeUInt32BE(m.length, 1); return Buffer.concat([p, m]); };
  const body = Buffer.concat(msgs.map(grpcMsg));
  const response = Buffer.concat([
    h2frame(4, 0, 0, Buffer.alloc(0)), // SETTINGS
    h2frame(1, 4, 1, encodeLiterals([[':status', '200'], ['content-type', 'application/grpc']])),
    h2frame(0, 0, 1, body.subarray(0, 6)), h2frame(0, 0, 1, body.subarray(6, 31)), h2frame(0, 0, 1, body.subarray(31)),
    h2frame(1, 4 | 1, 1, encodeLiterals([['grpc-status', '0']])),
  ]);
  const sock = path.join(tmp, 'split.sock');
  const srv = net.createServer((c) => {
    c.setNoDelay(true);
    c.on('data', () => undefined);
    c.on('error', () => undefined);
    void (async () => {
      for (let at = 0, k = 0; at < response.length; k++) {
        const n = 1 + (k % 11);
        c.write(response.subarray(at, at + n));
        at += n;
        await new Promise((r) => setTimeout(r, 2)); // one read each
      }
    })();
  });
  await new Promise<void>((r) => srv.listen(sock, r));
  try {
    const r = run({ socketPath: sock }, false);
    const st = await r.status;
    assert.equal(st.code, grpc.status.OK, st.details);
    assert.equal(r.got.length, msgs.length);
    msgs.forEach((m, k) => assert.ok(r.got[k]!.equals(m), `message ${k}`));
  } finally {
    srv.close();
  }
});
