//! A sans-IO SOCKS5 client for Tor (and the server side of the same protocol) (spec §4): RFC 1928, RFC 1929 authentication, and
//! Tor's RESOLVE (`F0`) and RESOLVE_PTR (`F1`) extensions.
//!
//! * [`encode`] — the bytes of every message torsocks sends, byte for byte as spec §4.
//! * [`decode`] — reply parsers. "Not enough bytes yet" is an outcome
//!   ([`decode::Decoded::Incomplete`]) that says how many more bytes are needed, never
//!   an error, so a blocking caller can read exactly the reply and not one byte of the
//!   application's data after it (S-11).
//! * [`Handshake`] — the state machine that strings them together: feed it what the
//!   server sent, get the next [`Action`] (send these bytes, read this many, done).
//! * [`blocking`] — drives a [`Handshake`] over any `Read + Write` stream.
//! * [`Status`] — a reply's REP byte, named for both sides.
//! * [`server`] — the server side, sans-IO as well: the sandbox's SOCKS port and the
//!   embedded client's front both serve Tor-aware programs with it.
//! * [`Socks5Error`] — every protocol failure, with its errno (§4.6), its lookup
//!   outcome (§4.9) and its log text (§3.1).
//!
//! Why not Arti's `tor-socksproto`? Its client handshake sends IP destinations with
//! ATYP 01/04 where torsocks must always send ATYP 03 (S-8), it folds reply codes into
//! its own error type where torsocks needs the exact REP for errno and log text, it
//! reads no RESOLVE_PTR reply the way S-15 needs (empty name → not found), and it brings
//! six crates into a library that is preloaded into every program. This module is
//! ~600 lines with byte-exact tests of every message and every truncated reply.

pub mod blocking;
pub mod decode;
pub mod encode;
mod error;
mod handshake;
pub mod server;
mod status;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

pub use error::Socks5Error;
pub use handshake::{Action, Handshake};
pub use status::Status;

/// Protocol constants.
pub mod wire {
    /// SOCKS protocol version 5.
    pub const VERSION: u8 = 0x05;
    /// Method: no authentication.
    pub const METHOD_NO_AUTH: u8 = 0x00;
    /// Method: username/password (RFC 1929).
    pub const METHOD_USER_PASS: u8 = 0x02;
    /// Method reply: none of the offered methods is acceptable.
    pub const METHOD_NONE_ACCEPTABLE: u8 = 0xff;
    /// RFC 1929 sub-negotiation version.
    pub const AUTH_VERSION: u8 = 0x01;
    /// Command: CONNECT.
    pub const CMD_CONNECT: u8 = 0x01;
    /// Command: Tor's RESOLVE.
    pub const CMD_RESOLVE: u8 = 0xf0;
    /// Command: Tor's RESOLVE_PTR.
    pub const CMD_RESOLVE_PTR: u8 = 0xf1;
    /// Address type: IPv4.
    pub const ATYP_IPV4: u8 = 0x01;
    /// Address type: domain name.
    pub const ATYP_DOMAIN: u8 = 0x03;
    /// Address type: IPv6.
    pub const ATYP_IPV6: u8 = 0x04;
    /// The dummy port of RESOLVE and RESOLVE_PTR requests (S-12).
    pub const RESOLVE_PORT: u16 = 42;
    /// The longest name or credential a length byte can describe.
    pub const MAX_LEN: usize = 255;
}

/// How the client authenticates (CF-19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Method `00`.
    NoAuth,
    /// Method `02` with these credentials (each at most 255 bytes).
    UserPass {
        /// The username.
        username: Vec<u8>,
        /// The password.
        password: Vec<u8>,
    },
}

impl Auth {
    /// The one method offered in the greeting (S-5).
    pub fn method(&self) -> u8 {
        match self {
            Auth::NoAuth => wire::METHOD_NO_AUTH,
            Auth::UserPass { .. } => wire::METHOD_USER_PASS,
        }
    }
}

/// The SOCKS command of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// CONNECT (`01`).
    Connect,
    /// RESOLVE (`F0`).
    Resolve,
    /// RESOLVE_PTR (`F1`).
    ResolvePtr,
}

/// What to ask Tor for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Open a stream to `host:port`; `host` is sent as a domain name (ATYP 03, S-8).
    Connect {
        /// A host name, or the text of an IP address.
        host: Vec<u8>,
        /// The destination port.
        port: u16,
    },
    /// Resolve a name to an address.
    Resolve {
        /// The name.
        name: Vec<u8>,
    },
    /// Resolve an address to a name.
    ResolvePtr {
        /// The address; IPv4-mapped addresses are sent as IPv4 (RP-3).
        addr: IpAddr,
    },
}

impl Request {
    /// CONNECT to an IP destination, written as spec S-8 says: IPv4 (and IPv4-mapped) as
    /// a dotted quad, IPv6 as `inet_ntop` text without brackets or scope.
    pub fn connect_ip(dest: SocketAddr) -> Request {
        Request::Connect {
            host: ip_host(dest.ip()).into_bytes(),
            port: dest.port(),
        }
    }

    /// The request's command.
    pub fn command(&self) -> Command {
        match self {
            Request::Connect { .. } => Command::Connect,
            Request::Resolve { .. } => Command::Resolve,
            Request::ResolvePtr { .. } => Command::ResolvePtr,
        }
    }
}

/// The host text CONNECT carries for an IP destination (S-8): IPv4 and IPv4-mapped as a
/// dotted quad, IPv6 as `inet_ntop` writes it.
pub fn ip_host(ip: IpAddr) -> String {
    match crate::addr::canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => inet_ntop6(v6),
    }
}

/// Text of an IPv6 address as glibc's `inet_ntop` writes it: like Rust's, except that an
/// IPv4-compatible address (`::a.b.c.d` with a non-zero upper half) keeps the dotted form.
fn inet_ntop6(v6: Ipv6Addr) -> String {
    let s = v6.segments();
    if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
        let [.., a, b, c, d] = v6.octets();
        return format!("::{a}.{b}.{c}.{d}");
    }
    v6.to_string()
}

/// The address in a successful CONNECT reply (the relay's bound address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundAddr {
    /// ATYP 01 or 04.
    Ip(SocketAddr),
    /// ATYP 03.
    Domain(Vec<u8>, u16),
}

/// A successful reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// CONNECT succeeded; the stream now carries the application's bytes.
    Connected(BoundAddr),
    /// RESOLVE answered with this address.
    Resolved(IpAddr),
    /// RESOLVE_PTR answered with this (non-empty) name.
    ResolvedName(Vec<u8>),
}

#[cfg(test)]
mod tests;
