//! Virtual addresses of namespace mode: a `.onion` name (or, with `--automap`, any
//! name) resolves to an address of `--virtual-range`, and a connection to that address
//! carries the name to Tor.
//!
//! Unlike preload mode's pool (spec §6: cookies never expire), this one faces a hostile
//! program that can resolve names without end, so it is bounded: only syntactically
//! valid v3 onion addresses (and automapped names) get an address, at most
//! [`MAX_ENTRIES`] names are held, and when the pool is full the least recently used
//! name whose address no open connection uses gives its address up. Memory stays below
//! about `MAX_ENTRIES × 400` bytes (26 MB), whatever the program resolves.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;

use sha3::{Digest, Sha3_256};
use torsocks_core::addr::canonical;
use torsocks_core::onion::{OnionRange, MAX_NAME_LEN};

/// The most names held at once (fewer when the range is smaller).
pub(crate) const MAX_ENTRIES: usize = 65_536;
/// What the names held take at most (the module documentation says why).
pub(crate) const MEMORY_BOUND: u64 = MAX_ENTRIES as u64 * 400;

/// Why a name got no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolError {
    /// Not a v3 onion address (56 base32 characters with the right version and
    /// checksum, optionally under subdomains).
    NotAnOnion,
    /// Every address is used by an open connection.
    Full,
    /// Longer than a name can be.
    TooLong,
}

#[derive(Debug)]
struct Entry {
    addr: Ipv4Addr,
    /// When it was last resolved or connected to (a counter).
    used: u64,
    /// Open connections to its address.
    leases: usize,
}

#[derive(Debug, Default)]
struct Entries {
    by_name: HashMap<Box<str>, Entry>,
    by_addr: HashMap<Ipv4Addr, Box<str>>,
    /// Names by last use, oldest first.
    by_use: BTreeMap<u64, Box<str>>,
    /// Addresses handed out so far, counting from the range's base.
    next: u32,
    clock: u64,
}

/// The pool. Single-threaded: the session's tasks share it through an `Rc`.
#[derive(Debug)]
pub(crate) struct VirtualPool {
    range: OnionRange,
    capacity: usize,
    entries: RefCell<Entries>,
}

impl VirtualPool {
    /// An empty pool over `range`.
    pub(crate) fn new(range: OnionRange) -> Rc<VirtualPool> {
        Self::with_capacity(range, MAX_ENTRIES)
    }

    /// An empty pool holding at most `capacity` names (and no more than the range has).
    pub(crate) fn with_capacity(range: OnionRange, capacity: usize) -> Rc<VirtualPool> {
        Rc::new(VirtualPool {
            range,
            capacity: capacity.min(range.capacity() as usize),
            entries: RefCell::new(Entries::default()),
        })
    }

    /// The address of `name`: its own if it has one, else a free one, else the one of
    /// the least recently used name that no connection holds. `automapped` names skip
    /// the onion check.
    pub(crate) fn address_for(&self, name: &str, automapped: bool) -> Result<Ipv4Addr, PoolError> {
        if name.len() > MAX_NAME_LEN {
            return Err(PoolError::TooLong);
        }
        let key = name.to_ascii_lowercase();
        if !automapped && !is_v3_onion(&key) {
            return Err(PoolError::NotAnOnion);
        }
        let mut e = self.entries.borrow_mut();
        e.clock += 1;
        let now = e.clock;
        if let Some(entry) = e.by_name.get_mut(key.as_str()) {
            let (old, addr) = (entry.used, entry.addr);
            entry.used = now;
            if let Some(name) = e.by_use.remove(&old) {
                e.by_use.insert(now, name);
            }
            return Ok(addr);
        }
        let addr = if e.by_name.len() < self.capacity {
            let addr = Ipv4Addr::from(u32::from(self.range.base()) + e.next);
            e.next += 1;
            addr
        } else {
            let victim = e
                .by_use
                .iter()
                .find(|(_, name)| e.by_name.get(*name).is_some_and(|v| v.leases == 0))
                .map(|(&used, name)| (used, name.clone()))
                .ok_or(PoolError::Full)?;
            e.by_use.remove(&victim.0);
            let entry = e.by_name.remove(&victim.1).ok_or(PoolError::Full)?;
            e.by_addr.remove(&entry.addr);
            entry.addr
        };
        let key: Box<str> = key.into();
        e.by_use.insert(now, key.clone());
        e.by_addr.insert(addr, key.clone());
        e.by_name.insert(
            key,
            Entry {
                addr,
                used: now,
                leases: 0,
            },
        );
        Ok(addr)
    }

