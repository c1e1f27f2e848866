//! dlvsym (P-81): a versioned lookup of a call torsocks interposes finds the hook.
//!
//! `dlvsym(RTLD_DEFAULT, "connect", "GLIBC_2.2.5")` asks for the definition carrying
//! glibc's version, which the library's unversioned hooks do not match: without this
//! hook it returns the C library's `connect` and the program connects directly. Any
//! lookup whose answer lies in the C library and names a function the library
//! defines gets the library's function instead; other answers are unchanged.
#![allow(unsafe_code)]

use std::ffi::{c_void, CStr};
use std::sync::OnceLock;

use libc::c_char;

use crate::real;

/// The base address of the object that defines `ptr` (dladdr).
fn object_of(ptr: *const c_void) -> Option<usize> {
    // SAFETY: Dl_info is plain data; dladdr writes it and accepts any address.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let found = unsafe { libc::dladdr(ptr, &mut info) };
    (found != 0).then_some(info.dli_fbase as usize)
}

/// This library's handle and base address, and the C library's base address.
struct Objects {
    ours: usize,
    handle: usize,
    libc: Option<usize>,
}

fn objects() -> Option<&'static Objects> {
    static OBJECTS: OnceLock<Option<Objects>> = OnceLock::new();
    OBJECTS
        .get_or_init(|| {
            let here = dlvsym as *const c_void;
            // SAFETY: as in object_of.
            let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
            // SAFETY: as in object_of.
            if unsafe { libc::dladdr(here, &mut info) } == 0 || info.dli_fname.is_null() {
                return None;
            }
            // SAFETY: dli_fname names this loaded library; RTLD_NOLOAD only takes a
            // reference to it, never loads anything.
            let handle =
                unsafe { libc::dlopen(info.dli_fname, libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
            if handle.is_null() {
                return None;
            }
            let libc_socket = real::SOCKET.try_get().map(|f| f as *const c_void);
            Some(Objects {
                ours: info.dli_fbase as usize,
                handle: handle as usize,
                libc: libc_socket.and_then(object_of),
            })
        })
        .as_ref()
}

/// This library's definition of `name`, when `found` is the C library's.
fn ours_instead(found: *mut c_void, name: &CStr) -> Option<*mut c_void> {
    let objects = objects()?;
    if objects.libc.is_none() || object_of(found) != objects.libc {
        return None;
    }
    // dlsym on our handle searches this library first, then its dependencies.
    // SAFETY: our own handle, kept open for the process; name is NUL-terminated.
    let mine = unsafe { libc::dlsym(objects.handle as *mut c_void, name.as_ptr()) };
    (!mine.is_null() && object_of(mine) == Some(objects.ours)).then_some(mine)
}

/// dlvsym(3).
#[no_mangle]
pub unsafe extern "C" fn dlvsym(
    handle: *mut c_void,
    name: *const c_char,
    version: *const c_char,
) -> *mut c_void {
    let Some(real) = real::DLVSYM.try_get() else {
        return std::ptr::null_mut();
    };
    // SAFETY: the caller's own arguments, handed on unchanged.
    let found = unsafe { real(handle, name, version) };
    if found.is_null() || name.is_null() {
        return found;
    }
    // SAFETY: dlvsym(3)'s contract: name is a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) };
    std::panic::catch_unwind(|| ours_instead(found, name))
        .ok()
        .flatten()
        .unwrap_or(found)
}
