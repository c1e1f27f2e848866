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

use libc::{addrinfo, c_char};

use crate::real;

/// The address of a numeric literal as the C library parses it with AI_NUMERICHOST
/// (IPv4 in any inet_aton form, IPv6 with an optional scope); `None` for a name.
pub(super) unsafe fn numeric_literal(node: *const c_char) -> Option<IpAddr> {
    let mut hints: addrinfo = std::mem::zeroed();
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_flags = libc::AI_NUMERICHOST;
    let mut res: *mut addrinfo = std::ptr::null_mut();
    if real::GETADDRINFO.get()(node, std::ptr::null(), &hints, &mut res) != 0 || res.is_null() {
        return None;
    }
    let ip = crate::c_addr::read_inet((*res).ai_addr, (*res).ai_addrlen).map(|a| a.ip());
    libc::freeaddrinfo(res);
    ip
}
