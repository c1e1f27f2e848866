//! Tor, as the launcher sees it. This module is the one interface every part uses
//! ([`Tor`]): open a stream to a name or an address, resolve a name, resolve an
//! address — over Tor's SOCKS port, driving torsocks-core's SOCKS5 codec on tokio.
//! (tokio-socks was the first choice, but its RESOLVE and RESOLVE_PTR cannot carry the
//! credentials that isolate each run.) Around it:
//!
//! * [`kind`] — which Tor a run uses: the daemon or the embedded client.
//! * [`preflight`] — is Tor's SOCKS port there, and is it Tor.
//! * [`isolation`] — which credentials (and so which circuits) each request gets.
//! * [`this_machine`] — destinations that name this machine, refused before Tor.
//! * [`listening`] — whether Tor's port still listens (sock_diag), for resets.
//! * [`control`] — Tor's ControlPort: bootstrap progress, NEWNYM, onion services.

pub(crate) mod control;
pub(crate) mod isolation;
pub(crate) mod kind;
pub(crate) mod listening;
pub(crate) mod preflight;
pub(crate) mod stream;
pub(crate) mod this_machine;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torsocks_core::resolve::LookupError;
use torsocks_core::socks5::blocking::ExchangeError;
use torsocks_core::socks5::{Action, Auth, Handshake, Reply, Request, Socks5Error, Status};

use isolation::{Isolation, Purpose};
use listening::Probe;
use stream::{TorAddr, TorStream};

/// Opens streams and resolves names through Tor's SOCKS port.
#[derive(Debug)]
pub(crate) struct Tor {
    endpoint: TorAddr,
    /// Which credentials each request carries.
    isolation: RefCell<Isolation>,
    deadlines: Deadlines,
    /// Whether the SOCKS port refused the last attempt (reported once per outage).
    down: Cell<bool>,
    /// Asks the kernel whether a SOCKS port on loopback still listens; `None` for a
    /// SOCKS port elsewhere, or when the kernel offers no sock_diag.
    probe: Option<RefCell<Probe>>,
    /// This host's own names and addresses, refused as destinations.
    this_machine: crate::tor::this_machine::ThisMachine,
    /// CONNECTs tried a second time ([`retry_worth_it`]).
    retries: Cell<u64>,
}

/// A retry needs at least this much of the connect deadline left.
const RETRY_LEAST_TIME: Duration = Duration::from_secs(1);

/// Whether a CONNECT that Tor refused with `status` may succeed on another circuit:
/// a general failure (a circuit destroyed, an exit that failed), TTL expired (Tor's
/// timeout) and host unreachable (an exit's failed lookup). Not a refusal by the
/// destination, an exit policy, or an onion service's own answer (the F-codes).
pub(crate) fn retry_worth_it(status: Status) -> bool {
    matches!(
        status,
        Status::GeneralFailure | Status::TtlExpired | Status::HostUnreachable
    )
}

/// How long a dial plus SOCKS handshake may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// CONNECT (Tor's own SocksTimeout is 120 s).
    pub connect: Duration,
    /// RESOLVE and RESOLVE_PTR.
    pub resolve: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            connect: Duration::from_secs(120),
            resolve: Duration::from_secs(30),
        }
    }
}

impl Deadlines {
    /// These deadlines with the given ones, in seconds, in place of theirs.
    pub(crate) fn overridden(self, connect: Option<u64>, resolve: Option<u64>) -> Deadlines {
        Deadlines {
            connect: connect.map_or(self.connect, Duration::from_secs),
            resolve: resolve.map_or(self.resolve, Duration::from_secs),
        }
    }
}

/// How long the check that Tor is still there may take.
const ALIVE_DEADLINE: Duration = Duration::from_secs(1);

/// Why a stream could not be opened.
#[derive(Debug)]
pub(crate) enum DialError {
    /// The exchange with Tor failed, or Tor refused.
    Exchange(ExchangeError),
    /// The destination names this machine: refused without asking Tor.
    ThisMachine,
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialError::Exchange(e) => e.fmt(f),
            DialError::ThisMachine => f.write_str("the destination names this machine"),
        }
    }
}

