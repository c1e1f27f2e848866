//! The onion address pool (spec §6).
//!
//! A program that resolves `xyz.onion` gets a "cookie": an IPv4 address from
//! `OnionAddrRange`. When it later connects to the cookie, torsocks sends Tor a CONNECT
//! with the onion name. Cookies are handed out in order from the configured address,
//! never reused and never expire; the pool is bounded by the range's size.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, MutexGuard};

use crate::addr::canonical;

/// The longest name the pool (and SOCKS5) accepts.
pub const MAX_NAME_LEN: usize = 255;

/// True for a name whose last 6 characters are `.onion`, compared case-insensitively.
pub fn is_onion_name(name: &[u8]) -> bool {
    name.len() >= 6 && name[name.len() - 6..].eq_ignore_ascii_case(b".onion")
}

/// An `OnionAddrRange`: a start address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnionRange {
    base: Ipv4Addr,
    prefix: u8,
}

impl OnionRange {
    /// The default range, 127.42.42.0/24.
    pub const DEFAULT: OnionRange = OnionRange {
        base: Ipv4Addr::new(127, 42, 42, 0),
        prefix: 24,
    };

    /// A range starting at `base` inside the subnet `base/prefix` (prefix 1..=32;
    /// larger values are clamped to 32).
    pub fn new(base: Ipv4Addr, prefix: u8) -> Self {
        OnionRange {
            base,
            prefix: prefix.min(32),
        }
    }

    /// The first cookie, the address as written.
    pub fn base(&self) -> Ipv4Addr {
        self.base
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The subnet's last address L; cookies are base..L−1 (O-4).
    fn last(&self) -> u32 {
        let host_bits = 32 - u32::from(self.prefix);
        let host_mask = if host_bits == 32 {
            u32::MAX
        } else {
            (1u32 << host_bits) - 1
        };
        u32::from(self.base) | host_mask
    }

    /// How many cookies the range holds: L − base (O-4). The default range holds 255.
    pub fn capacity(&self) -> u32 {
        self.last() - u32::from(self.base)
    }
}

impl fmt::Display for OnionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// Why a name got no cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolError {
    /// Every cookie is taken (O-5). The caller logs this and falls back to RESOLVE.
    Full {
        /// The pool's capacity.
        capacity: u32,
    },
    /// The name is longer than 255 bytes (O-2).
    NameTooLong,
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Full { capacity } => write!(
                f,
                "[onion] Can't create anymore onion entry. Maximum reached ({capacity})"
            ),
            PoolError::NameTooLong => f.write_str("[onion] onion name longer than 255 bytes"),
        }
    }
}

impl std::error::Error for PoolError {}

/// The pool's lock, held (see [`OnionPool::hold`]).
pub struct PoolHold<'a>(#[allow(dead_code)] MutexGuard<'a, Entries>);

#[derive(Debug, Default)]
struct Entries {
    /// Lowercase name → cookie.
    by_name: HashMap<Box<str>, Ipv4Addr>,
    /// Names in allocation order: the name of cookie `base + i` is `names[i]`.
    names: Vec<Box<str>>,
}

/// The per-process pool of onion cookies. Safe to share between threads (G-5).
#[derive(Debug)]
pub struct OnionPool {
    range: OnionRange,
    entries: Mutex<Entries>,
}

