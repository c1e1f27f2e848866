//! The resolver functions of <netdb.h> (spec §5.17–§5.20). Names go to Tor; numeric
//! literals never do.
//!
//! * [`hostent`] — gethostbyname, gethostbyname2, their `_r` forms, gethostbyaddr(_r).
//! * [`address_info`] — getaddrinfo and getaddrinfo_a.
//! * [`nameinfo`] — getnameinfo.
#![allow(unsafe_code)]

pub mod address_info;
pub mod hostent;
pub mod nameinfo;

use std::net::IpAddr;

use std::ffi::CStr;

use libc::addrinfo;

use crate::real;

/// The address of a numeric literal as the C library parses it with AI_NUMERICHOST
/// (IPv4 in any inet_aton form, IPv6 with an optional scope); `None` for a name.
pub(super) fn numeric_literal(node: &CStr) -> Option<IpAddr> {
    // SAFETY: addrinfo is plain data; all-zero is a valid value.
    let mut hints: addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_flags = libc::AI_NUMERICHOST;
    let mut res: *mut addrinfo = std::ptr::null_mut();
    // SAFETY: node is NUL-terminated, hints and res are ours; a NULL service is allowed.
    let rc = unsafe { real::GETADDRINFO.get()(node.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 || res.is_null() {
        return None;
    }
    // SAFETY: on success the C library's list holds at least one entry, whose ai_addr
    // points to ai_addrlen bytes; we free the list once read.
    unsafe {
        let first = &*res;
        let addr =
            std::slice::from_raw_parts(first.ai_addr.cast::<u8>(), first.ai_addrlen as usize);
        let ip = crate::c_addr::read_inet(addr).map(|a| a.ip());
        libc::freeaddrinfo(res);
        ip
    }
}
