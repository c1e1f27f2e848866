//! execve (P-45, P-46) and _exit/_Exit (P-47).
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use libc::{c_char, c_int};
use torsocks_core::log_warn;

use super::run;
use crate::errno::fail;
use crate::real;

/// Whether `path` would gain privileges when executed: setuid, setgid or file
/// capabilities. A file that cannot be examined is not privileged (execve reports why).
fn privileged(path: &CStr) -> bool {
    let path_os = std::ffi::OsStr::from_bytes(path.to_bytes());
    if std::fs::metadata(path_os).is_ok_and(|m| m.mode() & (libc::S_ISUID | libc::S_ISGID) != 0) {
        return true;
    }
    // SAFETY: both names are NUL-terminated; a NULL buffer of size 0 asks for the
    // attribute's size only.
    let size = unsafe {
        libc::getxattr(
            path.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    size > 0
}

/// execve(2): refuses to start a program that would shed the preload (P-45).
#[no_mangle]
pub unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::EXECVE.get()(path, argv, envp) };
    // SAFETY: execve(2)'s contract: a non-NULL path is a NUL-terminated string.
    let program = (!path.is_null()).then(|| unsafe { CStr::from_ptr(path) });
    run(pass, || fail(libc::ENOMEM), || executing(program, pass))
}

/// execve's rule (P-45): no privileged program.
fn executing(program: Option<&CStr>, pass: impl FnOnce() -> c_int) -> c_int {
    if let Some(path) = program.filter(|p| privileged(p)) {
        log_warn!(
            "[execve] Refusing to execute privileged binary {} (setuid, setgid or file capabilities)",
            path.to_string_lossy()
        );
        return fail(libc::EPERM);
    }
    pass()
}

/// _exit(2): straight through, with no lock, allocation or log (P-47, D-27).
#[no_mangle]
pub unsafe extern "C" fn _exit(status: c_int) -> ! {
    // SAFETY: _exit takes any int.
    unsafe { real::EXIT.get()(status) }
}

/// _Exit(3): as _exit.
#[no_mangle]
pub unsafe extern "C" fn _Exit(status: c_int) -> ! {
    // SAFETY: as _exit.
    unsafe { real::EXIT.get()(status) }
}
