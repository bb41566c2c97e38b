// Decoded syscall arguments and return values (traceloop), driven by field annotations:
//
//   args:     ebpf.formatter.syscall-params: parameters      # target field: "fd=3, buf=0x7ffc…, count=832"
//             ebpf.formatter.syscall-params.syscall: syscall_raw  # field holding the syscall number
//             ebpf.formatter.syscall-params.string: param    # optional: string copied for the first char* argument
//   ret_raw:  ebpf.formatter.syscall-ret: ret                # target field: "3", "-1 (ENOENT)", "X" if it never returned
//             ebpf.formatter.syscall-ret.completed: completed     # optional bool field: false = did not return
//
// The texts come from src/format/syscalls.ts.
import { Kind, type Batch, type DataSource, type Field } from '../../datasource/index.js';
import { formatParams, formatRet } from '../../format/syscalls.js';

function addSibling(ds: DataSource, raw: Field, name: string, description: string, compute: (b: Batch, i: number) => string, nativeKey?: Field[]): void {
  const f = ds.addField({
    name, parent: raw.parent, kind: Kind.String, order: raw.order, tags: ['src:ebpf'],
    annotations: { description }, storage: { type: 'derived', compute },
  });
  // The text follows from these fields' bytes alone: a render plan can memoise it.
  if (nativeKey) f.derivation = { kind: 'computed', inputs: nativeKey };
  raw.setHidden(true);
}

/** Wire the annotated syscall fields of `ds`. */
export function addSyscallFields(ds: DataSource): void {
  for (const raw of [...ds.fields]) {
    const paramsTarget = raw.annotation('ebpf.formatter.syscall-params');
    if (paramsTarget) {
      const nrField = ds.getField(raw.annotation('ebpf.formatter.syscall-params.syscall') ?? '');
      if (!nrField) throw new Error(`data source ${ds.name}: field ${raw.fullName}: ebpf.formatter.syscall-params.syscall must name the syscall number field`);
      const strName = raw.annotation('ebpf.formatter.syscall-params.string');
      const strField = strName ? ds.getField(strName) : undefined;
      if (strName && !strField) throw new Error(`data source ${ds.name}: field ${raw.fullName}: no field "${strName}" for ebpf.formatter.syscall-params.string`);
      const getArgs = raw.get;
      const getNr = nrField.get;
      const getStr = strField?.get;
      addSibling(ds, raw, paramsTarget, raw.annotation('description') ?? 'Syscall parameters', (b, i) => {
        const args = getArgs(b, i);
        if (!Array.isArray(args)) return '';
        const s = getStr ? String(getStr(b, i) ?? '') : undefined;
        return formatParams(Number(getNr(b, i)), args, s === '' ? undefined : s);
      });
    }
    const retTarget = raw.annotation('ebpf.formatter.syscall-ret');
    if (retTarget) {
      const complName = raw.annotation('ebpf.formatter.syscall-ret.completed');
      const completed = complName ? ds.getField(complName) : undefined;
      const getCompleted = completed?.get;
      const get = raw.get;
      addSibling(ds, raw, retTarget, raw.annotation('description') ?? 'Return value', (b, i) =>
        formatRet(get(b, i) as number | bigint, getCompleted ? Boolean(getCompleted(b, i)) : true), completed ? [raw, completed] : [raw]);
    }
  }
}
