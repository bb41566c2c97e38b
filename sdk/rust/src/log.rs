//! Logging through the host's logger: `errorf!`, `warnf!`, `infof!`, `debugf!` take `format!` arguments.
use crate::helpers::str_ptr;

#[link(wasm_import_module = "ig")]
extern "C" {
    #[link_name = "gadgetLog"]
    fn _log(level: u32, msg: u64);
    #[link_name = "gadgetShouldLog"]
    fn _should_log(level: u32) -> u32;
}

#[repr(u32)]
#[derive(Clone, Copy, Debug)]
pub enum LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 }

pub fn should_log(level: LogLevel) -> bool {
    unsafe { _should_log(level as u32) != 0 }
}

pub fn log(level: LogLevel, msg: &str) {
    unsafe { _log(level as u32, str_ptr(msg)) }
}

#[macro_export]
macro_rules! errorf { ($($a:tt)*) => { if $crate::log::should_log($crate::log::LogLevel::Error) { $crate::log::log($crate::log::LogLevel::Error, &format!($($a)*)) } } }
#[macro_export]
macro_rules! warnf { ($($a:tt)*) => { if $crate::log::should_log($crate::log::LogLevel::Warn) { $crate::log::log($crate::log::LogLevel::Warn, &format!($($a)*)) } } }
#[macro_export]
macro_rules! infof { ($($a:tt)*) => { if $crate::log::should_log($crate::log::LogLevel::Info) { $crate::log::log($crate::log::LogLevel::Info, &format!($($a)*)) } } }
#[macro_export]
macro_rules! debugf { ($($a:tt)*) => { if $crate::log::should_log($crate::log::LogLevel::Debug) { $crate::log::log($crate::log::LogLevel::Debug, &format!($($a)*)) } } }
