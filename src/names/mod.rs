//! Names: how the sandbox's lookups are answered (through Tor, never by the host's
//! resolver) and how a name the program cannot resolve itself (`.onion`, or any name
//! with `--automap`) still reaches Tor.
//!
//! * [`dns`] — the DNS server every query of the sandbox reaches.
//! * [`vpool`] — virtual addresses that stand for names, bounded.

pub(crate) mod dns;
pub(crate) mod vpool;
