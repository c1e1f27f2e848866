//! listen, accept, accept4 (P-35..P-41): inbound connections only on localhost and
//! unix sockets, unless AllowInbound.
#![allow(unsafe_code)]

use libc::{c_int, sockaddr, socklen_t};
use torsocks_core::addr::is_localhost;
use torsocks_core::{log_debug, log_perror};

use super::run;
use crate::c_addr::RawAddr;
use crate::errno::{fail, Errno};
use crate::init::state;
use crate::real;

/// The listen rule on `fd`; `Err(errno)` when refused.
fn inbound_allowed(fd: c_int, caller: &str) -> Result<(), Errno> {
    if state().config.allow_inbound {
        return Ok(()); // P-35
    }
    let local = RawAddr::local_of(fd).inspect_err(|&e| {
        log_perror!(e.0, "[{caller}] getsockname"); // P-36
    })?;
    if local.family() == libc::AF_UNIX {
        return Ok(()); // P-37
    }
    if local.inet().is_some_and(|addr| is_localhost(addr.ip())) {
        return Ok(());
    }
    log_debug!("Non localhost inbound connection are not allowed.");
    Err(Errno(libc::EPERM)) // P-38
}

/// listen(2).
#[no_mangle]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    // SAFETY: listen takes any ints.
    let pass = || unsafe { real::LISTEN.get()(fd, backlog) };
    run(
        pass,
        || fail(libc::ENOMEM),
        || match inbound_allowed(fd, "listen") {
            Ok(()) => pass(),
            Err(e) => fail(e),
        },
    )
}

/// accept(2) (P-39).
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::ACCEPT.get()(fd, addr, len) };
    run(
        pass,
        || fail(libc::ENOMEM),
        || match inbound_allowed(fd, "accept") {
            Ok(()) => pass(),
            Err(e) => fail(e),
        },
    )
}

/// accept4(2) (P-40).
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::ACCEPT4.get()(fd, addr, len, flags) };
    run(
        pass,
        || fail(libc::ENOMEM),
        || match inbound_allowed(fd, "accept4") {
            Ok(()) => pass(),
            Err(e) => fail(e),
        },
    )
}
