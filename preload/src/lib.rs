//! # libtorsocks.so
//!
//! The LD_PRELOAD half of torsocks-rs. Loaded into a program by the `torsocks` wrapper,
//! it interposes the C library's socket and resolver calls and sends them through Tor
//! (spec §5). A guided tour:
//!
//! * [`init`] — process initialisation (G-1): logging, the real C symbols,
//!   configuration (fatal errors exit 1 before `main`, CF-3), the onion pool.
//! * [`real`] — the C library's own definitions, found with `dlsym(RTLD_NEXT)`: every
//!   pass-through goes through them, never through our own exported names.
//! * [`guard`] — the thread-local re-entrancy flag: calls torsocks makes itself pass
//!   straight through (G-3).
//! * [`hooks`] — the exported functions, one module per family of calls.
//! * [`tor`] — connecting to Tor and running the SOCKS5 exchange (from
//!   `torsocks-core`) on an application's socket or a fresh one.
//! * [`registry`] — which fds are connected through Tor, and to what (RG).
//! * [`c_addr`], [`errno`], [`location`], [`sockopt`] — C plumbing.
//!
//! Every module that needs `unsafe` says so at its top and explains each block.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod c_addr;
pub mod errno;
pub mod guard;
pub mod hooks;
pub mod init;
pub mod location;
pub mod real;
pub mod registry;
pub mod resolve;
pub mod sockopt;
pub mod tor;
