//! socket and socketpair (P-1..P-6).
#![allow(unsafe_code)]

use libc::c_int;
use torsocks_core::config::OutboundLocalhost;
use torsocks_core::log_debug;

use super::run;
use crate::errno::fail;
use crate::init::state;
use crate::real;

fn is_inet(domain: c_int) -> bool {
    domain == libc::AF_INET || domain == libc::AF_INET6
}

/// The protocols of an inet stream socket that connect hands to Tor: the default (TCP),
/// TCP and MPTCP (which connects like TCP). SCTP's stream sockets would set up
/// associations directly (sendto with an address), so they are refused (P-2).
fn is_tcp(protocol: c_int) -> bool {
    protocol == 0 || protocol == libc::IPPROTO_TCP || protocol == libc::IPPROTO_MPTCP
}

/// socket(2) (P-1..P-5).
#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int {
    // SAFETY: socket takes any ints.
    let pass = || unsafe { real::SOCKET.get()(domain, kind, protocol) };
    run(
        pass,
        || fail(libc::ENOMEM),
        || {
            let config = &state().config;
            if domain == libc::AF_INET6 && !config.enable_ipv6 {
                log_debug!("[socket] Denying ipv6");
                return fail(libc::ENOSYS); // P-1
            }
            let base = kind & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
            let udp_allowed = config.allow_outbound_localhost == OutboundLocalhost::TcpAndUdp;
            if !is_inet(domain)
                || (base == libc::SOCK_STREAM && is_tcp(protocol))
                || (base == libc::SOCK_DGRAM && udp_allowed)
            {
                return pass(); // P-2, P-3, P-4
            }
            log_debug!("IPv4/v6 non TCP socket denied. Tor network can't handle it.");
            fail(libc::EPERM) // P-5
        },
    )
}

/// socketpair(2) (P-6).
#[no_mangle]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    kind: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::SOCKETPAIR.get()(domain, kind, protocol, sv) };
    let hook = || {
        if is_inet(domain) {
            fail(libc::EPERM)
        } else {
            pass()
        }
    };
    run(pass, || fail(libc::ENOMEM), hook)
}
