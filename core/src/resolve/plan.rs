//! The resolution plan: what to do with a name or an address before any I/O, shared by
//! preload mode (`preload/src/resolve.rs`) and namespace mode's DNS server
//! (`src/dns.rs`). Sans-IO: a name, the wanted families and the mode's [`Policy`] in;
//! "answer this", "take an address from the pool", "ask Tor and keep these families"
//! or "refuse" out. Each mode then does the one thing it was told, with its own pool
//! and its own way of asking Tor.
//!
//! Where the modes must differ, the difference is a field of [`Policy`], and the
//! constructors [`Policy::preload`] and [`Policy::namespace`] say why.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::LookupError;
use crate::onion::{is_onion_name, MAX_NAME_LEN};

/// The address family a caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// IPv4 only (A, AF_INET, gethostbyname).
    V4,
    /// IPv6 only (AAAA, AF_INET6).
    V6,
    /// Either (AF_UNSPEC).
    Either,
}

/// What a pool does when it has no address left for a new name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenPoolFull {
    /// Go on to a RESOLVE, as the C original does (O-5).
    AskTor,
    /// Answer "try again" (SERVFAIL): addresses come back as connections close.
    TryAgain,
}

/// How a mode resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Answer the built-in localhost names (and the loopback addresses, in reverse)
    /// without Tor (N-2, RP-1).
    pub local_names: bool,
    /// Every name gets a virtual address, not only `.onion` names (`--automap`).
    pub automap: bool,
    /// IPv6 answers may be given to a caller that wants either family.
    pub ipv6: bool,
    /// What a full pool means.
    pub when_pool_full: WhenPoolFull,
}

impl Policy {
    /// Preload mode (spec §4.9): built-in localhost names, onion cookies only, a full
    /// pool falling back to RESOLVE, IPv6 answers only with `EnableIPv6`. This is the
    /// C original's behaviour, which programs in preload mode already rely on.
    pub fn preload(enable_ipv6: bool) -> Policy {
        Policy {
            local_names: true,
            automap: false,
            ipv6: enable_ipv6,
            when_pool_full: WhenPoolFull::AskTor,
        }
    }

    /// Namespace mode's DNS server. Localhost names are the sandbox's own /etc/hosts'
    /// business: a query that reaches the server is a real question, and goes to Tor
    /// like any other. A full pool answers SERVFAIL instead of asking Tor: an onion
    /// name's connections must carry the name, which a RESOLVE cannot give, and the
    /// pool's addresses come back as their connections close, so "try again" is true.
    pub fn namespace(automap: bool) -> Policy {
        Policy {
            local_names: false,
            automap,
            ipv6: true,
            when_pool_full: WhenPoolFull::TryAgain,
        }
    }
}

/// What to do for a forward lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Answer with this address; no Tor traffic.
    Answer(IpAddr),
    /// Answer with the name's virtual address from the mode's pool (IPv4); `onion`
    /// tells a `.onion` name from an automapped one. A pool that refuses says why
    /// with [`after_pool`].
    FromPool {
        /// The name is a `.onion` name.
        onion: bool,
    },
    /// RESOLVE the name through Tor, then [`keep`] the answer or not.
    AskTor,
    /// Fail with this outcome; no Tor traffic.
    Refuse(LookupError),
}

/// Names answered locally for IPv4 (N-2).
const LOCALHOST_V4: [&str; 2] = ["localhost", "ip-localhost"];
/// Names answered locally for IPv6 (N-2).
const LOCALHOST_V6: [&str; 3] = ["localhost", "ip6-localhost", "ip6-loopback"];

/// The plan for looking up `name` for `want` (N-1..N-4).
pub fn forward(name: &[u8], want: Want, policy: &Policy) -> Forward {
    if name.len() > MAX_NAME_LEN {
        return Forward::Refuse(LookupError::NoRecovery); // N-1
    }
    if policy.local_names {
        let is = |list: &[&str]| list.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name));
        match want {
            Want::V4 | Want::Either if is(&LOCALHOST_V4) => {
                return Forward::Answer(Ipv4Addr::LOCALHOST.into())
            }
            Want::V6 if is(&LOCALHOST_V6) => return Forward::Answer(Ipv6Addr::LOCALHOST.into()),
            _ => {} // N-2
        }
    }
    let onion = is_onion_name(name);
    if onion || policy.automap {
        // N-3: virtual addresses are IPv4.
        return match want {
            Want::V6 => Forward::Refuse(LookupError::NoData),
            Want::V4 | Want::Either => Forward::FromPool { onion },
        };
    }
    Forward::AskTor // N-4
}

/// Why a pool gave no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolRefusal {
    /// No address left.
    Full,
    /// The name cannot be one: malformed onion address, too long.
    BadName,
}

/// The plan once the pool refused: a full pool as the policy says; a name that cannot
/// be an onion address does not exist, since Tor could not reach it either.
pub fn after_pool(refusal: PoolRefusal, policy: &Policy) -> Forward {
    match (refusal, policy.when_pool_full) {
        (PoolRefusal::Full, WhenPoolFull::AskTor) => Forward::AskTor, // O-5
        (PoolRefusal::Full, WhenPoolFull::TryAgain) => Forward::Refuse(LookupError::TryAgain),
        (PoolRefusal::BadName, _) => Forward::Refuse(LookupError::NotFound),
    }
}

