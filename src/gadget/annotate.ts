// `--annotate` (upstream's operator.oci.annotate): extra annotations merged into the gadget's metadata before any
// data source or field is created, so every operator reads them exactly as if gadget.yaml carried them.
//   ds:annotation=value          → datasources.<ds>.annotations.<annotation>
//   ds.field:annotation=value    → datasources.<ds>.fields.<field>.annotations.<annotation> (field = full name)
// Several go in one flag separated by commas, and the flag may repeat. A comma-separated piece without a ':' is
// not a new annotation but the rest of the previous value, so `ds.f:metrics.boundaries=1,10,100` works unquoted.
import type { GadgetMetadata } from './metadata.js';

export class AnnotateError extends Error {}

export interface Annotation {
  /** The text as given, for messages. */
  text: string;
  ds: string;
  /** Full field name, when the subject names a field. */
  field?: string;
  key: string;
  value: string;
}

/** Split flag values into single annotation texts (commas separate; see the header for values with commas). */
export function splitAnnotations(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const piece of v.split(',')) {
      if (piece === '') continue;
      if (!piece.includes(':') && out.length > 0 && piece.length > 0 && /=/.test(out[out.length - 1]!)) out[out.length - 1] += `,${piece}`;
      else out.push(piece);
    }
  }
  return out;
}

/** Parse one annotation; the value may contain ':' and '='. */
export function parseAnnotation(text: string): Annotation {
  const colon = text.indexOf(':');
  if (colon < 0) throw new AnnotateError(`invalid --annotate "${text}": expected datasource:annotation=value or datasource.field:annotation=value`);
  const subject = text.slice(0, colon);
  const assignment = text.slice(colon + 1);
  if (subject === '' || assignment === '') throw new AnnotateError(`invalid --annotate "${text}": empty subject or assignment`);
  const eq = assignment.indexOf('=');
  if (eq < 0) throw new AnnotateError(`invalid --annotate "${text}": expected annotation=value after the ':'`);
  const key = assignment.slice(0, eq);
  if (key === '') throw new AnnotateError(`invalid --annotate "${text}": empty annotation name`);
  const dot = subject.indexOf('.');
  const ds = dot < 0 ? subject : subject.slice(0, dot);
  const field = dot < 0 ? undefined : subject.slice(dot + 1);
  if (ds === '' || (field !== undefined && field.split('.').some((p) => p === ''))) {
    throw new AnnotateError(`invalid --annotate "${text}": empty data source, field or sub-field name`);
  }
  return { text, ds, ...(field !== undefined ? { field } : {}), key, value: assignment.slice(eq + 1) };
}

export function parseAnnotations(values: string[]): Annotation[] {
  return splitAnnotations(values).map(parseAnnotation);
}

/** Merge annotations into the metadata's data source config (later ones win, as with viper's MergeConfigMap). */
export function applyAnnotations(md: GadgetMetadata, anns: Annotation[]): void {
  for (const a of anns) {
    const ds = (md.datasources[a.ds] ??= { annotations: {}, fields: {} });
    if (a.field === undefined) {
      (ds.annotations ??= {})[a.key] = a.value;
      continue;
    }
    const fields = (ds.fields ??= {});
    const f = (fields[a.field] ??= { annotations: {}, tags: [] });
    (f.annotations ??= {})[a.key] = a.value;
  }
}

/**
 * After the data sources exist: an annotation for a data source or field the gadget does not have is a typo that
 * would otherwise do nothing silently.
 */
export function checkAnnotationTargets(anns: Annotation[], sources: Map<string, { fields: { fullName: string }[] }>): void {
  for (const a of anns) {
    const ds = sources.get(a.ds);
    if (!ds) {
      throw new AnnotateError(`--annotate "${a.text}": the gadget has no data source "${a.ds}" (it has: ${[...sources.keys()].join(', ') || 'none'})`);
    }
    if (a.field !== undefined && !ds.fields.some((f) => f.fullName === a.field)) {
      throw new AnnotateError(`--annotate "${a.text}": data source "${a.ds}" has no field "${a.field}"`);
    }
  }
}
