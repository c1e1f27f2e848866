//! connect (P-7..P-15).
#![allow(unsafe_code)]

use libc::{c_int, sockaddr, socklen_t};
use torsocks_core::addr::is_localhost;
use torsocks_core::config::OutboundLocalhost;
use torsocks_core::log_warn;
use torsocks_core::socks5::Request;

use super::check::{self, Verdict};
use super::run;
use crate::c_addr::{self, RawAddr};
use crate::errno::{fail, Errno};
use crate::init::state;
use crate::{real, registry, tor};

/// connect(2).
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::CONNECT.get()(fd, addr, len) };
    // SAFETY: connect(2)'s contract: a non-NULL addr points to len readable bytes.
    let dest = unsafe { c_addr::caller_addr!(addr, len) };
    run(
        pass,
        || fail(libc::ENOMEM),
        || connect_checked(fd, dest, pass),
    )
}

/// `__connect`: glibc's public alias of connect (default version, same code), which a
/// program can call by name to step around an interposed `connect`.
#[no_mangle]
pub unsafe extern "C" fn __connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the same arguments under the same contract.
    unsafe { connect(fd, addr, len) }
}

/// connect's rules (P-7..P-15) for `fd` and the caller's address bytes, for connect
/// itself and for MSG_FASTOPEN sends (P-24); `pass` is the C library's connect with the
/// caller's arguments.
pub fn connect_checked(fd: c_int, dest: Option<&[u8]>, pass: impl FnOnce() -> c_int) -> c_int {
    if c_addr::family(dest) == Some(libc::AF_UNSPEC) {
        registry::remove(fd); // P-7
        return pass();
    }
    match check::destination(fd, dest) {
        Verdict::Pass => pass(),
        Verdict::Deny(errno) => fail(errno),
        Verdict::Tor(to) => match connect_through_tor(fd, dest.unwrap_or_default(), to) {
            Ok(()) => 0,
            Err(Refusal::Direct) => pass(),
            Err(Refusal::Errno(e)) => fail(e),
        },
    }
}

/// Why a TCP connect did not go to Tor.
enum Refusal {
    /// AllowOutboundLocalhost lets it go direct.
    Direct,
    /// Fail with this errno.
    Errno(Errno),
}

/// P-9..P-12 for a stream destination that passed V (`addr` its caller's bytes).
fn connect_through_tor(fd: c_int, addr: &[u8], dest: std::net::SocketAddr) -> Result<(), Refusal> {
    if registry::lookup(fd).is_some() {
        return Err(Refusal::Errno(Errno(libc::EISCONN))); // P-9
    }
    let s = state();
    let (request, onion) = match s.onion_pool.name_of(dest.ip()) {
        // P-10: a cookie, even inside 127.0.0.0/8.
        Some(name) => (
            Request::Connect {
                host: name.clone().into_bytes(),
                port: dest.port(),
            },
            Some(name.into_boxed_str()),
        ),
        None if is_localhost(dest.ip()) => {
            // P-11
            if s.config.allow_outbound_localhost >= OutboundLocalhost::Tcp {
                return Err(Refusal::Direct);
            }
            log_warn!(
                "[connect] Connection to a local address is denied since it might be a TCP DNS \
                 query to a local DNS server. Rejecting it for safety reasons."
            );
            return Err(Refusal::Errno(Errno(libc::EPERM)));
        }
        None => (Request::connect_ip(dest), None), // P-12
    };
    tor::hand_off(fd, request).map_err(Refusal::Errno)?;
    registry::insert(
        fd,
        RawAddr::copy_from(&addr[..addr.len().min(max_len(dest))]),
        onion,
    );
    Ok(())
}

/// RG-1: the destination is kept as 16 bytes for AF_INET and 28 for AF_INET6.
fn max_len(dest: std::net::SocketAddr) -> usize {
    if dest.is_ipv4() {
        c_addr::V4_LEN
    } else {
        c_addr::V6_LEN
    }
}
