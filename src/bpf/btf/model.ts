// What the BTF layer hands to the rest of ig: gadget markers and flattened struct layouts.

// Layouts type their members with the data-source kinds (upstream's api.Kind): datasource/kinds.ts is a leaf
// module (no imports), the one thing of datasource that the BTF layer uses.
export { Kind, KindFlagArray } from '../../datasource/kinds.js';

export interface EnumInfo {
  name: string;                       // enum type name (without "enum ")
  values: Map<bigint, string>;        // value -> enumerator name
  size: number;
  signed: boolean;
}

/** One member of a flattened struct. Nested structs/unions produce a Bytes parent with children named parent.child. */
export interface LayoutField {
  name: string;            // member name
  fullName: string;        // dotted path from the root struct
  parentFullName?: string; // set for members of nested structs/unions
  offset: number;          // byte offset from the start of the root struct
  size: number;            // byte size
  kind: number;            // Kind, possibly | KindFlagArray
  arrayLen?: number;       // for arrays of scalars
  bitOffset?: number;      // bitfields: bit offset inside the `size`-byte little-endian unit at `offset`; with bitSize
  bitSize?: number;        //   (offset/size describe the naturally aligned storage unit of the declared int type)
  tags: string[];          // "type:<typedef>" for every typedef on the chain, "name:<member>", "src:ebpf"
  typeNames: string[];     // typedef/struct/union/enum names along the chain (outermost first) e.g. ["gadget_mntns_id","__u64"]
  enumInfo?: EnumInfo;     // member is an enum (through typedefs)
  isStructParent?: boolean;// a nested struct/union placeholder (Bytes)
  structName?: string;     // name of the nested struct/union type, when isStructParent
}

export interface StructLayout {
  name: string;
  size: number;
  fields: LayoutField[];   // depth-first, parents before children, in member order
}

/** A `const volatile` global usable as a param or a gadget var. */
export interface VarInfo {
  name: string;
  section: string;         // ".rodata", ".data", ".bss", ".kconfig"
  size: number;
  kind: number;            // Kind of the scalar, CString for char[N], Bytes otherwise
  typeNames: string[];     // typedef chain names
  signed: boolean;
  // Extensions (optional so hand-built VarInfos stay valid):
  offset?: number;         // byte offset inside `section` (from the ELF symbol table for .o files)
  typeId?: number;         // BTF id of the VAR's type
  constVolatile?: boolean; // declared `const volatile` (rewritable before load)
  global?: boolean;        // non-static linkage
  arrayLen?: number;       // element count when the variable is an array
}

export interface GadgetMarkers {
  tracers: { name: string; map: string; struct: string }[];        // gadget_tracer_<name>___<map>___<struct>
  tracerMaps: string[];                                              // gadget_map_tracer_<name>
  mapIters: { name: string; map: string }[];                         // gadget_mapiter_<name>___<map>
  iters: { name: string; struct: string; programs: string[]; deprecated?: boolean }[]; // gadget_iter_ / gadget_snapshotter_ (deprecated)
  params: string[];                                                  // gadget_param_<var>
  vars: string[];                                                    // full names of const volatile globals gadget_var_* (+ gadget_filter_by_mntns)
  iterTargetMaps: { program: string; map: string }[];                // gadget_mapelem_iter_target_<prog>___<map>
  skTargetMaps?: { program: string; map: string }[];                 // gadget_sk_prog_target_<prog>___<map>
  pacedRings?: string[];                                             // gadget_ringbuf_paced_<map> (ig's buffer.h)
}
