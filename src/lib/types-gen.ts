// `ig types IMAGE`: a declaration file with the events runGadget yields for an image, generated from its data
// sources exactly as the views are (same fields, same nesting), and registered in the library's GadgetEvents map
// (module augmentation) under the image names given.
import type { DataSource, Field } from '../datasource/index.js';
import { Kind, baseKind, isArrayKind } from '../datasource/index.js';
import { buildTree, type Node } from '../operators/cli/json.js';
import { viewFields } from './views.js';
import { prepareGadget } from '../runtime/assemble.js';
import { Logger } from '../gadget/logger.js';
import { libraryOperators } from './run.js';

/** The TypeScript type of a field's value as the view's getter returns it. */
export function tsType(f: Field): string {
  const k = baseKind(f.kind);
  if (f.enumValues?.length) return f.enumValues.map((v) => JSON.stringify(v)).join(' | ');
  const scalar = (kind: number): string => {
    switch (kind) {
      case Kind.Bool: return 'boolean';
      case Kind.Int8: case Kind.Int16: case Kind.Int32: case Kind.Uint8: case Kind.Uint16: case Kind.Uint32:
      case Kind.Float32: case Kind.Float64: return 'number';
      // Exact: a Number when it fits 2^53, else a BigInt (ids, boot-time ns).
      case Kind.Int64: case Kind.Uint64: return 'number | bigint';
      case Kind.String: case Kind.CString: return 'string';
      case Kind.Bytes: return 'Buffer';
      default: return 'unknown';
    }
  };
  if (isArrayKind(f.kind)) {
    const s = scalar(k);
    return s === 'unknown' || s === 'Buffer' ? 'Buffer' : s.includes('|') ? `(${s})[]` : `${s}[]`;
  }
  return scalar(k);
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
const key = (n: string) => (IDENT.test(n) ? n : JSON.stringify(n));

/** `trace_open` + `open` → `TraceOpenOpenEvent`. */
export function typeName(...parts: string[]): string {
  return parts.join('_').split(/[^A-Za-z0-9]+|_/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('').replace(/^(\d)/, '_$1');
}

function comment(f: Field | undefined, pad: string): string {
  const d = f?.annotation('description')?.trim();
  return d ? `${pad}/** ${d.replace(/\*\//g, '* /').replace(/\s+/g, ' ')} */\n` : '';
}

function members(n: Node, depth: number): string {
  const pad = '  '.repeat(depth);
  let out = '';
  for (const c of n.children) {
    const hasChildren = c.children.length > 0;
    if (!hasChildren && (!c.field || c.field.isEmpty)) continue;
    out += comment(c.field, pad);
    out += hasChildren
      ? `${pad}readonly ${key(c.name)}: {\n${members(c, depth + 1)}${pad}};\n`
      : `${pad}readonly ${key(c.name)}: ${tsType(c.field!)};\n`;
  }
  return out;
}

export interface TypesSource {
  /** Names runGadget may be called with (as given, and the full reference). */
  names: string[];
  /** The image's reference and digest, for the header. */
  reference: string;
  digest?: string;
  dataSources: DataSource[];
  fields?: string[];
}

/** The declaration file's text. */
export function declarationFile(src: TypesSource, moduleName = 'ig'): string {
  const base = typeName(src.names[0]!.replace(/^.*\//, '').replace(/[:@].*$/, ''));
  const lines: string[] = [
    `// Event types of ${src.reference}${src.digest ? ` (${src.digest})` : ''}, written by \`ig types\`.`,
    `// Include this file in the compilation (import it once, or list it in tsconfig) and runGadget(${JSON.stringify(src.names[0])}, …)`,
    '// yields these events. Regenerate it when the image changes.',
    `import type { EventBase } from '${moduleName}';`,
    '',
  ];
  const perDs: string[] = [];
  for (const ds of src.dataSources) {
    if (!ds.referenced) continue;
    const name = typeName(base, ds.name, 'event');
    perDs.push(name);
    const d = ds.annotations.get('description');
    if (d) lines.push(`/** ${d.replace(/\*\//g, '* /')} */`);
    lines.push(`export interface ${name} extends EventBase<${JSON.stringify(ds.name)}> {`);
    lines.push(members(buildTree(viewFields(ds, src.fields)), 1).replace(/\n$/, ''));
    lines.push('}', '');
  }
  const all = typeName(base, 'event');
  lines.push(`export type ${all} = ${perDs.length ? perDs.join(' | ') : 'never'};`, '');
  lines.push(`declare module '${moduleName}' {`, '  interface GadgetEvents {');
  for (const n of [...new Set(src.names)]) lines.push(`    ${JSON.stringify(n)}: ${all};`);
  lines.push('  }', '}', '');
  return lines.join('\n');
}

/** Read an image (from the local store, pulling per `pull`) and write its declaration file's text. */
export async function gadgetTypes(image: string, opts: { fields?: string[]; pull?: 'always' | 'missing' | 'never'; log?: Logger } = {}): Promise<string> {
  const ctx = await prepareGadget(image, { log: opts.log ?? new Logger('warn'), operators: libraryOperators(), image: { pull: opts.pull ?? 'missing' } });
  return declarationFile({ names: [image, ctx.image.reference], reference: ctx.image.reference, digest: ctx.image.digest, dataSources: [...ctx.dataSources.values()], fields: opts.fields });
}
