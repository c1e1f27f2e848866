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
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::GETADDRINFO.get()(node, service, hints, res) };
    // The C library's getaddrinfo for another node and hints, with the caller's service
    // and result list; `canonical` names the first entry of a successful answer.
    let lookup = |node: &CStr, hints: &addrinfo, canonical: Option<&CStr>| {
        // SAFETY: node and hints are valid; service and res are the caller's, unchanged.
        // On success *res is the C library's list, which its freeaddrinfo frees along
        // with ai_canonname.
        unsafe {
            let rc = real::GETADDRINFO.get()(node.as_ptr(), service, hints, res);
            if let (0, Some(name)) = (rc, canonical) {
                if !(*res).is_null() {
                    (**res).ai_canonname = libc::strdup(name.as_ptr());
                }
            }
            rc
        }
    };
    // SAFETY: getaddrinfo(3)'s contract: a non-NULL node is NUL-terminated.
    let name = (!node.is_null()).then(|| unsafe { CStr::from_ptr(node) });
    // SAFETY: as above: a non-NULL hints points to a readable addrinfo.
    let hints = unsafe { hints.as_ref() };
    run(
        pass,
        || libc::EAI_MEMORY,
        || looking_up(name, hints, pass, lookup),
    )
}

/// getaddrinfo's rules (P-55..P-63) for `node` and the caller's hints.
fn looking_up(
    node: Option<&CStr>,
    hints: Option<&addrinfo>,
    pass: impl FnOnce() -> c_int,
    lookup: impl FnOnce(&CStr, &addrinfo, Option<&CStr>) -> c_int,
) -> c_int {
    let Some(node) = node else {
        return pass(); // P-55
    };
    // P-56: NULL hints mean AF_UNSPEC with AI_V4MAPPED | AI_ADDRCONFIG.
    // SAFETY: addrinfo is plain data; all-zero is a valid value.
    let mut h: addrinfo = unsafe { std::mem::zeroed() };
    match hints {
        None => {
            h.ai_family = libc::AF_UNSPEC;
            h.ai_flags = libc::AI_V4MAPPED | libc::AI_ADDRCONFIG;
        }
        Some(hints) => {
            h.ai_family = hints.ai_family;
            h.ai_socktype = hints.ai_socktype;
            h.ai_protocol = hints.ai_protocol;
            h.ai_flags = hints.ai_flags;
        }
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
        return lookup(node, &h, None);
    }
    if h.ai_flags & libc::AI_NUMERICHOST != 0 {
        return libc::EAI_NONAME; // P-59
    }
    if want == Want::V6 && !state().config.enable_ipv6 {
        return libc::EAI_FAIL; // P-60
    }
    let answer = match resolve::forward(node.to_bytes(), want) {
        Ok(ip) => ip,
        Err(outcome) => return outcome.eai(), // P-62
    };
    // P-61: the list for the answer's text form, with the caller's service.
    let Ok(text) = std::ffi::CString::new(answer.to_string()) else {
        return libc::EAI_FAIL;
    };
    let canonical = (h.ai_flags & libc::AI_CANONNAME != 0).then_some(node);
    h.ai_flags = (h.ai_flags | libc::AI_NUMERICHOST) & !(libc::AI_ADDRCONFIG | libc::AI_CANONNAME);
    lookup(&text, &h, canonical)
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
