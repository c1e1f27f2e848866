//! # netstack
//!
//! The userspace TCP/IP stack of `torsocks-ns`. It will take raw IP packets from the
//! sandbox's TUN device and turn them into TCP flows and DNS queries for the launcher,
//! dropping everything else (see `docs/architecture.md`). It knows nothing of SOCKS or
//! Tor. This first module classifies packets.
//!
//! * [`classify`] — what the stack does with one IP packet: a TCP segment for a flow,
//!   a DNS query, or a drop of a given kind (the counters of `--stats`).

#![deny(unsafe_code)]

pub mod classify;
