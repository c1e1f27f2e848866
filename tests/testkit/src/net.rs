//! Small address helpers for fixtures.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 network, e.g. 10.77.3.0/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    /// The network address.
    pub addr: Ipv4Addr,
    /// The prefix length (0..=32).
    pub prefix: u8,
}

impl Ipv4Net {
    /// The network `addr/prefix` (host bits of `addr` are ignored by `contains`).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Ipv4Net {
            addr,
            prefix: prefix.min(32),
        }
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}
