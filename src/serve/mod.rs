//! The launcher's listening services: the sandbox's SOCKS port for Tor-aware programs,
//! and the host's published ports relayed into the sandbox. Both run in the session's
//! runtime and hold a slot per client.
//!
//! * [`socks_port`] — the sandbox's own SOCKS port (the protocol is torsocks-core's
//!   sans-IO [`torsocks_core::socks5::server`]).
//! * [`publish`] — published ports: host connections relayed into the sandbox.
//! * [`accept`] — serving a listening socket under a cap.
//! * [`slots`] — caps on what is in flight (DNS queries, SOCKS clients).

pub(crate) mod accept;
pub(crate) mod publish;
pub(crate) mod slots;
pub(crate) mod socks_port;
