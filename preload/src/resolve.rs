//! Name and address resolution through Tor: forward resolution N (N-1..N-4) and
//! reverse resolution RP (RP-1..RP-3). The hooks in `hooks::netdb` and `hooks::res`
//! turn the outcome into each API's convention.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use torsocks_core::onion::{is_onion_name, PoolError, MAX_NAME_LEN};
use torsocks_core::resolve::LookupError;
use torsocks_core::socks5::{Reply, Request};
use torsocks_core::{log_debug, log_error};

use crate::init::state;
use crate::tor;

/// The address family a caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
    /// Either (AF_UNSPEC).
    Either,
}

const LOCALHOST_V4: [&str; 2] = ["localhost", "ip-localhost"];
const LOCALHOST_V6: [&str; 3] = ["localhost", "ip6-localhost", "ip6-loopback"];

/// Forward resolution N of `name` for `want`.
pub fn forward(name: &[u8], want: Want) -> Result<IpAddr, LookupError> {
    if name.len() > MAX_NAME_LEN {
        return Err(LookupError::NoRecovery); // N-1
    }
    let is = |list: &[&str]| list.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name));
    match want {
        Want::V4 | Want::Either if is(&LOCALHOST_V4) => return Ok(Ipv4Addr::LOCALHOST.into()),
        Want::V6 if is(&LOCALHOST_V6) => return Ok(Ipv6Addr::LOCALHOST.into()), // N-2
        _ => {}
    }
    if is_onion_name(name) {
        // N-3
        if want == Want::V6 {
            return Err(LookupError::NoData);
        }
        let text = String::from_utf8_lossy(name);
        match state().onion_pool.cookie_for(&text) {
            Ok(cookie) => return Ok(IpAddr::V4(cookie)),
            Err(e @ PoolError::Full { .. }) => log_error!("{e}"), // O-5: on to RESOLVE
            Err(PoolError::NameTooLong) => return Err(LookupError::NoRecovery),
        }
    }
    // N-4
    log_debug!(
        "[resolve] Resolving {} through Tor",
        String::from_utf8_lossy(name)
    );
    let answer = match tor::lookup(Request::Resolve {
        name: name.to_vec(),
    })? {
        Reply::Resolved(ip) => ip,
        _ => return Err(LookupError::NoRecovery),
    };
    let ipv6_ok = state().config.enable_ipv6;
    match (answer, want) {
        (IpAddr::V4(_), Want::V4 | Want::Either) => Ok(answer),
        (IpAddr::V6(_), Want::V6) => Ok(answer),
        (IpAddr::V6(_), Want::Either) if ipv6_ok => Ok(answer),
        _ => Err(LookupError::NoData),
    }
}

/// Reverse resolution RP of `ip`.
pub fn reverse(ip: IpAddr) -> Result<String, LookupError> {
    let canonical = torsocks_core::addr::canonical(ip);
    if canonical == IpAddr::V4(Ipv4Addr::LOCALHOST) || canonical == IpAddr::V6(Ipv6Addr::LOCALHOST)
    {
        return Ok("localhost".to_string()); // RP-1
    }
    if let Some(name) = state().onion_pool.name_of(ip) {
        return Ok(name); // RP-2
    }
    log_debug!("[resolve] Reverse lookup of {ip} through Tor");
    match tor::lookup(Request::ResolvePtr { addr: ip })? {
        Reply::ResolvedName(name) => Ok(String::from_utf8_lossy(&name).into_owned()), // RP-3
        _ => Err(LookupError::NoRecovery),
    }
}
