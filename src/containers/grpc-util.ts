/**
 * Helpers for the gRPC runtime clients (containerd, CRI): locating the hand-written .proto files,
 * loading them, and promise-wrapping unary calls.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Directory holding the .proto files of `sub` (e.g. `containerd/proto`). tsc does not copy .proto files,
 * so when running from dist/src/containers/ we fall back to the sources under src/containers/.
 */
export function protoDir(sub: string): string {
  const candidates = [
    path.join(here, sub),
    path.resolve(here, '..', '..', '..', 'src', 'containers', sub),
    path.resolve(here, '..', '..', 'src', 'containers', sub),
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`cannot find proto files for ${sub} (looked in ${candidates.join(', ')})`);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyClient = grpc.Client & Record<string, any>;
type ClientCtor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => AnyClient;

/** Load `files` (relative to `dir`) and return a lookup for service constructors by full name. */
export function loadServices(dir: string, files: string[]): (fullName: string) => ClientCtor {
  const def = protoLoader.loadSync(files.map((f) => path.join(dir, f)), {
    includeDirs: [dir],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const root = grpc.loadPackageDefinition(def);
  return (fullName: string) => {
    let cur: unknown = root;
    for (const part of fullName.split('.')) cur = (cur as Record<string, unknown>)?.[part];
    if (typeof cur !== 'function') throw new Error(`service ${fullName} not found in ${files.join(', ')}`);
    return cur as ClientCtor;
  };
}

/** grpc-js address for a unix socket path. */
export function unixTarget(socket: string): string {
  return `unix:${path.resolve(socket)}`;
}

/** Call a unary method with a deadline; reject with the gRPC error. */
export function unary<Res>(client: AnyClient, method: string, req: unknown, md: grpc.Metadata, timeoutMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof fn !== 'function') { reject(new Error(`no method ${method}`)); return; }
    fn.call(client, req, md, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Res) => {
      if (err) reject(err); else resolve(res);
    });
  });
}

/** Wait until the client's channel is connected (fails fast when nothing listens on the socket). */
export function waitReady(client: grpc.Client, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
  });
}

/** A short description of a gRPC error for warnings. */
export function grpcErrorText(err: unknown): string {
  const e = err as Partial<grpc.ServiceError> & { message?: string };
  if (e && typeof e.details === 'string' && e.details) return e.details;
  return e?.message ?? String(err);
}
