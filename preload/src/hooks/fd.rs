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
    closing(fd)
}

/// close's rule: forget the fd, then close it. Registry and log work without
/// initialisation; closing never needs Tor.
fn closing(fd: c_int) -> c_int {
    // SAFETY: close takes any int; a bad one is EBADF.
    let pass = || unsafe { real::CLOSE.get()(fd) };
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
    closing(fd)
}

/// fclose(3) (P-17): never starts initialisation.
#[no_mangle]
pub unsafe extern "C" fn fclose(fp: *mut FILE) -> c_int {
    // SAFETY: the caller's own stream, handed on unchanged.
    let pass = || unsafe { real::FCLOSE.get()(fp) };
    // SAFETY: fclose(3)'s contract: a non-NULL fp is an open stream.
    let fd = (!fp.is_null()).then(|| unsafe { libc::fileno(fp) });
    run_uninitialised(pass, || fail(libc::ENOMEM), || closing_stream(fd, pass))
}

/// fclose's rule for the stream's fd (`None` for a NULL stream).
fn closing_stream(fd: Option<c_int>, pass: impl FnOnce() -> c_int) -> c_int {
    let Some(fd) = fd else {
        return fail(libc::EBADF);
    };
    if fd >= 0 {
        forget(fd);
    }
    pass()
}

/// dup(2) (P-18).
#[no_mangle]
pub unsafe extern "C" fn dup(old: c_int) -> c_int {
    // SAFETY: dup takes any int.
    duplicating(
        || unsafe { real::DUP.get()(old) },
        |rc| registry::duplicate(old, rc),
    )
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
    duplicating_onto(old, new)
}

fn duplicating_onto(old: c_int, new: c_int) -> c_int {
    // SAFETY: dup2 takes any ints.
    let pass = || unsafe { real::DUP2.get()(old, new) };
    duplicating(pass, |_| duplicated_onto(old, new))
}

/// `__dup2`: glibc's public alias of dup2.
#[no_mangle]
pub unsafe extern "C" fn __dup2(old: c_int, new: c_int) -> c_int {
    duplicating_onto(old, new)
}

/// dup3(2) (P-19).
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: dup3 takes any ints.
    let pass = || unsafe { real::DUP3.get()(old, new, flags) };
    duplicating(pass, |_| duplicated_onto(old, new))
}

/// fcntl(2) (P-20). C declares it variadic; on the supported ABIs (x86-64 and aarch64
/// Linux) the optional third argument arrives in the same register as a fixed one, and
/// is handed on unchanged whether it is an int or a pointer.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    fcntl_hook(fd, cmd, || unsafe { real::FCNTL.get()(fd, cmd, arg) })
}

/// `__fcntl`: glibc's public alias of fcntl.
#[no_mangle]
pub unsafe extern "C" fn __fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    fcntl_hook(fd, cmd, || unsafe { real::FCNTL.get()(fd, cmd, arg) })
}

/// fcntl64: the same as fcntl (G-8).
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    fcntl_hook(fd, cmd, || unsafe { real::FCNTL.get()(fd, cmd, arg) })
}

/// fcntl's rule: only F_DUPFD and F_DUPFD_CLOEXEC concern torsocks.
fn fcntl_hook(fd: c_int, cmd: c_int, pass: impl Fn() -> c_int) -> c_int {
    if cmd != libc::F_DUPFD && cmd != libc::F_DUPFD_CLOEXEC {
        // No other command concerns torsocks: no initialisation, no lock.
        return pass();
    }
    duplicating(pass, |new| registry::duplicate(fd, new))
}
