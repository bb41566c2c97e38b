import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource, Kind, FieldFlag, KindFlagArray } from '../datasource/index.js';
import { declarationFile, tsType, typeName } from './types-gen.js';

test('kinds become TypeScript types; enum names a string union', () => {
  const ds = new DataSource('events', 'single');
  const mk = (name: string, kind: number) => ds.addField({ name, kind, storage: { type: 'static', offs: 0, size: 8 } });
  assert.equal(tsType(mk('b', Kind.Bool)), 'boolean');
  assert.equal(tsType(mk('u32', Kind.Uint32)), 'number');
  assert.equal(tsType(mk('u64', Kind.Uint64)), 'number | bigint');
  assert.equal(tsType(mk('s', Kind.CString)), 'string');
  assert.equal(tsType(mk('raw', Kind.Bytes)), 'Buffer');
  assert.equal(tsType(mk('arr', Kind.Uint16 | KindFlagArray)), 'number[]');
  assert.equal(tsType(mk('arr64', Kind.Int64 | KindFlagArray)), '(number | bigint)[]');
  const e = mk('state', Kind.String);
  e.enumValues = ['ESTABLISHED', 'CLOSE', 'UNKNOWN'];
  assert.equal(tsType(e), '"ESTABLISHED" | "CLOSE" | "UNKNOWN"');
});

test('the declaration file: one interface per data source, nested members, names registered in GadgetEvents', () => {
  const ds = new DataSource('tcp', 'single');
  const proc = ds.addField({ name: 'proc', kind: Kind.Invalid, flags: FieldFlag.Empty, annotations: { description: 'The process' } });
  ds.addField({ name: 'comm', parent: proc, kind: Kind.CString, annotations: { description: 'Command */ name' }, storage: { type: 'static', offs: 0, size: 16 } });
  ds.addField({ name: 'dst-port', kind: Kind.Uint16, storage: { type: 'static', offs: 16, size: 2 } });
  const text = declarationFile({ names: ['trace_tcp', 'ghcr.io/x/trace_tcp:latest'], reference: 'ghcr.io/x/trace_tcp:latest', dataSources: [ds] });
  assert.match(text, /^import type \{ EventBase \} from 'ig';$/m);
  assert.match(text, /export interface TraceTcpTcpEvent extends EventBase<"tcp"> \{\n  readonly "dst-port": number;\n  \/\*\* The process \*\/\n  readonly proc: \{\n    \/\*\* Command \* \/ name \*\/\n    readonly comm: string;\n  \};\n\}/);
  assert.match(text, /export type TraceTcpEvent = TraceTcpTcpEvent;/);
  assert.match(text, /declare module 'ig' \{\n  interface GadgetEvents \{\n    "trace_tcp": TraceTcpEvent;\n    "ghcr.io\/x\/trace_tcp:latest": TraceTcpEvent;\n  \}\n\}/);
  assert.equal(typeName('my-gadget', 'open', 'event'), 'MyGadgetOpenEvent');
});