impl DialError {
    /// The SOCKS reply code to give a client of the sandbox's SOCKS port: Tor's own
    /// when it refused, TTL expired when it did not answer in time, "not allowed" for
    /// this machine.
    pub(crate) fn reply_status(&self) -> Option<Status> {
        match self {
            DialError::Exchange(ExchangeError::Protocol(Socks5Error::Rejected {
                status, ..
            })) => Some(*status),
            DialError::Exchange(ExchangeError::Recv(e))
                if e.kind() == std::io::ErrorKind::TimedOut =>
            {
                Some(Status::TtlExpired)
            }
            DialError::ThisMachine => Some(Status::NotAllowed),
            DialError::Exchange(_) => None,
        }
    }
}

impl Tor {
    /// Tor at `endpoint`, with credentials chosen by `isolation`.
    pub(crate) fn new(endpoint: TorAddr, isolation: Isolation, deadlines: Deadlines) -> Tor {
        let on_loopback = matches!(&endpoint, TorAddr::Tcp(addr) if addr.ip().is_loopback());
        Tor {
            endpoint,
            isolation: RefCell::new(isolation),
            deadlines,
            down: Cell::new(false),
            probe: on_loopback.then(Probe::new).flatten().map(RefCell::new),
            this_machine: crate::tor::this_machine::ThisMachine::default(),
            retries: Cell::new(0),
        }
    }

    /// How many CONNECTs were tried a second time.
    pub(crate) fn retries(&self) -> u64 {
        self.retries.get()
    }

    /// Refuses this host's own names and addresses too (beyond loopback and
    /// `localhost`), whatever the upstream makes of them.
    pub(crate) fn refusing(mut self, this_machine: crate::tor::this_machine::ThisMachine) -> Tor {
        self.this_machine = this_machine;
        self
    }

    /// New credentials for every request from now on: Tor builds new circuits.
    /// Returns how many new identities there have been.
    pub(crate) fn new_identity(&self) -> u64 {
        let mut isolation = self.isolation.borrow_mut();
        isolation.new_identity();
        isolation.generation()
    }

    /// A stream to `host:port` (a name, or an address's text).
    pub(crate) async fn connect(&self, host: Vec<u8>, port: u16) -> Result<TorStream, DialError> {
        self.connect_as(host, port, None).await
    }

    /// A stream to `host:port` for a client of the sandbox's SOCKS port that sent
    /// credentials of its own (kept apart from other clients').
    pub(crate) async fn connect_as(
        &self,
        host: Vec<u8>,
        port: u16,
        client: Option<&Auth>,
    ) -> Result<TorStream, DialError> {
        if self.this_machine.named_by(&host) {
            return Err(DialError::ThisMachine);
        }
        let purpose = Purpose {
            host: &host,
            port,
            client,
        };
        let auth = self.isolation.borrow_mut().credentials(purpose);
        let started = tokio::time::Instant::now();
        let request = Request::Connect {
            host: host.clone(),
            port,
        };
        let first = self
            .exchange(request.clone(), auth, self.deadlines.connect)
            .await;
        // The program's SYN is answered only once Tor has answered, so a failure that
        // another circuit may not have is retried once, unseen, within the deadline.
        let left = self.deadlines.connect.saturating_sub(started.elapsed());
        let stream = match first {
            Err(ExchangeError::Protocol(Socks5Error::Rejected { status, .. }))
                if retry_worth_it(status) && left >= RETRY_LEAST_TIME =>
            {
                self.retries.set(self.retries.get() + 1);
                let fresh = self.isolation.borrow_mut().credentials_for_retry(purpose);
                self.exchange(request, fresh, left).await
            }
            first => first,
        };
        stream
            .map(|(stream, _)| stream)
            .map_err(DialError::Exchange)
    }

