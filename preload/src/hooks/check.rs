//! The destination check V (V-1..V-7), shared by connect, sendto, sendmsg and sendmmsg.

use std::net::SocketAddr;

use torsocks_core::addr::{is_any, is_localhost};
use torsocks_core::config::OutboundLocalhost;
use torsocks_core::log_debug;

use crate::c_addr::{self, V4_LEN, V6_LEN};
use crate::init::state;
use crate::sockopt::{socket_family, socket_type};

/// The verdict on a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not ours to check: call the C library.
    Pass,
    /// Refuse with this errno.
    Deny(i32),
    /// A TCP destination for Tor.
    Tor(SocketAddr),
}

/// Applies V to `fd` and the caller's address (its readable bytes, `None` for NULL).
pub fn destination(fd: i32, addr: Option<&[u8]>) -> Verdict {
    let Some(family) = c_addr::family(addr) else {
        return Verdict::Pass; // V-1 (and a length too short to name a family)
    };
    let addr = addr.unwrap_or_default();
    if family == libc::AF_UNSPEC && socket_family(fd) == Some(libc::AF_INET) {
        // V-2: Linux delivers a datagram of an AF_INET socket to the IPv4 address an
        // AF_UNSPEC sockaddr carries (udp_sendmsg, raw_sendmsg); check that address.
        // (An AF_INET6 socket ignores an AF_UNSPEC address: it sends to its peer.)
        let mut sin = [0u8; V4_LEN];
        let n = addr.len().min(V4_LEN);
        sin[..n].copy_from_slice(&addr[..n]);
        sin[..2].copy_from_slice(&(libc::AF_INET as libc::sa_family_t).to_ne_bytes());
        return destination(fd, Some(&sin[..n]));
    }
    let needed = match family {
        libc::AF_INET => V4_LEN,
        libc::AF_INET6 => V6_LEN,
        _ => return Verdict::Pass, // V-2
    };
    if addr.len() < needed {
        return Verdict::Deny(libc::EINVAL); // V-3
    }
    let Some(dest) = c_addr::read_inet(addr) else {
        return Verdict::Deny(libc::EINVAL);
    };
    let Some(kind) = socket_type(fd) else {
        return Verdict::Deny(libc::EBADF); // V-4
    };
    if kind != libc::SOCK_STREAM {
        // V-5
        let udp_allowed = state().config.allow_outbound_localhost == OutboundLocalhost::TcpAndUdp;
        if kind == libc::SOCK_DGRAM && udp_allowed && is_localhost(dest.ip()) {
            return Verdict::Pass;
        }
        log_debug!("UDP or ICMP stream can't be handled. Rejecting.");
        return Verdict::Deny(libc::EPERM);
    }
    if is_any(dest.ip()) {
        return Verdict::Deny(libc::EPERM); // V-6
    }
    Verdict::Tor(dest) // V-7
}
