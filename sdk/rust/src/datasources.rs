//! Data sources, fields and records.
use crate::helpers::{buf_ptr, str_ptr};
use std::sync::{Arc, Mutex};

#[link(wasm_import_module = "ig")]
extern "C" {
    #[link_name = "newDataSource"]
    fn _new_datasource(name: u64, typ: u32) -> u32;
    #[link_name = "getDataSource"]
    fn _get_datasource(name: u64) -> u32;
    #[link_name = "dataSourceSubscribe"]
    fn _subscribe(ds: u32, typ: u32, prio: i32, cb: u64) -> u32;
    #[link_name = "dataSourceGetField"]
    fn _get_field(ds: u32, name: u64) -> u32;
    #[link_name = "dataSourceAddField"]
    fn _add_field(ds: u32, name: u64, kind: u32) -> u32;
    #[link_name = "dataSourceNewPacketSingle"]
    fn _new_packet_single(ds: u32) -> u32;
    #[link_name = "dataSourceNewPacketArray"]
    fn _new_packet_array(ds: u32) -> u32;
    #[link_name = "dataSourceEmitAndRelease"]
    fn _emit_and_release(ds: u32, p: u32) -> u32;
    #[link_name = "dataSourceRelease"]
    fn _release(ds: u32, p: u32) -> u32;
    #[link_name = "dataSourceUnreference"]
    fn _unreference(ds: u32) -> u32;
    #[link_name = "dataArrayNew"]
    fn _array_new(a: u32) -> u32;
    #[link_name = "dataArrayAppend"]
    fn _array_append(a: u32, d: u32) -> u32;
    #[link_name = "dataArrayRelease"]
    fn _array_release(a: u32, d: u32) -> u32;
    #[link_name = "dataArrayLen"]
    fn _array_len(a: u32) -> u32;
    #[link_name = "dataArrayGet"]
    fn _array_get(a: u32, i: u32) -> u32;
    #[link_name = "fieldGetScalar"]
    fn _get_scalar(f: u32, d: u32, kind: u32, err: *mut u32) -> u64;
    #[link_name = "fieldGetBuffer"]
    fn _get_buffer(f: u32, d: u32, kind: u32, dst: u64) -> i32;
    #[link_name = "fieldSet"]
    fn _set(f: u32, d: u32, kind: u32, v: u64) -> u32;
    #[link_name = "fieldAddTag"]
    fn _add_tag(f: u32, tag: u64) -> u32;
}

#[derive(Debug)]
pub enum DataSourceError { NotFound(String), CreationFailed(String), SubscribingFailed, EmitFailed, AddFieldFailed(String), FieldError, GeneralError }
pub type Result<T> = std::result::Result<T, DataSourceError>;

#[repr(u32)]
#[derive(Clone, Copy, Debug)]
pub enum DataSourceType { Single = 1, Array = 2 }

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldKind { Invalid = 0, Bool = 1, Int8 = 2, Int16 = 3, Int32 = 4, Int64 = 5, Uint8 = 6, Uint16 = 7, Uint32 = 8, Uint64 = 9, Float32 = 10, Float64 = 11, String = 12, CString = 13, Bytes = 14 }

#[derive(Clone, Copy, Debug)]
pub struct DataSource(pub u32);
#[derive(Clone, Copy, Debug)]
pub struct Field(pub u32);
#[derive(Clone, Copy, Debug)]
pub struct Data(pub u32);
#[derive(Clone, Copy, Debug)]
pub struct DataArray(pub u32);

enum Callback {
    Data(Arc<dyn Fn(DataSource, Data) + Send + Sync>),
    Array(Arc<dyn Fn(DataSource, DataArray) + Send + Sync>),
}
// Mutex::new is const since 1.63: no lazy initialisation needed.
static CALLBACKS: Mutex<Vec<Callback>> = Mutex::new(Vec::new());

#[no_mangle]
#[allow(non_snake_case)]
pub extern "C" fn dataSourceCallback(cb: u64, ds: u32, data: u32) {
    // Clone the callback out of the lock: it may subscribe or emit, which re-enters this module.
    let c = {
        let list = CALLBACKS.lock().unwrap();
        match list.get(cb as usize) {
            Some(Callback::Data(f)) => Callback::Data(f.clone()),
            Some(Callback::Array(f)) => Callback::Array(f.clone()),
            None => return,
        }
    };
    match c {
        Callback::Data(f) => f(DataSource(ds), Data(data)),
        Callback::Array(f) => f(DataSource(ds), DataArray(data)),
    }
}