    fn lookup_credentials(&self, host: &[u8], client: Option<&Auth>) -> Auth {
        self.isolation.borrow_mut().credentials(Purpose {
            host,
            port: 0,
            client,
        })
    }

    /// Whether Tor's SOCKS port still accepts connections: tells a Tor that closed a
    /// stream (end of data) from a Tor that died (every stream closed at once). A SOCKS
    /// port on loopback is looked up in the kernel's listening sockets ([`Probe`]),
    /// which costs Tor nothing; otherwise (a Unix socket, an address elsewhere, a
    /// kernel that does not say) a connection is tried.
    pub(crate) async fn is_alive(&self) -> bool {
        let listed = match (&self.probe, &self.endpoint) {
            (Some(probe), TorAddr::Tcp(addr)) => probe.borrow_mut().listening(*addr),
            _ => None,
        };
        let alive = match listed {
            Some(listening) => listening,
            None => matches!(
                tokio::time::timeout(ALIVE_DEADLINE, TorStream::connect(&self.endpoint)).await,
                Ok(Ok(_))
            ),
        };
        self.note(alive);
        alive
    }

    /// Reports a change of Tor's reachability, once per change.
    fn note(&self, reachable: bool) {
        if self.down.get() == reachable {
            self.down.set(!reachable);
            if reachable {
                eprintln!(
                    "torsocks-ns: Tor's SOCKS port at {} answers again",
                    self.endpoint
                );
            } else {
                eprintln!(
                    "torsocks-ns: Tor's SOCKS port at {} stopped answering: open connections \
                     are reset and new ones refused until it is back",
                    self.endpoint
                );
            }
        }
    }

    /// The address of `name` (Tor's RESOLVE).
    pub(crate) async fn resolve(&self, name: &str) -> Result<IpAddr, LookupError> {
        self.resolve_as(name, None).await
    }

    /// [`Tor::resolve`] for a client of the sandbox's SOCKS port.
    pub(crate) async fn resolve_as(
        &self,
        name: &str,
        client: Option<&Auth>,
    ) -> Result<IpAddr, LookupError> {
        let auth = self.lookup_credentials(name.as_bytes(), client);
        let request = Request::Resolve {
            name: name.as_bytes().to_vec(),
        };
        match self.exchange(request, auth, self.deadlines.resolve).await {
            Ok((_, Reply::Resolved(ip))) => Ok(ip),
            Ok(_) => Err(LookupError::NoRecovery),
            Err(e) => Err(e.lookup_error()),
        }
    }

    /// The name of `addr` (Tor's RESOLVE_PTR).
    pub(crate) async fn resolve_ptr(&self, addr: IpAddr) -> Result<String, LookupError> {
        self.resolve_ptr_as(addr, None).await
    }

    /// [`Tor::resolve_ptr`] for a client of the sandbox's SOCKS port.
    pub(crate) async fn resolve_ptr_as(
        &self,
        addr: IpAddr,
        client: Option<&Auth>,
    ) -> Result<String, LookupError> {
        let auth = self.lookup_credentials(torsocks_core::socks5::ip_host(addr).as_bytes(), client);
        match self
            .exchange(Request::ResolvePtr { addr }, auth, self.deadlines.resolve)
            .await
        {
            Ok((_, Reply::ResolvedName(name))) => Ok(String::from_utf8_lossy(&name).into_owned()),
            Ok(_) => Err(LookupError::NoRecovery),
            Err(e) => Err(e.lookup_error()),
        }
    }

    /// Dial and handshake, within `deadline` (on expiry: a receive error TimedOut).
    async fn exchange(
        &self,
        request: Request,
        auth: Auth,
        deadline: Duration,
    ) -> Result<(TorStream, Reply), ExchangeError> {
        // Offering "no authentication" too serves SOCKS servers without it; Tor picks
        // the credentials, so isolation holds.
        let handshake = Handshake::offering_no_auth_too(auth, request)?;
        let attempt = async {
            let dialed = TorStream::connect(&self.endpoint).await;
            self.note(dialed.is_ok());
            let mut stream = dialed.map_err(ExchangeError::Send)?;
            let reply = drive(handshake, &mut stream).await?;
            Ok((stream, reply))
        };
        match tokio::time::timeout(deadline, attempt).await {
            Ok(result) => result,
            Err(_) => Err(ExchangeError::Recv(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from Tor within {} s", deadline.as_secs()),
            ))),
        }
    }
}

