//! eBPF maps: the gadget's own (by name, once loaded) or new ones.
use crate::helpers::{buf_ptr, str_ptr};

#[link(wasm_import_module = "ig")]
extern "C" {
    #[link_name = "getMap"]
    fn _get_map(name: u64) -> u32;
    #[link_name = "newMap"]
    fn _new_map(name: u64, typ: u32, key_size: u32, value_size: u32, max_entries: u32) -> u32;
    #[link_name = "mapLookup"]
    fn _map_lookup(m: u32, key: u64, value: u64) -> u32;
    #[link_name = "mapUpdate"]
    fn _map_update(m: u32, key: u64, value: u64, flags: u64) -> u32;
    #[link_name = "mapDelete"]
    fn _map_delete(m: u32, key: u64) -> u32;
    #[link_name = "mapRelease"]
    fn _map_release(m: u32) -> u32;
}

#[derive(Clone, Copy, Debug)]
pub struct Map(pub u32);

impl Map {
    pub fn get(name: &str) -> Result<Map, ()> {
        let h = unsafe { _get_map(str_ptr(name)) };
        if h == 0 { Err(()) } else { Ok(Map(h)) }
    }
    pub fn new(name: &str, typ: u32, key_size: u32, value_size: u32, max_entries: u32) -> Result<Map, ()> {
        let h = unsafe { _new_map(str_ptr(name), typ, key_size, value_size, max_entries) };
        if h == 0 { Err(()) } else { Ok(Map(h)) }
    }
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> Result<(), ()> {
        let r = unsafe { _map_lookup(self.0, buf_ptr(key.as_ptr(), key.len()), buf_ptr(value.as_mut_ptr(), value.len())) };
        if r != 0 { Err(()) } else { Ok(()) }
    }
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), ()> {
        let r = unsafe { _map_update(self.0, buf_ptr(key.as_ptr(), key.len()), buf_ptr(value.as_ptr(), value.len()), flags) };
        if r != 0 { Err(()) } else { Ok(()) }
    }
    pub fn delete(&self, key: &[u8]) -> Result<(), ()> {
        if unsafe { _map_delete(self.0, buf_ptr(key.as_ptr(), key.len())) } != 0 { Err(()) } else { Ok(()) }
    }
    pub fn release(self) -> Result<(), ()> {
        if unsafe { _map_release(self.0) } != 0 { Err(()) } else { Ok(()) }
    }
}
