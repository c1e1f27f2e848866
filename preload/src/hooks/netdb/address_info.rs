//! getaddrinfo (P-55..P-63) and getaddrinfo_a (P-64).
#![allow(unsafe_code)]

use std::ffi::CStr;

use libc::{addrinfo, c_char, c_int, c_void};
use torsocks_core::log_warn;

use super::numeric_literal;
use crate::errno;
use crate::hooks::run;
use crate::init::state;
use crate::real;
use crate::resolve::{self, Want};

/// getaddrinfo(3) (P-55..P-63).
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let pass = || real::GETADDRINFO.get()(node, service, hints, res);
    run(
        pass,
        || libc::EAI_MEMORY,
        || {
            if node.is_null() {
                return pass(); // P-55
            }
            // P-56: NULL hints mean AF_UNSPEC with AI_V4MAPPED | AI_ADDRCONFIG.
            let mut h: addrinfo = std::mem::zeroed();
            if hints.is_null() {
                h.ai_family = libc::AF_UNSPEC;
                h.ai_flags = libc::AI_V4MAPPED | libc::AI_ADDRCONFIG;
            } else {
                h.ai_family = (*hints).ai_family;
                h.ai_socktype = (*hints).ai_socktype;
                h.ai_protocol = (*hints).ai_protocol;
                h.ai_flags = (*hints).ai_flags;
            }
            let want = match h.ai_family {
                libc::AF_UNSPEC => Want::Either,
                libc::AF_INET => Want::V4,
                libc::AF_INET6 => Want::V6,
                _ => return libc::EAI_FAMILY, // P-57
            };
            if numeric_literal(node).is_some() {
                // P-58: the C library's numeric parsing, never Tor.
                h.ai_flags |= libc::AI_NUMERICHOST;
                return real::GETADDRINFO.get()(node, service, &h, res);
            }
            if h.ai_flags & libc::AI_NUMERICHOST != 0 {
                return libc::EAI_NONAME; // P-59
            }
            if want == Want::V6 && !state().config.enable_ipv6 {
                return libc::EAI_FAIL; // P-60
            }
            let answer = match resolve::forward(CStr::from_ptr(node).to_bytes(), want) {
                Ok(ip) => ip,
                Err(outcome) => return outcome.eai(), // P-62
            };
            // P-61: the list for the answer's text form, with the caller's service.
            let text = match std::ffi::CString::new(answer.to_string()) {
                Ok(t) => t,
                Err(_) => return libc::EAI_FAIL,
            };
            let wants_canon = h.ai_flags & libc::AI_CANONNAME != 0;
            h.ai_flags =
                (h.ai_flags | libc::AI_NUMERICHOST) & !(libc::AI_ADDRCONFIG | libc::AI_CANONNAME);
            let rc = real::GETADDRINFO.get()(text.as_ptr(), service, &h, res);
            if rc == 0 && wants_canon && !(*res).is_null() {
                // Freed by the C library's freeaddrinfo, which frees ai_canonname.
                (**res).ai_canonname = libc::strdup(node);
            }
            rc
        },
    )
}

/// getaddrinfo_a(3) (P-64): asynchronous resolution cannot go through Tor.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo_a(
    _mode: c_int,
    _list: *mut *mut c_void,
    _n: c_int,
    _sevp: *mut c_void,
) -> c_int {
    run(
        || libc::EAI_SYSTEM,
        || libc::EAI_SYSTEM,
        || {
            log_warn!(
                "[getaddrinfo_a] Asynchronous name resolution cannot go through Tor. Denying it."
            );
            errno::set(libc::ENOSYS);
            libc::EAI_SYSTEM
        },
    )
}
