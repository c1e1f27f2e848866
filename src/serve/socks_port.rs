//! The sandbox's own SOCKS port: `127.0.0.1:9050` and `[::1]:9050` inside the sandbox
//! answer SOCKS5 (CONNECT by name or address, RESOLVE, RESOLVE_PTR, with or without
//! credentials), so Tor-aware programs can hand names to Tor themselves (curl's
//! `socks5h://`, which .onion names need with curl 8.1 and later).
//!
//! The listening sockets are created by the sandbox's PID 1 inside its network
//! namespace and handed to the launcher ([`crate::ns`]); the program cannot close or
//! replace them. Each client is served here, in the launcher: the exchange by the
//! sans-IO [`torsocks_core::socks5::server`], the request through [`Tor`] with the run's isolation (a client's
//! own credentials keep it apart from other clients), then bytes both ways. Clients
//! are capped (`--max-connections`), and an exchange that does not complete within
//! [`super::handshake::HANDSHAKE_DEADLINE`] is dropped.

use std::net::IpAddr;
use std::rc::Rc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use torsocks_core::resolve::LookupError;

use crate::names::vpool::VirtualPool;
use crate::serve::accept;
use crate::serve::handshake::handshake;
use crate::serve::slots::Slots;
use crate::tor::stream::TorStream;
use crate::tor::{self, Tor};
use torsocks_core::socks5::server::{Ask, Outcome, Server};
use torsocks_core::socks5::Status;

/// What serving needs.
#[derive(Clone)]
pub(crate) struct Context {
    /// Tor.
    pub tor: Rc<Tor>,
    /// The virtual addresses the sandbox's DNS gave out (a client may CONNECT to one).
    pub pool: Rc<VirtualPool>,
    /// Clients served at once.
    pub slots: Slots,
    /// Report refusals on stderr.
    pub debug: bool,
}

/// Serves clients on `listener` until the session ends.
pub(crate) async fn serve(listener: TcpListener, context: Context) {
    let slots = context.slots.clone();
    accept::serve(listener, slots, move |stream| {
        let context = context.clone();
        async move { client(stream, &context).await }
    })
    .await;
}

/// One client: the exchange, the request, then the relay.
async fn client(mut stream: TcpStream, context: &Context) {
    let Some((server, ask)) = handshake(&mut stream).await else {
        return;
    };
    let client = Client {
        auth: server.client_auth().cloned(),
        server,
        stream,
    };
    match ask {
        Ask::Connect { host, port } => connect(client, host, port, context).await,
        Ask::Resolve(name) => {
            let name = String::from_utf8_lossy(&name).into_owned();
            let outcome = match name.parse::<IpAddr>() {
                Ok(ip) => Outcome::Resolved(ip),
                Err(_) => match context.tor.resolve_as(&name, client.auth.as_ref()).await {
                    Ok(ip) => Outcome::Resolved(ip),
                    Err(e) => lookup_failed(e),
                },
            };
            client.answer(&outcome).await;
        }
        Ask::ResolvePtr(ip) => {
            let outcome = match context.pool.name_of(ip) {
                Some(name) => Outcome::Named(name.into_bytes()),
                None => match context.tor.resolve_ptr_as(ip, client.auth.as_ref()).await {
                    Ok(name) => Outcome::Named(name.into_bytes()),
                    Err(e) => lookup_failed(e),
                },
            };
            client.answer(&outcome).await;
        }
    }
}

/// A client whose request is complete.
struct Client {
    stream: TcpStream,
    server: Server,
    /// The client's own credentials, if it gave any (its isolation from other clients).
    auth: Option<torsocks_core::socks5::Auth>,
}

impl Client {
    /// Sends the reply for `outcome`.
    async fn answer(mut self, outcome: &Outcome) {
        let _ = self.stream.write_all(&self.server.reply(outcome)).await;
    }
}

/// CONNECT: Tor's stream to `host:port`, then bytes both ways; or Tor's refusal.
async fn connect(mut client: Client, host: Vec<u8>, port: u16, context: &Context) {
    // A virtual address the sandbox's DNS gave out stands for its name, held (not
    // recycled) for as long as the connection lasts, as the stack's flows do.
    let (host, _lease) = match std::str::from_utf8(&host)
        .ok()
        .and_then(|h| h.parse::<IpAddr>().ok())
        .and_then(|ip| context.pool.lease(ip))
    {
        Some((name, lease)) => (name.into_bytes(), Some(lease)),
        None => (host, None),
    };
    let tor = &context.tor;
    // A client that leaves while Tor builds the stream is not waited for: its slot and
    // the dial are given up at once.
    let dialed = tokio::select! {
        dialed = tor.connect_as(host.clone(), port, client.auth.as_ref()) => dialed,
        () = gone(&client.stream) => return,
    };
    match dialed {
        Ok(upstream) => {
            let reply = client.server.reply(&Outcome::Connected);
            if client.stream.write_all(&reply).await.is_ok() {
                let rest = client.server.take_rest();
                relay(client.stream, upstream, rest, tor).await;
            }
        }
        Err(e) => {
            if context.debug {
                eprintln!(
                    "torsocks-ns: SOCKS port: connection to {}:{port} refused: {}",
                    String::from_utf8_lossy(&host),
                    tor::describe(&e)
                );
            }
            let status = e.reply_status().unwrap_or(Status::GeneralFailure);
            client.answer(&Outcome::Failed(status)).await;
        }
    }
}

/// Resolves when the client has closed its side (end of stream or an error) before
/// sending anything more; pends forever once it has sent data (early data, kept for the
/// stream), so that only a client that left ends the wait.
async fn gone(stream: &TcpStream) {
    let mut byte = [0u8; 1];
    if let Ok(1..) = stream.peek(&mut byte).await {
        std::future::pending::<()>().await;
    }
}

/// The reply code for a failed lookup (as Tor's own SOCKS port answers).
fn lookup_failed(e: LookupError) -> Outcome {
    Outcome::Failed(match e {
        LookupError::NotFound | LookupError::NoData => Status::HostUnreachable,
        LookupError::TryAgain => Status::TtlExpired,
        _ => Status::GeneralFailure,
    })
}

/// Bytes both ways until both ends are done. A Tor stream that breaks (or a Tor that
/// dies) resets the client: a truncated transfer must never look complete.
async fn relay(client: TcpStream, upstream: TorStream, early: Vec<u8>, tor: &Tor) {
    let (mut client_r, mut client_w) = client.into_split();
    let (mut tor_r, mut tor_w) = upstream.into_split();
    let up = async {
        if !early.is_empty() && tor_w.write_all(&early).await.is_err() {
            return false;
        }
        let ok = tokio::io::copy(&mut client_r, &mut tor_w).await.is_ok();
        let _ = tor_w.shutdown().await;
        ok
    };
    let down = async {
        let ok = match tokio::io::copy(&mut tor_r, &mut client_w).await {
            Ok(_) => tor.is_alive().await,
            Err(_) => false,
        };
        if ok {
            let _ = client_w.shutdown().await;
        }
        ok
    };
    let (_, down_ok) = tokio::join!(up, down);
    if !down_ok {
        if let Ok(client) = client_r.reunite(client_w) {
            accept::reset(&client);
        }
    }
}
