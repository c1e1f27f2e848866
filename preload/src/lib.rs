//! # libtorsocks.so
//!
//! The LD_PRELOAD half of torsocks-rs. Loaded into a program by the `torsocks` wrapper,
//! it will interpose the C library's socket and resolver calls and send them through Tor
//! (spec §5). A guided tour:
//!
//! * [`init`] — process initialisation (G-1): the library constructor reads the
//!   configuration and logging settings through `torsocks-core`, and a fatal
//!   configuration error ends the process with status 1 before `main` (CF-3).
//! * [`location`] — where the library itself is installed, so that the configuration
//!   of its own prefix is found after `/etc/tor/torsocks.conf`.
//!
//! Every `unsafe` block lives in a small module that says why it is sound.

#![deny(unsafe_code)]

pub mod init;
pub mod location;
