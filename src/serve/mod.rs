//! The launcher's listening services: the sandbox's SOCKS port for Tor-aware programs,
//! and the host's published ports relayed into the sandbox. Both run in the session's
//! runtime and hold a slot per client.
//!
//! * [`socks_port`] — the sandbox's own SOCKS port (the protocol is torsocks-core's
//!   sans-IO [`torsocks_core::socks5::server`]).
//! * [`publish`] — published ports: host connections relayed into the sandbox.
//! * [`handshake`] — a SOCKS client's greeting and request, under a deadline (the
//!   embedded client's front uses it too).
//! * [`accept`] — serving a listening socket under a cap.
//! * [`slots`] — caps on what is in flight (DNS queries, SOCKS clients).

pub(crate) mod accept;
pub(crate) mod handshake;
pub(crate) mod publish;
pub(crate) mod slots;
pub(crate) mod socks_port;

use std::os::fd::OwnedFd;
use std::rc::Rc;

use crate::names::vpool::VirtualPool;
use crate::ns::inward::Connector;
use crate::tor::Tor;

/// The listening sockets a run serves, bound before the launcher confines itself.
pub(crate) struct Listeners {
    /// The sandbox's SOCKS port (made inside the sandbox; none with --no-socks-port).
    pub socks: Vec<OwnedFd>,
    /// Published ports and onion services: the host's socket, and the port inside.
    pub published: Vec<(std::net::TcpListener, u16)>,
}

/// Starts serving `listeners` in the session's runtime (its `LocalSet`): SOCKS clients
/// through `tor`, published connections into the sandbox through `connector`, at most
/// `max_clients` at once on the SOCKS port and as many on published ports.
pub(crate) fn start(
    listeners: Listeners,
    tor: Rc<Tor>,
    pool: Rc<VirtualPool>,
    connector: Rc<Connector>,
    max_clients: usize,
    debug: bool,
) {
    let socks = socks_port::Context {
        tor,
        pool,
        slots: slots::Slots::new(max_clients),
        debug,
    };
    let published_slots = slots::Slots::new(max_clients);
    for (listener, port) in listeners.published {
        match accept::listener(listener) {
            Ok(listener) => {
                tokio::task::spawn_local(publish::serve(
                    listener,
                    port,
                    Rc::clone(&connector),
                    published_slots.clone(),
                ));
            }
            Err(e) => eprintln!("torsocks-ns: a published port: {e}"),
        }
    }
    for fd in listeners.socks {
        match accept::listener(std::net::TcpListener::from(fd)) {
            Ok(listener) => {
                tokio::task::spawn_local(socks_port::serve(listener, socks.clone()));
            }
            Err(e) => eprintln!("torsocks-ns: the sandbox's SOCKS port: {e}"),
        }
    }
}
