//! getpeername (P-21..P-23).
#![allow(unsafe_code)]

use libc::{c_int, sockaddr, socklen_t};

use super::run;
use crate::errno::fail;
use crate::{real, registry};

/// getpeername(2): a torified fd reports its destination, not the Tor endpoint.
#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    let pass = || real::GETPEERNAME.get()(fd, addr, len);
    run(
        pass,
        || fail(libc::ENOMEM),
        || {
            let Some(entry) = registry::lookup(fd) else {
                return pass(); // P-21
            };
            if addr.is_null() || len.is_null() {
                return fail(libc::EFAULT);
            }
            entry.destination.copy_to(addr, len); // P-22
            0
        },
    )
}