impl OnionPool {
    /// An empty pool over `range` (O-1).
    pub fn new(range: OnionRange) -> Self {
        OnionPool {
            range,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// The configured range.
    pub fn range(&self) -> OnionRange {
        self.range
    }

    /// The cookie of `name`, allocating the next one for a new name (O-2, O-3).
    /// Names are compared in ASCII lowercase.
    pub fn cookie_for(&self, name: &str) -> Result<Ipv4Addr, PoolError> {
        if name.len() > MAX_NAME_LEN {
            return Err(PoolError::NameTooLong);
        }
        let key = name.to_ascii_lowercase();
        let mut entries = self.lock();
        if let Some(&cookie) = entries.by_name.get(key.as_str()) {
            return Ok(cookie);
        }
        let capacity = self.range.capacity();
        let used = entries.names.len() as u32;
        if used >= capacity {
            return Err(PoolError::Full { capacity });
        }
        let cookie = Ipv4Addr::from(u32::from(self.range.base) + used);
        let key: Box<str> = key.into();
        entries.names.push(key.clone());
        entries.by_name.insert(key, cookie);
        Ok(cookie)
    }

    /// The onion name of an allocated cookie; IPv4-mapped addresses count (O-6, O-9).
    /// Addresses of the range that were never handed out are not cookies.
    pub fn name_of(&self, ip: IpAddr) -> Option<String> {
        let IpAddr::V4(v4) = canonical(ip) else {
            return None; // O-8: there are no IPv6 cookies
        };
        let offset = u32::from(v4).checked_sub(u32::from(self.range.base))?;
        let entries = self.lock();
        entries
            .names
            .get(offset as usize)
            .map(|name| name.to_string())
    }

    /// How many cookies have been handed out.
    pub fn len(&self) -> usize {
        self.lock().names.len()
    }

    /// True when no cookie has been handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Holds the pool's lock until the returned value is dropped. A fork handler takes
    /// it before `fork` and releases it in parent and child, so that a child never
    /// inherits a lock held by a thread that does not exist there (G-6).
    pub fn hold(&self) -> PoolHold<'_> {
        PoolHold(self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the entries half-updated (the
        // two collections are written after every check), so a poisoned lock is usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    // spec §1.3 "onion name"
    #[test]
    fn onion_names() {
        assert!(is_onion_name(b"x.onion"));
        assert!(is_onion_name(b"X.ONION"));
        assert!(is_onion_name(b".onion"));
        assert!(!is_onion_name(b"onion"));
        assert!(!is_onion_name(b"x.onion."));
        assert!(!is_onion_name(b"x.onions"));
    }

    // spec O-3, O-4, C-49, C-52
    #[test]
    fn capacity_and_bounds() {
        let r = |s: &str, m| OnionRange::new(ip(s), m);
        assert_eq!(OnionRange::DEFAULT.capacity(), 255);
        assert_eq!(r("10.1.2.0", 30).capacity(), 3);
        assert_eq!(r("127.42.42.10", 24).capacity(), 245);
        assert_eq!(r("127.42.42.10", 32).capacity(), 0);
        assert_eq!(r("10.0.0.0", 8).capacity(), 16_777_215);
        assert_eq!(r("0.0.0.0", 1).capacity(), (1 << 31) - 1);
        assert_eq!(OnionRange::DEFAULT.to_string(), "127.42.42.0/24");
    }

    // spec O-2, O-3, C-49: sequential, case-insensitive, repeats stable
    #[test]
    fn sequential_and_case_insensitive() {
        let pool = OnionPool::new(OnionRange::DEFAULT);
        assert_eq!(pool.cookie_for("x.onion"), Ok(ip("127.42.42.0")));
        assert_eq!(pool.cookie_for("y.onion"), Ok(ip("127.42.42.1")));
        assert_eq!(pool.cookie_for("x.onion"), Ok(ip("127.42.42.0")));
        assert_eq!(pool.cookie_for("X.ONION"), Ok(ip("127.42.42.0")));
        assert_eq!(pool.len(), 2);
        assert_eq!(
            pool.name_of(IpAddr::V4(ip("127.42.42.1"))).as_deref(),
            Some("y.onion")
        );
    }

    // spec O-5, C-51
    #[test]
    fn full_pool() {
        let pool = OnionPool::new(OnionRange::new(ip("127.42.42.0"), 30));
        for (i, name) in ["a.onion", "b.onion", "c.onion"].iter().enumerate() {
            assert_eq!(pool.cookie_for(name), Ok(ip(&format!("127.42.42.{i}"))));
        }
        let err = pool.cookie_for("d.onion").unwrap_err();
        assert_eq!(err, PoolError::Full { capacity: 3 });
        assert_eq!(
            err.to_string(),
            "[onion] Can't create anymore onion entry. Maximum reached (3)"
        );
        // Known names still resolve.
        assert_eq!(pool.cookie_for("b.onion"), Ok(ip("127.42.42.1")));
    }

    // spec O-4, C-52: a non-aligned start never leaves its subnet
    #[test]
    fn non_aligned_range_stops_at_subnet_end() {
        let pool = OnionPool::new(OnionRange::new(ip("127.42.42.10"), 24));
        let mut last = None;
        for i in 0..245 {
            last = Some(pool.cookie_for(&format!("n{i}.onion")).unwrap());
        }
        assert_eq!(last, Some(ip("127.42.42.254")));
        assert!(pool.cookie_for("one-more.onion").is_err());
        let pool = OnionPool::new(OnionRange::new(ip("10.0.0.0"), 8));
        assert_eq!(pool.cookie_for("a.onion"), Ok(ip("10.0.0.0")));
        assert_eq!(pool.cookie_for("b.onion"), Ok(ip("10.0.0.1")));
    }

    // spec O-6, O-8, O-9, C-50
    #[test]
    fn address_lookup() {
        let pool = OnionPool::new(OnionRange::DEFAULT);
        pool.cookie_for("abc.onion").unwrap();
        let mapped: IpAddr = "::ffff:127.42.42.0".parse().unwrap();
        assert_eq!(pool.name_of(mapped).as_deref(), Some("abc.onion"));
        // In the range but never handed out: not a cookie.
        assert_eq!(pool.name_of(IpAddr::V4(ip("127.42.42.1"))), None);
        assert_eq!(pool.name_of(IpAddr::V4(ip("127.42.41.255"))), None);
        assert_eq!(pool.name_of("2001:db8::1".parse().unwrap()), None);
    }

    // spec O-2 / N-1
    #[test]
    fn long_names_never_enter() {
        let pool = OnionPool::new(OnionRange::DEFAULT);
        let long = format!("{}.onion", "a".repeat(250));
        assert_eq!(pool.cookie_for(&long), Err(PoolError::NameTooLong));
        assert!(pool.is_empty());
    }

    // spec G-5: concurrent allocation gives each name exactly one distinct cookie
    #[test]
    fn thread_safe() {
        let pool = Arc::new(OnionPool::new(OnionRange::DEFAULT));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || {
                    // 7 is coprime with 200: each thread asks for every name, in its own order.
                    (0..200)
                        .map(|i| pool.cookie_for(&format!("n{}.onion", (i * 7 + t * 13) % 200)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap().iter().all(Result::is_ok));
        }
        assert_eq!(pool.len(), 200);
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let cookie = pool.cookie_for(&format!("n{i}.onion")).unwrap();
            assert!(seen.insert(cookie));
            assert_eq!(
                pool.name_of(IpAddr::V4(cookie)),
                Some(format!("n{i}.onion"))
            );
        }
    }
}