    /// The name whose address `ip` is (IPv4-mapped addresses count).
    pub(crate) fn name_of(&self, ip: IpAddr) -> Option<String> {
        let IpAddr::V4(v4) = canonical(ip) else {
            return None;
        };
        self.entries
            .borrow()
            .by_addr
            .get(&v4)
            .map(|n| n.to_string())
    }

    /// Holds `ip`'s name for an open connection: its address is not given away until
    /// the lease is dropped. None when `ip` is no virtual address.
    pub(crate) fn lease(self: &Rc<Self>, ip: IpAddr) -> Option<(String, Lease)> {
        let IpAddr::V4(v4) = canonical(ip) else {
            return None;
        };
        let mut e = self.entries.borrow_mut();
        let name = e.by_addr.get(&v4)?.clone();
        let entry = e.by_name.get_mut(&name)?;
        entry.leases += 1;
        Some((
            name.to_string(),
            Lease {
                pool: Rc::clone(self),
                name,
            },
        ))
    }

    /// How many names are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.borrow().by_name.len()
    }
}

/// An open connection's hold on a virtual address (see [`VirtualPool::lease`]).
#[derive(Debug)]
pub(crate) struct Lease {
    pool: Rc<VirtualPool>,
    name: Box<str>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(entry) = self.pool.entries.borrow_mut().by_name.get_mut(&self.name) {
            entry.leases = entry.leases.saturating_sub(1);
        }
    }
}

/// The v3 onion checksum's prefix (rend-spec-v3, "Encoding onion addresses").
const CHECKSUM_PREFIX: &[u8] = b".onion checksum";
/// The v3 version byte.
const VERSION: u8 = 3;

/// Whether `name` (lowercase) ends in a valid v3 onion address: 56 base32 characters
/// that decode to a 32-byte key, a 2-byte checksum of it and version 3.
pub(crate) fn is_v3_onion(name: &str) -> bool {
    let Some(rest) = name.strip_suffix(".onion") else {
        return false;
    };
    let label = rest.rsplit('.').next().unwrap_or(rest);
    let Some(bytes) = base32_decode(label) else {
        return false;
    };
    if bytes.len() != 35 || bytes[34] != VERSION {
        return false;
    }
    let (key, checksum) = (&bytes[..32], &bytes[32..34]);
    let mut hasher = Sha3_256::new();
    hasher.update(CHECKSUM_PREFIX);
    hasher.update(key);
    hasher.update([VERSION]);
    let digest = hasher.finalize();
    digest[..2] == *checksum
}

