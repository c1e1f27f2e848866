//! Where this library is installed: `<prefix>/lib/torsocks/libtorsocks.so`.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The path of the shared object that contains this function, from `dladdr`.
pub fn library_path() -> Option<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let here = library_path as *const libc::c_void;
    // SAFETY: dladdr only reads the address and fills `info`; it returns 0 on failure.
    let found = unsafe { libc::dladdr(here, info.as_mut_ptr()) };
    if found == 0 {
        return None;
    }
    // SAFETY: dladdr succeeded, so `info` is initialised; dli_fname is NULL or a
    // NUL-terminated string owned by the dynamic linker for the object's lifetime.
    let info = unsafe { info.assume_init() };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: as above: not NULL, so a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes())))
}

/// `<prefix>/etc/torsocks.conf` for a library installed as
/// `<prefix>/lib/torsocks/libtorsocks.so`.
pub fn prefix_config_path() -> Option<PathBuf> {
    let lib = library_path()?;
    let prefix = lib.parent()?.parent()?.parent()?;
    Some(prefix.join("etc").join("torsocks.conf"))
}
