//! Example Rust module for trace_open: adds "pid_comm" ("<comm>:<pid>") and "fname_len" to every event.
//! Build: ig image build with build.yaml `wasm: <this crate's directory>`.
use ig::datasources::{DataSource, FieldKind};
use ig::errorf;

#[no_mangle]
#[allow(non_snake_case)]
pub extern "C" fn gadgetInit() -> i32 {
    let ds = match DataSource::get_datasource("open") {
        Ok(ds) => ds,
        Err(_) => { errorf!("no data source open"); return 1; }
    };
    let fields = (ds.get_field("proc.pid"), ds.get_field("proc.comm"), ds.get_field("fname"),
                  ds.add_field("pid_comm", FieldKind::String), ds.add_field("fname_len", FieldKind::Uint32));
    let (pid, comm, fname, pid_comm, fname_len) = match fields {
        (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => (a, b, c, d, e),
        _ => { errorf!("fields missing"); return 1; }
    };
    let r = ds.subscribe(move |_ds, d| {
        let p = pid.get_u32(d).unwrap_or(0);
        let c = comm.get_string(d, 32).unwrap_or_default();
        let _ = pid_comm.set_string(d, &format!("{}:{}", c, p));
        let n = fname.get_bytes(d, FieldKind::String, 4096).map(|b| b.len()).unwrap_or(0);
        let _ = fname_len.set_u32(d, n as u32);
    }, 0);
    if r.is_err() { 1 } else { 0 }
}
