//! close, fclose, dup, dup2, dup3, fcntl: registry maintenance (P-16..P-20) and the
//! log-fd rule (L-9).
#![allow(unsafe_code)]

use libc::{c_int, c_long, FILE};
use torsocks_core::log;

use super::{run, run_uninitialised};
use crate::errno::fail;
use crate::{real, registry};

fn forget(fd: c_int) {
    registry::remove(fd);
    log::forget_fd(fd);
}

/// close(2) (P-16).
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    let pass = || real::CLOSE.get()(fd);
    // Registry and log work without initialisation; closing never needs Tor.
    run_uninitialised(
        pass,
        || fail(libc::ENOMEM),
        || {
            forget(fd);
            pass()
        },
    )
}

/// `__close`: glibc's public alias of close.
#[no_mangle]
pub unsafe extern "C" fn __close(fd: c_int) -> c_int {
    close(fd)
}

/// fclose(3) (P-17): never starts initialisation.
#[no_mangle]
pub unsafe extern "C" fn fclose(fp: *mut FILE) -> c_int {
    let pass = || real::FCLOSE.get()(fp);
    run_uninitialised(
        pass,
        || fail(libc::ENOMEM),
        || {
            if fp.is_null() {
                return fail(libc::EBADF);
            }
            let fd = libc::fileno(fp);
            if fd >= 0 {
                forget(fd);
            }
            pass()
        },
    )
}

/// dup(2) (P-18).
#[no_mangle]
pub unsafe extern "C" fn dup(old: c_int) -> c_int {
    duplicating(|| real::DUP.get()(old), |rc| registry::duplicate(old, rc))
}

/// Runs a duplicating call and, when it succeeds, updates the registry with `after`
/// (given the call's result).
fn duplicating(pass: impl Fn() -> c_int, after: impl FnOnce(c_int)) -> c_int {
    run(
        &pass,
        || fail(libc::ENOMEM),
        || {
            let rc = pass();
            if rc >= 0 {
                after(rc);
            }
            rc
        },
    )
}

/// After a successful dup2/dup3 onto `new` (P-19).
fn duplicated_onto(old: c_int, new: c_int) {
    if new != old {
        log::forget_fd(new);
        registry::duplicate(old, new);
    }
}

/// dup2(2) (P-19).
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    duplicating(|| real::DUP2.get()(old, new), |_| duplicated_onto(old, new))
}

/// `__dup2`: glibc's public alias of dup2.
#[no_mangle]
pub unsafe extern "C" fn __dup2(old: c_int, new: c_int) -> c_int {
    dup2(old, new)
}

/// dup3(2) (P-19).
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    duplicating(
        || real::DUP3.get()(old, new, flags),
        |_| duplicated_onto(old, new),
    )
}

/// fcntl(2) (P-20). C declares it variadic; on the supported ABIs (x86-64 and aarch64
/// Linux) the optional third argument arrives in the same register as a fixed one, and
/// is handed on unchanged whether it is an int or a pointer.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    fcntl_hook(fd, cmd, arg)
}

/// `__fcntl`: glibc's public alias of fcntl.
#[no_mangle]
pub unsafe extern "C" fn __fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    fcntl_hook(fd, cmd, arg)
}

/// fcntl64: the same as fcntl (G-8).
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    fcntl_hook(fd, cmd, arg)
}

unsafe fn fcntl_hook(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    let pass = || real::FCNTL.get()(fd, cmd, arg);
    if cmd != libc::F_DUPFD && cmd != libc::F_DUPFD_CLOEXEC {
        // No other command concerns torsocks: no initialisation, no lock.
        return pass();
    }
    duplicating(pass, |new| registry::duplicate(fd, new))
}
