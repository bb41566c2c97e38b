// node's zlib and tls, loaded on first use. An `ig run` of a stored image needs neither (they serve layer
// decompression, recordings and TLS clients), and each module node loads stays in the process: its compiled code
// in V8's heap and the pages of node's binary it read (tls pulls in _tls_wrap and _tls_common; with zlib ≈0.5–1 MiB
// of a run's peak resident set, docs/benchmarks.md).
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';
import type * as Zlib from 'node:zlib';

let zlibModule: typeof Zlib | undefined;
let tlsModule: typeof Tls | undefined;

export function zlib(): typeof Zlib {
  zlibModule ??= createRequire(import.meta.url)('node:zlib') as typeof Zlib;
  return zlibModule;
}

export function tls(): typeof Tls {
  tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof Tls;
  return tlsModule;
}
