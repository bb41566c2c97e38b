// The client's view of the gadget-service API: messages from the precompiled descriptor (client-descriptor.ts,
// generated from api.proto) with protobufjs's light build, service definitions made here instead of by
// proto-loader. Start-up: parsing api.proto and proto-loader's descriptor work were a large share of gadgetctl's
// time to its first event. The server side keeps proto.ts.
//
// The messages convert as proto-loader's definitions do (keepCase, longs as strings, enums as numbers, bytes as
// Buffers, defaults, oneofs), so callers see the same objects. GadgetEvent, the one message per batch, is read by
// hand: its payload is a view of the received bytes, not a copy.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';
import { API_DESCRIPTOR } from './client-descriptor.js';
import type { ApiGadgetEvent } from './proto.js';

type Service = 'GadgetManager' | 'GadgetInstanceManager' | 'BuiltInGadgetManager';

const CONVERT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: Buffer as unknown as protobuf.IConversionOptions['bytes'], defaults: true, oneofs: true };

let root: protobuf.Root | undefined;
function apiRoot(): protobuf.Root {
  return (root ??= protobuf.Root.fromJSON(API_DESCRIPTOR as unknown as protobuf.INamespace));
}

function typeOf(name: string): protobuf.Type {
  return apiRoot().lookupType(`api.${name}`);
}

/** A message of the API from its bytes, as proto-loader's deserializer returns it. */
export function decodeClientMessage<T>(name: string, buf: Uint8Array): T {
  const t = typeOf(name);
  return t.toObject(t.decode(buf), CONVERT) as T;
}

/** A message of the API as bytes (the client's serializer: objects as proto-loader's callers write them). */
export function encodeClientMessage(name: string, obj: object): Buffer {
  return serializer(typeOf(name))(obj);
}

const EMPTY = Buffer.alloc(0);

function fail(what: string): never {
  throw new Error(`malformed GadgetEvent message: ${what}`);
}

/**
 * GadgetEvent (type = 1, seq = 2, payload = 3, dataSourceID = 4, all uint32 but payload) decoded by hand; unknown
 * fields are skipped as protobuf requires. The payload is a subarray of `buf` (grpc-js hands each message its own
 * buffer and does not reuse it).
 */
export function decodeGadgetEvent(buf: Buffer): ApiGadgetEvent {
  const ev: ApiGadgetEvent = { type: 0, seq: 0, payload: EMPTY, dataSourceID: 0 };
  let pos = 0;
  const end = buf.length;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 10; k++) {
      if (pos >= end) fail('truncated varint');
      const b = buf[pos++]!;
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    return fail('varint longer than 10 bytes');
  };
  while (pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      // uint32 fields keep the low 32 bits of the varint (as protobufjs reads them)
      const v = varint() % 0x100000000;
      if (field === 1) ev.type = v; else if (field === 2) ev.seq = v; else if (field === 4) ev.dataSourceID = v;
    } else if (wire === 2) {
      const n = varint();
      if (n > end - pos) fail(`field ${field}: ${n} bytes, ${end - pos} left`);
      if (field === 3) ev.payload = buf.subarray(pos, pos + n);
      pos += n;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      fail(`field ${field}: wire type ${wire}`);
    }
    if (pos > end) fail('truncated field');
  }
  return ev;
}

function serializer(t: protobuf.Type): (arg: object) => Buffer {
  return (arg) => {
    const b = t.encode(t.fromObject(arg as Record<string, unknown>)).finish();
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  };
}

/** grpc-js's service definition of one API service, as proto-loader would make it. */
export function clientServiceDefinition(service: Service): grpc.ServiceDefinition {
  const svc = apiRoot().lookupService(`api.${service}`);
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of svc.methodsArray) {
    m.resolve();
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    const deser = (t: protobuf.Type) => (b: Buffer) => t.toObject(t.decode(b), CONVERT);
    def[m.name] = {
      path: `/api.${service}/${m.name}`,
      requestStream: Boolean(m.requestStream),
      responseStream: Boolean(m.responseStream),
      requestSerialize: serializer(req),
      requestDeserialize: deser(req),
      responseSerialize: serializer(res),
      responseDeserialize: res.name === 'GadgetEvent' ? decodeGadgetEvent : deser(res),
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return def as grpc.ServiceDefinition;
}

const ctors = new Map<Service, grpc.ServiceClientConstructor>();

/** The client constructor of one API service. */
export function clientServiceOf(service: Service): grpc.ServiceClientConstructor {
  let c = ctors.get(service);
  if (!c) {
    c = grpc.makeGenericClientConstructor(clientServiceDefinition(service) as grpc.ServiceDefinition<grpc.UntypedServiceImplementation>, service);
    ctors.set(service, c);
  }
  return c;
}
