//! getnameinfo (P-65..P-68).
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use libc::{c_char, c_int, sockaddr, socklen_t};

use crate::c_addr;
use crate::hooks::run;
use crate::real;
use crate::resolve;

/// Which of the caller's buffers a call of the C library's getnameinfo fills.
#[derive(Clone, Copy)]
enum Parts {
    Both,
    Host,
    Service,
}

/// getnameinfo(3) (P-65..P-68).
#[no_mangle]
pub unsafe extern "C" fn getnameinfo(
    sa: *const sockaddr,
    salen: socklen_t,
    host: *mut c_char,
    hostlen: socklen_t,
    serv: *mut c_char,
    servlen: socklen_t,
    flags: c_int,
) -> c_int {
    let real = |parts: Parts, flags: c_int| {
        let (h, hl) = match parts {
            Parts::Both | Parts::Host => (host, hostlen),
            Parts::Service => (std::ptr::null_mut(), 0),
        };
        let (s, sl) = match parts {
            Parts::Both | Parts::Service => (serv, servlen),
            Parts::Host => (std::ptr::null_mut(), 0),
        };
        // SAFETY: the caller's own arguments, or NULL and 0 for a part not asked for.
        unsafe { real::GETNAMEINFO.get()(sa, salen, h, hl, s, sl, flags) }
    };
    // SAFETY: getnameinfo(3)'s contract: a non-NULL sa points to salen readable bytes.
    let addr = unsafe { c_addr::caller_addr!(sa, salen) };
    let host_room = (!host.is_null() && hostlen > 0).then(|| {
        // SAFETY: as above: host points to hostlen writable bytes.
        unsafe { std::slice::from_raw_parts_mut(host.cast::<MaybeUninit<u8>>(), hostlen as usize) }
    });
    let wants_service = !serv.is_null() && servlen > 0;
    let hook = || naming(addr, host_room, wants_service, flags, real);
    run(|| real(Parts::Both, flags), || libc::EAI_MEMORY, hook)
}

/// getnameinfo's rules for the caller's address and host buffer; `real` calls the C
/// library for the parts given.
fn naming(
    addr: Option<&[u8]>,
    host: Option<&mut [MaybeUninit<u8>]>,
    wants_service: bool,
    flags: c_int,
    real: impl Fn(Parts, c_int) -> c_int,
) -> c_int {
    let Some(addr) = addr.and_then(c_addr::read_inet) else {
        return real(Parts::Both, flags); // P-65: not inet, or salen too short
    };
    let Some(host) = host.filter(|_| flags & libc::NI_NUMERICHOST == 0) else {
        return real(Parts::Both, flags);
    };
    if wants_service {
        // P-66: the service part from the local database, numerically for the host.
        let rc = real(Parts::Service, flags | libc::NI_NUMERICHOST);
        if rc != 0 {
            return rc;
        }
    }
    match resolve::reverse(addr.ip()) {
        Ok(name) => {
            if name.len() + 1 > host.len() {
                return libc::EAI_OVERFLOW;
            }
            for (slot, byte) in host.iter_mut().zip(name.bytes().chain([0])) {
                slot.write(byte);
            }
            0
        }
        Err(_) if flags & libc::NI_NAMEREQD != 0 => libc::EAI_NONAME, // P-67
        Err(_) => real(Parts::Host, flags | libc::NI_NUMERICHOST),
    }
}
