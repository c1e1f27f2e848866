//! execve (P-45, P-46) and _exit/_Exit (P-47).
#![allow(unsafe_code)]

use std::ffi::CStr;

use libc::{c_char, c_int};
use torsocks_core::log_warn;

use super::run;
use crate::errno::fail;
use crate::real;

/// Whether `path` would gain privileges when executed: setuid, setgid or file
/// capabilities. A file that cannot be examined is not privileged (execve reports why).
unsafe fn privileged(path: *const c_char) -> bool {
    let mut st: libc::stat = std::mem::zeroed();
    if libc::stat(path, &mut st) == 0 && st.st_mode & (libc::S_ISUID | libc::S_ISGID) != 0 {
        return true;
    }
    libc::getxattr(
        path,
        c"security.capability".as_ptr(),
        std::ptr::null_mut(),
        0,
    ) > 0
}

/// execve(2): refuses to start a program that would shed the preload (P-45).
#[no_mangle]
pub unsafe extern "C" fn execve(
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
) -> c_int {
    let pass = || real::EXECVE.get()(path, argv, envp);
    run(
        pass,
        || fail(libc::ENOMEM),
        || {
            if !path.is_null() && privileged(path) {
                log_warn!(
                "[execve] Refusing to execute privileged binary {} (setuid, setgid or file capabilities)",
                CStr::from_ptr(path).to_string_lossy()
            );
                return fail(libc::EPERM);
            }
            pass()
        },
    )
}

/// _exit(2): straight through, with no lock, allocation or log (P-47, D-27).
#[no_mangle]
pub unsafe extern "C" fn _exit(status: c_int) -> ! {
    real::EXIT.get()(status)
}

/// _Exit(3): as _exit.
#[no_mangle]
pub unsafe extern "C" fn _Exit(status: c_int) -> ! {
    real::EXIT.get()(status)
}