/// Runs a handshake over an async stream, reading exactly the replies.
async fn drive(mut handshake: Handshake, stream: &mut TorStream) -> Result<Reply, ExchangeError> {
    let mut input = Vec::new();
    loop {
        match handshake.step(&input)? {
            Action::Send(bytes) => {
                input.clear();
                stream
                    .write_all(&bytes)
                    .await
                    .map_err(ExchangeError::Send)?;
            }
            Action::Recv(n) => {
                input.resize(n, 0);
                let got = stream.read(&mut input).await.map_err(ExchangeError::Recv)?;
                if got == 0 {
                    return Err(ExchangeError::Eof);
                }
                input.truncate(got);
            }
            Action::Done(reply) => return Ok(reply),
        }
    }
}

/// A short reason for logs and statistics.
pub(crate) fn describe(e: &DialError) -> String {
    match e {
        DialError::Exchange(ExchangeError::Protocol(Socks5Error::Rejected { status, .. })) => {
            format!("Tor refused (REP {})", status.byte())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SOCKS port that accepts connections (the kernel's backlog) and never answers.
    fn silent_tor() -> (std::net::TcpListener, std::net::SocketAddr) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    fn no_isolation() -> Isolation {
        Isolation::new(crate::tor::isolation::Mode::None, None, "t".into())
    }

    #[test]
    fn only_failures_another_circuit_may_not_have_are_retried() {
        for status in [
            Status::GeneralFailure,
            Status::TtlExpired,
            Status::HostUnreachable,
        ] {
            assert!(retry_worth_it(status), "{status:?}");
        }
        for status in [
            Status::ConnectionRefused,
            Status::NotAllowed,
            Status::NetworkUnreachable,
            Status::Unassigned(0xf0),
            Status::Unassigned(0xf6),
        ] {
            assert!(!retry_worth_it(status), "{status:?}");
        }
    }

    #[test]
    fn options_override_the_default_deadlines() {
        let d = Deadlines::default().overridden(Some(5), None);
        assert_eq!(
            (d.connect, d.resolve),
            (Duration::from_secs(5), Duration::from_secs(30))
        );
    }

    // The clock is simulated (paused, advancing when nothing else can run): the
    // deadlines below pass in no real time.
    #[tokio::test(start_paused = true)]
    async fn a_silent_tor_meets_the_lookup_deadline() {
        let (_listener, addr) = silent_tor();
        let tor = Tor::new(TorAddr::Tcp(addr), no_isolation(), Deadlines::default());
        let started = tokio::time::Instant::now();
        assert_eq!(
            tor.resolve("stalled.test").await,
            Err(LookupError::TryAgain)
        );
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        assert!(tor.resolve_ptr("192.0.2.1".parse().unwrap()).await.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_tor_meets_the_connect_deadline() {
        let (_listener, addr) = silent_tor();
        let tor = Tor::new(TorAddr::Tcp(addr), no_isolation(), Deadlines::default());
        let started = tokio::time::Instant::now();
        let err = tor.connect(b"example.test".to_vec(), 80).await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(120));
        assert!(
            describe(&err).contains("no answer from Tor within 120 s"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_gone_tor_is_noticed() {
        let (listener, addr) = silent_tor();
        let tor = Tor::new(TorAddr::Tcp(addr), no_isolation(), Deadlines::default());
        assert!(tor.is_alive().await);
        assert!(!tor.down.get());
        drop(listener);
        assert!(!tor.is_alive().await);
        assert!(tor.down.get(), "noted as down (reported once)");
        assert!(
            tor.connect(b"x.test".to_vec(), 80).await.is_err(),
            "refused at once"
        );
    }
}
