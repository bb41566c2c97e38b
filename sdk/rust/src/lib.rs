//! Rust SDK for gadget WASM modules: upstream Inspektor Gadget's host API (module "ig", API version 1), with
//! the shape of upstream's SDK (`datasources::{DataSource, Field, FieldKind}`, `errorf!`, `params`, `map`).
//!
//! A module is a `cdylib` crate built for `wasm32-wasi` that depends on this crate and exports its lifecycle
//! functions with `#[no_mangle] pub fn gadgetInit() -> i32` (also gadgetPreStart, gadgetStart, gadgetStop,
//! gadgetPostStop; non-zero means failure). `gadgetAPIVersion` and `dataSourceCallback` come from here.
//! Builds with Debian's rustc 1.63 (no unstable features needed by this crate).

pub mod datasources;
pub mod log;
pub mod map;
pub mod params;

pub(crate) mod helpers {
    /// `len << 32 | ptr`: how strings and buffers cross the ABI.
    pub fn buf_ptr(p: *const u8, len: usize) -> u64 {
        ((len as u64) << 32) | (p as usize as u64 & 0xffff_ffff)
    }
    pub fn str_ptr(s: &str) -> u64 {
        buf_ptr(s.as_ptr(), s.len())
    }
}

pub const API_VERSION: u64 = 1;

#[no_mangle]
#[allow(non_snake_case)]
pub extern "C" fn gadgetAPIVersion() -> u64 {
    API_VERSION
}

/// Misc host functions: syscall names and numbers, kernel symbols, the mount-namespace filter.
pub mod syscall {
    use crate::helpers::{buf_ptr, str_ptr};
    #[link(wasm_import_module = "ig")]
    extern "C" {
        #[link_name = "getSyscallName"]
        fn _get_syscall_name(id: u32, dst: u64) -> u32;
        #[link_name = "getSyscallID"]
        fn _get_syscall_id(name: u64) -> i32;
        #[link_name = "kallsymsSymbolExists"]
        fn _kallsyms_symbol_exists(name: u64) -> u32;
        #[link_name = "shouldDiscardMntnsID"]
        fn _should_discard_mntns_id(mntns: u64) -> u32;
    }
    pub fn get_syscall_name(id: u16) -> Option<String> {
        let mut buf = [0u8; 64];
        if unsafe { _get_syscall_name(id as u32, buf_ptr(buf.as_mut_ptr(), buf.len() - 1)) } != 0 {
            return None;
        }
        let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
    pub fn get_syscall_id(name: &str) -> Option<i32> {
        let id = unsafe { _get_syscall_id(str_ptr(name)) };
        if id < 0 { None } else { Some(id) }
    }
    pub fn kallsyms_symbol_exists(name: &str) -> bool {
        unsafe { _kallsyms_symbol_exists(str_ptr(name)) != 0 }
    }
    pub fn should_discard_mntns_id(mntns: u64) -> bool {
        unsafe { _should_discard_mntns_id(mntns) != 0 }
    }
}
