// The gadget-service API (api.proto beside this file) loaded with proto-loader, and the TypeScript shapes of the
// messages ig uses. Field names keep the proto's lowerCamel spelling; int64s arrive as strings (no precision loss).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** tsc does not copy .proto files: from dist/src/service/ fall back to src/service/. */
function protoPath(): string {
  const candidates = [path.join(here, 'api.proto'), path.resolve(here, '..', '..', '..', 'src', 'service', 'api.proto')];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`cannot find api.proto (looked in ${candidates.join(', ')})`);
}

export interface ApiParam {
  key: string; description?: string; defaultValue?: string; typeHint?: string; title?: string; alias?: string;
  tags?: string[]; valueHint?: string; possibleValues?: string[]; isMandatory?: boolean; prefix?: string; alternativeKey?: string;
}

export interface ApiField {
  name: string; fullName: string; index: number; payloadIndex: number; offs: number; size: number; flags: number;
  kind: number; tags: string[]; annotations: Record<string, string>; parent: number; order: number;
}

export interface ApiDataSource {
  id: number; name: string; type: number; fields: ApiField[]; tags: string[]; annotations: Record<string, string>; flags: number;
}

export interface ApiGadgetInfo {
  name: string; imageName: string; dataSources: ApiDataSource[]; annotations: Record<string, string>;
  metadata: Buffer; params: ApiParam[]; id: string; extraInfo?: { data: Record<string, { contentType: string; content: Buffer }> } | null;
}

export interface ApiRunRequest {
  imageName: string; paramValues: Record<string, string>; args?: string[]; version: number; logLevel?: number;
  /** Nanoseconds (int64 as decimal text or number). */
  timeout?: string | number;
}

export interface ApiControlRequest {
  runRequest?: ApiRunRequest | null;
  stopRequest?: Record<string, never> | null;
  attachRequest?: { id: string; version: number } | null;
  Event?: string;
}

export interface ApiGadgetEvent { type: number; seq: number; payload: Buffer; dataSourceID: number }

export const InstanceStatus = { Invalid: 0, Running: 1, Error: 2 } as const;

export interface ApiGadgetInstance {
  id: string;
  gadgetConfig: ApiRunRequest | null;
  tags: string[];
  timeCreated: string | number;
  nodes: string[];
  name: string;
  state?: { status: number; message: string } | null;
}

export interface ApiCreateInstanceRequest { gadgetInstance: ApiGadgetInstance | null; eventBufferLength?: number }
export interface ApiStatusResponse { result: number; message: string }
export interface ApiInfoResponse { version: string; experimental: boolean; serverVersion: string }

let loaded: grpc.GrpcObject | undefined;
let root: protobuf.Root | undefined;

/** api.proto parsed once, for the services and for the messages inside payloads (parsing is most of the cost). */
function apiRoot(): protobuf.Root {
  return (root ??= protobuf.loadSync(protoPath()));
}

/** The `api` package: service definitions and client constructors. Loaded once. */
export function apiPackage(): grpc.GrpcObject {
  if (!loaded) {
    const def = protoLoader.fromJSON(apiRoot().toJSON(), { keepCase: true, longs: String, enums: Number, defaults: true, oneofs: true, bytes: Buffer });
    loaded = grpc.loadPackageDefinition(def)['api'] as grpc.GrpcObject;
  }
  return loaded;
}

export type ServiceCtor = grpc.ServiceClientConstructor;

export function serviceOf(name: 'GadgetManager' | 'GadgetInstanceManager' | 'BuiltInGadgetManager'): ServiceCtor {
  return apiPackage()[name] as ServiceCtor;
}

function typeOf(name: string): protobuf.Type {
  return apiRoot().lookupType(`api.${name}`);
}

/** Messages carried inside payloads (GadgetInfo in a GadgetEvent), and instance files. */
export function encodeMessage(name: string, obj: object): Buffer {
  const t = typeOf(name);
  return Buffer.from(t.encode(t.fromObject(obj)).finish());
}

const CONVERT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: Buffer as unknown as protobuf.IConversionOptions['bytes'], defaults: true, arrays: true, objects: true };

export function decodeMessage<T>(name: string, buf: Buffer): T {
  const t = typeOf(name);
  return t.toObject(t.decode(buf), CONVERT) as T;
}

/** protobuf's JSON form (lowerCamel names), as upstream's file store writes instance files. */
export function toJsonMessage(name: string, obj: object): unknown {
  const t = typeOf(name);
  return t.toObject(t.fromObject(obj), { longs: String, enums: String, bytes: String, json: true });
}

export function fromJsonMessage<T>(name: string, json: unknown): T {
  const t = typeOf(name);
  return t.toObject(t.fromObject(json as Record<string, unknown>), CONVERT) as T;
}