/// RFC 4648 base32 (lowercase, no padding) of exactly 56 characters.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() != 56 {
        return None;
    }
    let mut out = Vec::with_capacity(35);
    let (mut acc, mut bits) = (0u64, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The onion address of the Tor Project's website (a public constant).
    const TORPROJECT: &str = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion";

    /// A valid v3 address for the 32-byte key `[seed; 32]`.
    fn onion(seed: u8) -> String {
        let key = [seed; 32];
        let mut hasher = Sha3_256::new();
        hasher.update(CHECKSUM_PREFIX);
        hasher.update(key);
        hasher.update([VERSION]);
        let digest = hasher.finalize();
        let mut bytes = key.to_vec();
        bytes.extend_from_slice(&digest[..2]);
        bytes.push(VERSION);
        let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut text = String::new();
        let (mut acc, mut bits) = (0u64, 0u32);
        for b in bytes {
            acc = (acc << 8) | u64::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                text.push(alphabet[((acc >> bits) & 31) as usize] as char);
            }
        }
        format!("{text}.onion")
    }

    #[test]
    fn v3_addresses_are_checked() {
        assert!(is_v3_onion(TORPROJECT));
        assert!(is_v3_onion(&format!("www.{TORPROJECT}")));
        assert!(is_v3_onion(&onion(7)));
        assert!(!is_v3_onion("abc.onion"));
        assert!(!is_v3_onion(&TORPROJECT.replace('2', "3")), "checksum");
        let mut wrong_version = TORPROJECT.to_string();
        wrong_version.replace_range(55..56, "a");
        assert!(!is_v3_onion(&wrong_version));
        assert!(!is_v3_onion(&TORPROJECT.replace(".onion", ".onio")));
        assert!(!is_v3_onion(
            "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid"
        ));
    }

    fn range(prefix: u8) -> OnionRange {
        OnionRange::new(Ipv4Addr::new(10, 192, 0, 0), prefix)
    }

    #[test]
    fn same_name_same_address_and_only_onions() {
        let pool = VirtualPool::new(range(10));
        let a = pool.address_for(&onion(1), false).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 192, 0, 0));
        assert_eq!(pool.address_for(&onion(1).to_uppercase(), false), Ok(a));
        assert_eq!(
            pool.address_for("made-up.onion", false),
            Err(PoolError::NotAnOnion)
        );
        assert_eq!(
            pool.address_for("example.com", true),
            Ok(Ipv4Addr::new(10, 192, 0, 1))
        );
        assert_eq!(pool.name_of(IpAddr::V4(a)), Some(onion(1)));
        assert_eq!(pool.name_of("10.192.0.9".parse().unwrap()), None);
    }

    #[test]
    fn a_full_pool_recycles_the_least_recently_used_free_address() {
        let pool = VirtualPool::with_capacity(range(10), 3);
        let addrs: Vec<_> = (1..=3)
            .map(|s| pool.address_for(&onion(s), false).unwrap())
            .collect();
        // onion(1) is in use by a connection; onion(2) is the oldest free one.
        let (_, lease) = pool.lease(IpAddr::V4(addrs[0])).unwrap();
        let fourth = pool.address_for(&onion(4), false).unwrap();
        assert_eq!(fourth, addrs[1], "the LRU free address is reused");
        assert_eq!(pool.name_of(IpAddr::V4(addrs[1])), Some(onion(4)));
        assert_eq!(
            pool.name_of(IpAddr::V4(addrs[0])),
            Some(onion(1)),
            "leased: kept"
        );
        // Touching onion(3) makes onion(4) the oldest free name.
        pool.address_for(&onion(3), false).unwrap();
        assert_eq!(pool.address_for(&onion(5), false), Ok(addrs[1]));
        assert_eq!(pool.len(), 3);
        drop(lease);
        assert_eq!(pool.address_for(&onion(6), false), Ok(addrs[0]));
    }

    #[test]
    fn all_addresses_leased_is_full() {
        let pool = VirtualPool::with_capacity(range(10), 1);
        let a = pool.address_for(&onion(1), false).unwrap();
        let _lease = pool.lease(IpAddr::V4(a)).unwrap();
        assert_eq!(pool.address_for(&onion(2), false), Err(PoolError::Full));
    }

    #[test]
    fn a_flood_stays_within_the_bound() {
        let pool = VirtualPool::with_capacity(range(10), 1_000);
        for i in 0..5_000u32 {
            pool.address_for(&format!("name{i}.example"), true).unwrap();
        }
        assert_eq!(pool.len(), 1_000);
        assert!(pool.entries.borrow().by_use.len() == 1_000);
    }

    #[test]
    fn the_range_bounds_the_capacity() {
        let pool = VirtualPool::new(range(30)); // 10.192.0.0/30: 3 addresses
        for s in 1..=3 {
            pool.address_for(&onion(s), false).unwrap();
        }
        assert_eq!(
            pool.address_for(&onion(4), false),
            Ok(Ipv4Addr::new(10, 192, 0, 0))
        );
    }
}
