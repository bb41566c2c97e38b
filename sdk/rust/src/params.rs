//! The module's params (gadget.yaml `params.wasm`) and config.
use crate::helpers::{buf_ptr, str_ptr};

#[link(wasm_import_module = "ig")]
extern "C" {
    #[link_name = "getParamValue"]
    fn _get_param_value(key: u64, dst: u64) -> u32;
    #[link_name = "setConfig"]
    fn _set_config(key: u64, value: u64, kind: u32) -> u32;
}

/// The value of param `key`, at most `max_len` bytes; Err(()) when there is no such param.
pub fn get_param_value(key: &str, max_len: usize) -> Result<String, ()> {
    let mut buf = vec![0u8; max_len + 1];
    if unsafe { _get_param_value(str_ptr(key), buf_ptr(buf.as_mut_ptr(), max_len)) } != 0 {
        return Err(());
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(max_len);
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Set a string in the gadget's config (e.g. "datasources.<ds>.fields.<f>.annotations.columns.hidden").
pub fn set_config(key: &str, value: &str) -> Result<(), ()> {
    if unsafe { _set_config(str_ptr(key), str_ptr(value), 12) } != 0 { Err(()) } else { Ok(()) }
}
