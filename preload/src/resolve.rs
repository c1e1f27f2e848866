//! Name and address resolution through Tor: forward resolution N (N-1..N-4) and
//! reverse resolution RP (RP-1..RP-3). The hooks in `hooks::netdb` and `hooks::res`
//! turn the outcome into each API's convention. What to do with a name is decided by
//! the plan shared with namespace mode (`torsocks_core::resolve::plan`); this module
//! carries it out with the onion pool and a SOCKS exchange.

use std::net::IpAddr;

use torsocks_core::onion::PoolError;
use torsocks_core::resolve::plan::{self, Forward, Policy, PoolRefusal, Reverse};
use torsocks_core::resolve::LookupError;
use torsocks_core::socks5::{Reply, Request};
use torsocks_core::{log_debug, log_error};

use crate::init::state;
use crate::tor;

pub use torsocks_core::resolve::plan::Want;

/// Preload mode's resolution policy.
fn policy() -> Policy {
    Policy::preload(state().config.enable_ipv6)
}

/// Forward resolution N of `name` for `want`, as the shared plan says.
pub fn forward(name: &[u8], want: Want) -> Result<IpAddr, LookupError> {
    let policy = policy();
    let mut step = plan::forward(name, want, &policy);
    if let Forward::FromPool { .. } = step {
        let text = String::from_utf8_lossy(name);
        step = match state().onion_pool.cookie_for(&text) {
            Ok(cookie) => Forward::Answer(IpAddr::V4(cookie)),
            Err(e @ PoolError::Full { .. }) => {
                log_error!("{e}"); // O-5
                plan::after_pool(PoolRefusal::Full, &policy)
            }
            Err(PoolError::NameTooLong) => plan::after_pool(PoolRefusal::BadName, &policy),
        };
    }
    match step {
        Forward::Answer(ip) => Ok(ip),
        Forward::Refuse(outcome) => Err(outcome),
        Forward::FromPool { .. } | Forward::AskTor => {
            log_debug!(
                "[resolve] Resolving {} through Tor",
                String::from_utf8_lossy(name)
            );
            match tor::lookup(Request::Resolve {
                name: name.to_vec(),
            })? {
                Reply::Resolved(ip) => plan::keep(ip, want, &policy),
                _ => Err(LookupError::NoRecovery),
            }
        }
    }
}

/// Reverse resolution RP of `ip`, as the shared plan says.
pub fn reverse(ip: IpAddr) -> Result<String, LookupError> {
    match plan::reverse(ip, &policy()) {
        Reverse::Answer(name) => return Ok(name.to_string()), // RP-1
        Reverse::FromPool => {}
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
