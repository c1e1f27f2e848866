//! # torsocks-core
//!
//! The part of torsocks-rs that both modes share. It has no async runtime and no
//! dependency beyond `libc`, so the LD_PRELOAD library can use it from inside any host
//! program, and the `torsocks-ns` launcher can use it from tokio.
//!
//! A guided tour, in the order a request flows through the modules:
//!
//! 1. [`config`] — where Tor is and how to talk to it: `torsocks.conf` parsing
//!    ([`config::parse`]), the `TORSOCKS_*` environment overrides ([`config::env`]),
//!    secure mode, and the cross-checks of spec §2. [`config::load`] ties them together.
//!    Errors are typed ([`config::ConfigError`]) and carry where the bad value came from.
//! 2. [`log`] — the torsocks log line (spec §3): levels 1–5, optional time prefix, a
//!    file or stderr, one `write(2)` per line, errno preserved.
//! 3. [`socks5`] — a sans-IO SOCKS5 client (and its server side, for the launcher): encoders for every message torsocks sends
//!    (greeting, RFC 1929 authentication, CONNECT, Tor's RESOLVE and RESOLVE_PTR),
//!    decoders that say exactly how many more bytes they need, a [`socks5::Handshake`]
//!    state machine that drives them, and the mapping of failures to errno values and
//!    lookup outcomes (spec §4).
//! 4. [`onion`] — the onion address pool (spec §6): `.onion` names ⇄ "cookie" IPv4
//!    addresses, case-insensitive, bounded, thread-safe.
//! 5. [`resolve`] — lookup outcomes ([`resolve::LookupError`]) and their mapping to
//!    h_errno, `*_r` return values and getaddrinfo codes (spec §4.9).
//! 6. [`addr`] — address classification shared by every caller: localhost, ANY,
//!    IPv4-mapped, and the C library's `inet_aton` number syntax.
//! 7. [`dns`] — the DNS messages torsocks synthesizes for the `res_*` functions
//!    (question parsing, responses, reverse names), without sending any.
//! 8. [`hex`] — hex text of bytes (Tor's control protocol, isolation names).
//!
//! Nothing here performs network I/O; the callers own their sockets.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod config;
pub mod dns;
pub mod hex;
pub mod log;
pub mod onion;
pub mod resolve;
pub mod socks5;

/// The version string shown by `--version` and in usage texts (spec W-3, W-8).
pub const VERSION_LINE: &str = concat!("torsocks-rs ", env!("CARGO_PKG_VERSION"));

/// A deterministic pseudo-random sequence (xorshift64) for the randomized tests: the
/// same inputs on every run, so a failure can be replayed.
#[cfg(test)]
pub(crate) fn test_rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
