//! getpeername (P-21..P-23).
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use libc::{c_int, sockaddr, socklen_t};

use super::run;
use crate::errno::fail;
use crate::{real, registry};

/// getpeername(2): a torified fd reports its destination, not the Tor endpoint.
#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::GETPEERNAME.get()(fd, addr, len) };
    let out = (!addr.is_null() && !len.is_null()).then(|| {
        // SAFETY: getpeername(2)'s contract: len points to the size of the writable
        // buffer at addr.
        unsafe {
            let room = *len as usize;
            (
                std::slice::from_raw_parts_mut(addr.cast::<MaybeUninit<u8>>(), room),
                &mut *len,
            )
        }
    });
    run(pass, || fail(libc::ENOMEM), || peer(fd, out, pass))
}

/// getpeername's rule: the destination of a torified fd, truncated to the caller's
/// room (P-22), whose length is set to what was written.
fn peer(
    fd: c_int,
    out: Option<(&mut [MaybeUninit<u8>], &mut socklen_t)>,
    pass: impl FnOnce() -> c_int,
) -> c_int {
    let Some(entry) = registry::lookup(fd) else {
        return pass(); // P-21
    };
    let Some((room, len)) = out else {
        return fail(libc::EFAULT);
    };
    *len = entry.destination.copy_to(room); // P-22
    0
}