impl DataSource {
    pub fn get_datasource(name: &str) -> Result<DataSource> {
        let h = unsafe { _get_datasource(str_ptr(name)) };
        if h == 0 { Err(DataSourceError::NotFound(name.to_string())) } else { Ok(DataSource(h)) }
    }
    pub fn new_datasource(name: &str, typ: DataSourceType) -> Result<DataSource> {
        let h = unsafe { _new_datasource(str_ptr(name), typ as u32) };
        if h == 0 { Err(DataSourceError::CreationFailed(name.to_string())) } else { Ok(DataSource(h)) }
    }
    pub fn get_field(&self, name: &str) -> Result<Field> {
        let h = unsafe { _get_field(self.0, str_ptr(name)) };
        if h == 0 { Err(DataSourceError::NotFound(name.to_string())) } else { Ok(Field(h)) }
    }
    pub fn add_field(&self, name: &str, kind: FieldKind) -> Result<Field> {
        let h = unsafe { _add_field(self.0, str_ptr(name), kind as u32) };
        if h == 0 { Err(DataSourceError::AddFieldFailed(name.to_string())) } else { Ok(Field(h)) }
    }
    fn push(&self, typ: u32, cb: Callback, priority: i32) -> Result<()> {
        let id = {
            let mut list = CALLBACKS.lock().unwrap();
            list.push(cb);
            list.len() - 1
        };
        if unsafe { _subscribe(self.0, typ, priority, id as u64) } != 0 { Err(DataSourceError::SubscribingFailed) } else { Ok(()) }
    }
    /// `cb` runs for every record of this (single) data source.
    pub fn subscribe<F: Fn(DataSource, Data) + Send + Sync + 'static>(&self, cb: F, priority: i32) -> Result<()> {
        self.push(1, Callback::Data(Arc::new(cb)), priority)
    }
    /// `cb` runs once per array packet of this (array) data source.
    pub fn subscribe_array<F: Fn(DataSource, DataArray) + Send + Sync + 'static>(&self, cb: F, priority: i32) -> Result<()> {
        self.push(2, Callback::Array(Arc::new(cb)), priority)
    }
    pub fn new_packet_single(&self) -> Result<Data> {
        let h = unsafe { _new_packet_single(self.0) };
        if h == 0 { Err(DataSourceError::GeneralError) } else { Ok(Data(h)) }
    }
    pub fn new_packet_array(&self) -> Result<DataArray> {
        let h = unsafe { _new_packet_array(self.0) };
        if h == 0 { Err(DataSourceError::GeneralError) } else { Ok(DataArray(h)) }
    }
    pub fn emit_and_release(&self, packet: u32) -> Result<()> {
        if unsafe { _emit_and_release(self.0, packet) } != 0 { Err(DataSourceError::EmitFailed) } else { Ok(()) }
    }
    pub fn release(&self, packet: u32) -> Result<()> {
        if unsafe { _release(self.0, packet) } != 0 { Err(DataSourceError::GeneralError) } else { Ok(()) }
    }
    pub fn unreference(&self) -> Result<()> {
        if unsafe { _unreference(self.0) } != 0 { Err(DataSourceError::GeneralError) } else { Ok(()) }
    }
}

impl DataArray {
    pub fn len(&self) -> usize { unsafe { _array_len(self.0) as usize } }
    pub fn is_empty(&self) -> bool { self.len() == 0 }
    pub fn get(&self, i: usize) -> Data { Data(unsafe { _array_get(self.0, i as u32) }) }
    pub fn new_data(&self) -> Data { Data(unsafe { _array_new(self.0) }) }
    pub fn append(&self, d: Data) -> Result<()> {
        if unsafe { _array_append(self.0, d.0) } != 0 { Err(DataSourceError::GeneralError) } else { Ok(()) }
    }
    /// Drop element `d` (it is not passed on).
    pub fn release(&self, d: Data) -> Result<()> {
        if unsafe { _array_release(self.0, d.0) } != 0 { Err(DataSourceError::GeneralError) } else { Ok(()) }
    }
}