/// Keeps Tor's answer when it is of a family the caller wants (N-4).
pub fn keep(answer: IpAddr, want: Want, policy: &Policy) -> Result<IpAddr, LookupError> {
    match (answer, want) {
        (IpAddr::V4(_), Want::V4 | Want::Either) | (IpAddr::V6(_), Want::V6) => Ok(answer),
        (IpAddr::V6(_), Want::Either) if policy.ipv6 => Ok(answer),
        _ => Err(LookupError::NoData),
    }
}

/// What to do for a reverse lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reverse {
    /// Answer with this name; no Tor traffic.
    Answer(&'static str),
    /// The pool's name for a virtual address; when it has none, RESOLVE_PTR through Tor.
    FromPool,
}

/// The plan for a reverse lookup of `ip` (RP-1..RP-3).
pub fn reverse(ip: IpAddr, policy: &Policy) -> Reverse {
    let ip = crate::addr::canonical(ip);
    if policy.local_names
        && ip.is_loopback()
        && (ip == Ipv4Addr::LOCALHOST || ip == Ipv6Addr::LOCALHOST)
    {
        return Reverse::Answer("localhost"); // RP-1
    }
    Reverse::FromPool // RP-2, then RP-3
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONION: &[u8] = b"duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion";

    fn both() -> [Policy; 2] {
        [Policy::preload(true), Policy::namespace(false)]
    }

    #[test]
    fn over_long_names_never_reach_tor() {
        let long = vec![b'a'; 256];
        for p in both() {
            assert_eq!(
                forward(&long, Want::V4, &p),
                Forward::Refuse(LookupError::NoRecovery)
            );
            assert_eq!(forward(&long[..255], Want::V4, &p), Forward::AskTor);
        }
    }

    #[test]
    fn localhost_names_are_answered_in_preload_mode_only() {
        let preload = Policy::preload(true);
        let v4 = Forward::Answer(Ipv4Addr::LOCALHOST.into());
        let v6 = Forward::Answer(Ipv6Addr::LOCALHOST.into());
        assert_eq!(forward(b"LocalHost", Want::Either, &preload), v4);
        assert_eq!(forward(b"ip-localhost", Want::V4, &preload), v4);
        assert_eq!(forward(b"ip6-loopback", Want::V6, &preload), v6);
        assert_eq!(
            forward(b"ip6-loopback", Want::V4, &preload),
            Forward::AskTor
        );
        let ns = Policy::namespace(false);
        assert_eq!(forward(b"localhost", Want::V4, &ns), Forward::AskTor);
        assert_eq!(
            reverse(Ipv4Addr::LOCALHOST.into(), &preload),
            Reverse::Answer("localhost")
        );
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(reverse(mapped, &preload), Reverse::Answer("localhost"));
        assert_eq!(reverse(Ipv4Addr::LOCALHOST.into(), &ns), Reverse::FromPool);
        assert_eq!(
            reverse("127.0.0.2".parse().unwrap(), &preload),
            Reverse::FromPool
        );
    }

    #[test]
    fn onion_names_take_pool_addresses_which_are_ipv4() {
        for p in both() {
            assert_eq!(
                forward(ONION, Want::V4, &p),
                Forward::FromPool { onion: true }
            );
            assert_eq!(
                forward(ONION, Want::Either, &p),
                Forward::FromPool { onion: true }
            );
            assert_eq!(
                forward(ONION, Want::V6, &p),
                Forward::Refuse(LookupError::NoData)
            );
            assert_eq!(forward(b"example.org", Want::V4, &p), Forward::AskTor);
        }
        let automap = Policy::namespace(true);
        assert_eq!(
            forward(b"example.org", Want::V4, &automap),
            Forward::FromPool { onion: false }
        );
        assert_eq!(
            forward(b"example.org", Want::V6, &automap),
            Forward::Refuse(LookupError::NoData)
        );
    }

    #[test]
    fn a_full_pool_is_where_the_modes_differ() {
        assert_eq!(
            after_pool(PoolRefusal::Full, &Policy::preload(false)),
            Forward::AskTor
        );
        assert_eq!(
            after_pool(PoolRefusal::Full, &Policy::namespace(false)),
            Forward::Refuse(LookupError::TryAgain)
        );
        for p in both() {
            assert_eq!(
                after_pool(PoolRefusal::BadName, &p),
                Forward::Refuse(LookupError::NotFound)
            );
        }
    }

    #[test]
    fn tors_answers_are_kept_for_the_families_wanted() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        for p in both() {
            assert_eq!(keep(v4, Want::V4, &p), Ok(v4));
            assert_eq!(keep(v4, Want::Either, &p), Ok(v4));
            assert_eq!(keep(v4, Want::V6, &p), Err(LookupError::NoData));
            assert_eq!(keep(v6, Want::V6, &p), Ok(v6));
            assert_eq!(keep(v6, Want::V4, &p), Err(LookupError::NoData));
        }
        assert_eq!(keep(v6, Want::Either, &Policy::preload(true)), Ok(v6));
        assert_eq!(
            keep(v6, Want::Either, &Policy::preload(false)),
            Err(LookupError::NoData)
        );
    }
}
