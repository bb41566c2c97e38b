// Example AssemblyScript module for trace_open: adds "pid_comm" ("<comm>:<pid>") and "fname_len" to every event.
// Build: ig image build with build.yaml `wasm: pidcomm.ts`.
import { DataSource, Data, Field, Kind, errorf, gadgetAPIVersion, dataSourceCallback } from "ig";
// Every module exports these two; AssemblyScript exports only what the entry file exports.
export { gadgetAPIVersion, dataSourceCallback };

let pid = new Field(0);
let comm = new Field(0);
let fname = new Field(0);
let pidComm = new Field(0);
let fnameLen = new Field(0);

function onOpen(ds: DataSource, d: Data): void {
  const p = pid.getU32(d);
  pidComm.setString(d, comm.getString(d) + ":" + p.toString());
  fnameLen.setU32(d, <u32>String.UTF8.byteLength(fname.getString(d)));
}

export function gadgetInit(): i32 {
  const ds = DataSource.get("open");
  if (ds == null) { errorf("no data source open"); return 1; }
  const a = ds.getField("proc.pid"), b = ds.getField("proc.comm"), c = ds.getField("fname");
  const x = ds.addField("pid_comm", Kind.String), y = ds.addField("fname_len", Kind.Uint32);
  if (a == null || b == null || c == null || x == null || y == null) { errorf("fields missing"); return 1; }
  pid = a; comm = b; fname = c; pidComm = x; fnameLen = y;
  return ds.subscribe(onOpen) ? 0 : 1;
}