macro_rules! getter {
    ($name:ident, $t:ty, $kind:expr) => {
        pub fn $name(&self, d: Data) -> Result<$t> {
            let mut err = 0u32;
            let v = unsafe { _get_scalar(self.0, d.0, $kind as u32, &mut err) };
            if err != 0 { Err(DataSourceError::FieldError) } else { Ok(v as $t) }
        }
    };
}
macro_rules! setter {
    ($name:ident, $t:ty, $kind:expr) => {
        pub fn $name(&self, d: Data, v: $t) -> Result<()> {
            if unsafe { _set(self.0, d.0, $kind as u32, v as u64) } != 0 { Err(DataSourceError::FieldError) } else { Ok(()) }
        }
    };
}

impl Field {
    getter!(get_i8, i8, FieldKind::Int8);
    getter!(get_i16, i16, FieldKind::Int16);
    getter!(get_i32, i32, FieldKind::Int32);
    getter!(get_i64, i64, FieldKind::Int64);
    getter!(get_u8, u8, FieldKind::Uint8);
    getter!(get_u16, u16, FieldKind::Uint16);
    getter!(get_u32, u32, FieldKind::Uint32);
    getter!(get_u64, u64, FieldKind::Uint64);
    pub fn get_bool(&self, d: Data) -> Result<bool> { Ok(self.get_u8_kind(d, FieldKind::Bool)? != 0) }
    pub fn get_f32(&self, d: Data) -> Result<f32> { Ok(f32::from_bits(self.get_u8_kind(d, FieldKind::Float32)? as u32)) }
    pub fn get_f64(&self, d: Data) -> Result<f64> { Ok(f64::from_bits(self.get_u8_kind(d, FieldKind::Float64)?)) }
    fn get_u8_kind(&self, d: Data, kind: FieldKind) -> Result<u64> {
        let mut err = 0u32;
        let v = unsafe { _get_scalar(self.0, d.0, kind as u32, &mut err) };
        if err != 0 { Err(DataSourceError::FieldError) } else { Ok(v) }
    }
    /// The field's bytes (a string without its NUL), at most `max` bytes.
    pub fn get_bytes(&self, d: Data, kind: FieldKind, max: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; max];
        let n = unsafe { _get_buffer(self.0, d.0, kind as u32, buf_ptr(buf.as_mut_ptr(), max)) };
        if n < 0 { return Err(DataSourceError::FieldError); }
        buf.truncate(n as usize);
        Ok(buf)
    }
    pub fn get_string(&self, d: Data, max: usize) -> Result<String> {
        self.get_bytes(d, FieldKind::String, max).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    setter!(set_i8, i8, FieldKind::Int8);
    setter!(set_i16, i16, FieldKind::Int16);
    setter!(set_i32, i32, FieldKind::Int32);
    setter!(set_i64, i64, FieldKind::Int64);
    setter!(set_u8, u8, FieldKind::Uint8);
    setter!(set_u16, u16, FieldKind::Uint16);
    setter!(set_u32, u32, FieldKind::Uint32);
    setter!(set_u64, u64, FieldKind::Uint64);
    pub fn set_bool(&self, d: Data, v: bool) -> Result<()> { self.set_u64_kind(d, FieldKind::Bool, v as u64) }
    pub fn set_f32(&self, d: Data, v: f32) -> Result<()> { self.set_u64_kind(d, FieldKind::Float32, v.to_bits() as u64) }
    pub fn set_f64(&self, d: Data, v: f64) -> Result<()> { self.set_u64_kind(d, FieldKind::Float64, v.to_bits()) }
    fn set_u64_kind(&self, d: Data, kind: FieldKind, v: u64) -> Result<()> {
        if unsafe { _set(self.0, d.0, kind as u32, v) } != 0 { Err(DataSourceError::FieldError) } else { Ok(()) }
    }
    pub fn set_string(&self, d: Data, v: &str) -> Result<()> { self.set_u64_kind(d, FieldKind::String, str_ptr(v)) }
    pub fn set_bytes(&self, d: Data, v: &[u8]) -> Result<()> { self.set_u64_kind(d, FieldKind::Bytes, buf_ptr(v.as_ptr(), v.len())) }
    pub fn add_tag(&self, tag: &str) -> Result<()> {
        if unsafe { _add_tag(self.0, str_ptr(tag)) } != 0 { Err(DataSourceError::GeneralError) } else { Ok(()) }
    }
}
