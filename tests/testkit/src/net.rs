//! Small address helpers for fixtures.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::process::Command;

/// Runs `ip ARGS…` (iproute2), failing with its stderr.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

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
