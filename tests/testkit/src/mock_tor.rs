//! A mock of Tor's SOCKS port that records every request.
//!
//! It speaks SOCKS5 as Tor does — no-auth or username/password, CONNECT with any
//! address type, RESOLVE (`F0`) and RESOLVE_PTR (`F1`) answered from tables — and can
//! misbehave on demand: any reply code, raw bytes instead of a reply, closing or
//! stalling mid-handshake. CONNECTs are relayed only to loopback or to networks the
//! test allows (its own target host); anything else is refused with REP 02, so the
//! mock can never carry traffic off the machine. Names are looked up only in the
//! mock's own table, never in the system resolver.
//!
//! This is deliberately an independent implementation of the protocol: it shares no
//! code with `torsocks_core::socks5`, so a bug there cannot hide itself here.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::net::Ipv4Net;

/// How long a stalled mock waits before giving up on its own (bounded, never forever).
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// Timeout of the mock's own outbound connection for a relayed CONNECT.
const RELAY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One request as the mock saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The methods offered in the greeting.
    pub methods: Vec<u8>,
    /// RFC 1929 username, when the client authenticated.
    pub username: Option<Vec<u8>>,
    /// RFC 1929 password, when the client authenticated.
    pub password: Option<Vec<u8>>,
    /// The command byte (`01`, `F0`, `F1`), when a request was received.
    pub command: Option<u8>,
    /// The address type of the request.
    pub atyp: Option<u8>,
    /// The destination: a name for ATYP 03, the address text for 01 and 04.
    pub host: Option<String>,
    /// The destination port.
    pub port: Option<u16>,
    /// Every byte the client sent before the mock answered the request (greeting,
    /// authentication, request), for byte-exact assertions.
    pub raw: Vec<u8>,
}

/// How the mock answers the greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// Choose the offered method if acceptable (see [`MockTorBuilder::require_auth`]).
    Normal,
    /// Send these bytes as the method reply, then continue as if the method were chosen.
    Raw(Vec<u8>),
    /// Close the connection right after reading the greeting.
    Close,
    /// Read the greeting, then send nothing until the test ends.
    Stall,
}

/// How the mock answers a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connect {
    /// Connect to the destination (loopback or an allowed network only) and relay.
    Relay,
    /// Answer REP 00 with a bound address of this ATYP (01, 03 or 04), then send
    /// `payload`, then echo everything the client sends.
    Succeed {
        /// ATYP of the bound address in the reply.
        atyp: u8,
        /// Bytes sent right after the reply.
        payload: Vec<u8>,
    },
    /// Answer with this non-zero REP and close.
    Fail(u8),
    /// Send these bytes instead of a reply, then close.
    Raw(Vec<u8>),
    /// Close without replying.
    Close,
    /// Send nothing until the test ends.
    Stall,
    /// Wait `delay` (a slow circuit), answer REP 00, send `conn-N\n` where N counts
    /// the CONNECTs answered so far, then echo.
    Numbered {
        /// How long each CONNECT takes.
        delay: Duration,
    },
    /// Answer REP 00, send `payload`, then end the stream as this says.
    SucceedThen {
        /// Bytes sent right after the reply.
        payload: Vec<u8>,
        /// How the stream ends.
        end: StreamEnd,
    },
}

/// How [`Connect::SucceedThen`] ends a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// A clean end (FIN), the mock still up: the destination closed.
    Close,
    /// A reset (RST): the stream broke.
    Reset,
    /// The mock dies: it stops listening, then closes the stream (FIN), as a killed
    /// Tor's streams end.
    Die,
}

#[derive(Debug, Clone)]
struct Behaviour {
    require_auth: bool,
    no_auth_only: bool,
    accepted_credentials: Option<(Vec<u8>, Vec<u8>)>,
    auth_status: Option<u8>,
    greeting: Greeting,
    connect: Connect,
    resolve_failure: Option<u8>,
    names: HashMap<String, IpAddr>,
    ptrs: HashMap<IpAddr, String>,
    allowed: Vec<Ipv4Net>,
    stall_resolve: bool,
    /// The first N CONNECTs fail with this REP code (a circuit that fails).
    fail_first: Option<(usize, u8)>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            require_auth: false,
            no_auth_only: false,
            accepted_credentials: None,
            auth_status: None,
            greeting: Greeting::Normal,
            connect: Connect::Relay,
            resolve_failure: None,
            stall_resolve: false,
            names: HashMap::new(),
            ptrs: HashMap::new(),
            allowed: Vec::new(),
            fail_first: None,
        }
    }
}

/// Configures a [`MockTor`] before it starts.
#[derive(Debug, Clone, Default)]
pub struct MockTorBuilder {
    bind: Option<SocketAddr>,
    socket_buffers: Option<usize>,
    behaviour: Behaviour,
}

impl MockTorBuilder {
    /// Listen on this address instead of 127.0.0.1 with an ephemeral port.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = Some(addr);
        self
    }

    /// Give every accepted connection socket buffers of `bytes` each way, so that a
    /// stream nobody reads fills after a few KiB rather than after the kernel's
    /// autotuned megabytes (memory benchmarks).
    pub fn socket_buffers(mut self, bytes: usize) -> Self {
        self.socket_buffers = Some(bytes);
        self
    }

    /// Refuse method `00`: only username/password is accepted.
    pub fn require_auth(mut self) -> Self {
        self.behaviour.require_auth = true;
        self
    }

    /// Speak no username/password at all (as a SOCKS server without authentication):
    /// method `00` is chosen when offered, whatever else is.
    pub fn no_auth_only(mut self) -> Self {
        self.behaviour.no_auth_only = true;
        self
    }

    /// Accept only this username and password (others get status 01).
    pub fn credentials(mut self, username: &[u8], password: &[u8]) -> Self {
        self.behaviour.accepted_credentials = Some((username.to_vec(), password.to_vec()));
        self
    }

    /// Answer every authentication with this status byte.
    pub fn auth_status(mut self, status: u8) -> Self {
        self.behaviour.auth_status = Some(status);
        self
    }

    /// How to answer the greeting.
    pub fn greeting(mut self, greeting: Greeting) -> Self {
        self.behaviour.greeting = greeting;
        self
    }

    /// How to answer CONNECT.
    pub fn connect(mut self, connect: Connect) -> Self {
        self.behaviour.connect = connect;
        self
    }

    /// Never answer RESOLVE or RESOLVE_PTR (a Tor stuck on a lookup); CONNECT and the
    /// greeting still work.
    pub fn stall_resolve(mut self) -> Self {
        self.behaviour.stall_resolve = true;
        self
    }

    /// Answer every RESOLVE and RESOLVE_PTR with this non-zero REP.
    pub fn resolve_failure(mut self, code: u8) -> Self {
        self.behaviour.resolve_failure = Some(code);
        self
    }

    /// RESOLVE `name` (case-insensitive) to `addr`; CONNECT to `name` relays to `addr`.
    pub fn name(mut self, name: &str, addr: IpAddr) -> Self {
        self.behaviour.names.insert(name.to_ascii_lowercase(), addr);
        self
    }

    /// RESOLVE_PTR `addr` to `name`.
    pub fn ptr(mut self, addr: IpAddr, name: &str) -> Self {
        self.behaviour.ptrs.insert(addr, name.to_string());
        self
    }

    /// Allow relayed CONNECTs into `net` (the test's own target host).
    /// The first `n` CONNECTs fail with REP `code`; later ones behave as configured.
    pub fn fail_first_connects(mut self, n: usize, code: u8) -> Self {
        self.behaviour.fail_first = Some((n, code));
        self
    }

    pub fn allow_net(mut self, net: Ipv4Net) -> Self {
        self.behaviour.allowed.push(net);
        self
    }

    /// Starts listening.
    pub fn start(self) -> io::Result<MockTor> {
        let bind = self
            .bind
            .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        let listener = TcpListener::bind(bind)?;
        if let Some(bytes) = self.socket_buffers {
            // Accepted sockets inherit the listener's buffer sizes.
            set_socket_buffers(&listener, bytes)?;
        }
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            behaviour: self.behaviour,
            log: Mutex::new(Vec::new()),
            logged: Condvar::new(),
            connections: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            numbered: AtomicUsize::new(0),
            failed_first: AtomicUsize::new(0),
            listener_fd: std::sync::atomic::AtomicI32::new(std::os::fd::AsRawFd::as_raw_fd(
                &listener,
            )),
        });
        let accept_shared = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name(format!("mock-tor {addr}"))
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(MockTor {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }
}

struct Shared {
    behaviour: Behaviour,
    log: Mutex<Vec<Recorded>>,
    logged: Condvar,
    connections: AtomicUsize,
    stopping: AtomicBool,
    /// CONNECTs answered in [`Connect::Numbered`] mode.
    numbered: AtomicUsize,
    /// CONNECTs failed by [`MockTorBuilder::fail_first_connects`].
    failed_first: AtomicUsize,
    /// The listening socket's fd, for [`Shared::die`].
    listener_fd: std::sync::atomic::AtomicI32,
}

impl Shared {
    /// Stops listening at once: later connections are refused, as to a dead Tor.
    #[allow(unsafe_code)]
    fn die(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let fd = self.listener_fd.load(Ordering::SeqCst);
        // SAFETY: shutdown on the listener's fd, which the accept thread keeps open
        // until accept returns; it wakes that accept and refuses new connections.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
    }

    fn record(&self, rec: Recorded) {
        self.log.lock().unwrap().push(rec);
        self.logged.notify_all();
    }
}

/// A running mock Tor SOCKS port. Stops when dropped.
pub struct MockTor {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl MockTor {
    /// A builder with the default behaviour: no-auth, relay, empty tables.
    pub fn builder() -> MockTorBuilder {
        MockTorBuilder::default()
    }

    /// A mock that answers every CONNECT itself with `hello\n` (nothing is relayed).
    pub fn answering() -> MockTor {
        MockTor::builder()
            .connect(Connect::Succeed {
                atyp: 1,
                payload: b"hello\n".to_vec(),
            })
            .start()
            .unwrap()
    }

    /// The requests (CONNECT, RESOLVE, RESOLVE_PTR) seen once there are `n` of them (or
    /// ten seconds passed); the launcher's own probes of the port are left out.
    pub fn asked(&self, n: usize) -> Vec<Recorded> {
        let mut seen = 0;
        let mut asked = Vec::new();
        crate::wait::until(Duration::from_secs(10), || {
            let recs = self.wait_for_requests(seen + 1, Duration::from_millis(200));
            seen = recs.len();
            asked = recs.into_iter().filter(|r| r.command.is_some()).collect();
            asked.len() >= n
        });
        asked
    }

    /// The CONNECTs among [`MockTor::asked`].
    pub fn connects(&self, n: usize) -> Vec<Recorded> {
        let recs = self.asked(n);
        recs.into_iter().filter(|r| r.command == Some(1)).collect()
    }

    /// Starts a mock with the default behaviour.
    pub fn start() -> io::Result<MockTor> {
        Self::builder().start()
    }

    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many CONNECTs [`Connect::Numbered`] has answered.
    pub fn numbered(&self) -> usize {
        self.shared.numbered.load(Ordering::SeqCst)
    }

    /// How many TCP connections the mock has accepted ("SOCKS traffic").
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Every request recorded so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests were recorded (or `timeout` passes), then
    /// returns them all.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut log = self.shared.log.lock().unwrap();
        while log.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            log = self.shared.logged.wait_timeout(log, left).unwrap().0;
        }
        log.clone()
    }
}

impl Drop for MockTor {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with one last connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Makes closing `stream` send RST.
#[allow(unsafe_code)]
fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a valid fd and a pointer to a linger of the given size.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(stream),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name("mock-tor conn".into())
            .spawn(move || {
                let mut rec = Recorded {
                    methods: Vec::new(),
                    username: None,
                    password: None,
                    command: None,
                    atyp: None,
                    host: None,
                    port: None,
                    raw: Vec::new(),
                };
                // A complete request is recorded before it is answered; failed and
                // partial dialogues are recorded when they end: tests assert on both.
                let _ = serve(stream, &shared, &mut rec);
                if rec.command.is_none() {
                    shared.record(rec);
                }
            });
    }
}

/// Reads exactly `n` bytes, recording them.
fn take(stream: &mut TcpStream, rec: &mut Recorded, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf)?;
    rec.raw.extend_from_slice(&buf);
    Ok(buf)
}

fn stall(shared: &Shared) {
    let start = Instant::now();
    while !shared.stopping.load(Ordering::SeqCst) && start.elapsed() < STALL_LIMIT {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn serve(mut stream: TcpStream, shared: &Shared, rec: &mut Recorded) -> io::Result<()> {
    let b = &shared.behaviour;
    stream.set_read_timeout(Some(STALL_LIMIT))?;
    let head = take(&mut stream, rec, 2)?;
    if head[0] != 5 {
        return Ok(());
    }
    rec.methods = take(&mut stream, rec, usize::from(head[1]))?;
    let chosen = match &b.greeting {
        Greeting::Close => return Ok(()),
        Greeting::Stall => {
            stall(shared);
            return Ok(());
        }
        Greeting::Raw(bytes) => {
            stream.write_all(bytes)?;
            bytes.get(1).copied().unwrap_or(0xff)
        }
        Greeting::Normal => {
            let chosen = if b.no_auth_only {
                if rec.methods.contains(&0) {
                    0
                } else {
                    0xff
                }
            } else if rec.methods.contains(&2) {
                2
            } else if rec.methods.contains(&0) && !b.require_auth {
                0
            } else {
                0xff
            };
            stream.write_all(&[5, chosen])?;
            chosen
        }
    };
    if chosen == 0xff {
        return Ok(());
    }
    if chosen == 2 {
        let ver_ulen = take(&mut stream, rec, 2)?;
        let user = take(&mut stream, rec, usize::from(ver_ulen[1]))?;
        let plen = take(&mut stream, rec, 1)?[0];
        let pass = take(&mut stream, rec, usize::from(plen))?;
        let status = b.auth_status.unwrap_or(match &b.accepted_credentials {
            Some((u, p)) if (u, p) != (&user, &pass) => 1,
            _ => 0,
        });
        rec.username = Some(user);
        rec.password = Some(pass);
        stream.write_all(&[1, status])?;
        if status != 0 {
            return Ok(());
        }
    }

    let req = take(&mut stream, rec, 4)?;
    rec.command = Some(req[1]);
    rec.atyp = Some(req[3]);
    let host = match req[3] {
        1 => {
            let a = take(&mut stream, rec, 4)?;
            IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])).to_string()
        }
        4 => {
            let a = take(&mut stream, rec, 16)?;
            let octets: [u8; 16] = a.try_into().expect("16 bytes");
            IpAddr::V6(Ipv6Addr::from(octets)).to_string()
        }
        3 => {
            let n = take(&mut stream, rec, 1)?[0];
            String::from_utf8_lossy(&take(&mut stream, rec, usize::from(n))?).into_owned()
        }
        _ => return Ok(()),
    };
    let port = take(&mut stream, rec, 2)?;
    rec.host = Some(host.clone());
    rec.port = Some(u16::from_be_bytes([port[0], port[1]]));
    let port = rec.port.unwrap_or(0);
    shared.record(rec.clone());

    if b.stall_resolve && matches!(req[1], 0xf0 | 0xf1) {
        stall(shared);
        return Ok(());
    }
    match req[1] {
        0xf0 => resolve(&mut stream, b, &host),
        0xf1 => resolve_ptr(&mut stream, b, &host),
        1 => connect(stream, shared, &host, port),
        _ => stream.write_all(&ipv4_reply(7)),
    }
}

fn resolve(stream: &mut TcpStream, b: &Behaviour, name: &str) -> io::Result<()> {
    if let Some(code) = b.resolve_failure {
        return stream.write_all(&ipv4_reply(code));
    }
    match b.names.get(&name.to_ascii_lowercase()) {
        Some(IpAddr::V4(v4)) => {
            let mut reply = vec![5, 0, 0, 1];
            reply.extend_from_slice(&v4.octets());
            reply.extend_from_slice(&[0, 0]);
            stream.write_all(&reply)
        }
        Some(IpAddr::V6(v6)) => {
            let mut reply = vec![5, 0, 0, 4];
            reply.extend_from_slice(&v6.octets());
            reply.extend_from_slice(&[0, 0]);
            stream.write_all(&reply)
        }
        // Tor answers every failed resolution with REP 04.
        None => stream.write_all(&ipv4_reply(4)),
    }
}

fn resolve_ptr(stream: &mut TcpStream, b: &Behaviour, addr: &str) -> io::Result<()> {
    if let Some(code) = b.resolve_failure {
        return stream.write_all(&ipv4_reply(code));
    }
    let name = addr.parse::<IpAddr>().ok().and_then(|ip| b.ptrs.get(&ip));
    match name {
        Some(name) => {
            let mut reply = vec![5, 0, 0, 3, name.len() as u8];
            reply.extend_from_slice(name.as_bytes());
            reply.extend_from_slice(&[0, 0]);
            stream.write_all(&reply)
        }
        None => stream.write_all(&ipv4_reply(4)),
    }
}

/// A reply with REP `code` and an all-zero IPv4 bound address (as Tor writes them).
fn ipv4_reply(code: u8) -> [u8; 10] {
    [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

fn success_reply(atyp: u8) -> Vec<u8> {
    match atyp {
        4 => {
            let mut r = vec![5, 0, 0, 4];
            r.extend_from_slice(&[0; 18]);
            r
        }
        3 => b"\x05\x00\x00\x03\x09mock.test\x00\x00".to_vec(),
        _ => ipv4_reply(0).to_vec(),
    }
}

fn connect(mut stream: TcpStream, shared: &Shared, host: &str, port: u16) -> io::Result<()> {
    let b = &shared.behaviour;
    if let Some((n, code)) = b.fail_first {
        if shared.failed_first.fetch_add(1, Ordering::SeqCst) < n {
            return stream.write_all(&ipv4_reply(code));
        }
    }
    match &b.connect {
        Connect::Fail(code) => stream.write_all(&ipv4_reply(*code)),
        Connect::Raw(bytes) => stream.write_all(bytes),
        Connect::Close => Ok(()),
        Connect::Stall => {
            stall(shared);
            Ok(())
        }
        Connect::Succeed { atyp, payload } => {
            stream.write_all(&success_reply(*atyp))?;
            stream.write_all(payload)?;
            echo(stream)
        }
        Connect::Numbered { delay } => {
            std::thread::sleep(*delay);
            let n = shared.numbered.fetch_add(1, Ordering::SeqCst) + 1;
            stream.write_all(&success_reply(1))?;
            stream.write_all(format!("conn-{n}\n").as_bytes())?;
            echo(stream)
        }
        Connect::SucceedThen { payload, end } => {
            // No Nagle: the payload must be on the wire before a reset discards it.
            stream.set_nodelay(true)?;
            stream.write_all(&success_reply(1))?;
            stream.write_all(payload)?;
            // A break some time after the data, not within the same instant: a reset
            // that overtakes data still unread discards it in the kernel.
            std::thread::sleep(Duration::from_millis(100));
            match end {
                StreamEnd::Close => stream.shutdown(std::net::Shutdown::Write),
                StreamEnd::Reset => {
                    // SO_LINGER 0: closing sends RST instead of FIN.
                    set_linger_zero(&stream);
                    Ok(())
                }
                StreamEnd::Die => {
                    shared.die();
                    Ok(())
                }
            }
        }
        Connect::Relay => {
            let ip = match host.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => b.names.get(&host.to_ascii_lowercase()).copied(),
            };
            let Some(ip) = ip else {
                return stream.write_all(&ipv4_reply(4));
            };
            if !relay_allowed(b, ip) {
                return stream.write_all(&ipv4_reply(2));
            }
            match TcpStream::connect_timeout(&SocketAddr::new(ip, port), RELAY_CONNECT_TIMEOUT) {
                Ok(upstream) => {
                    stream.write_all(&success_reply(1))?;
                    relay(stream, upstream)
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    stream.write_all(&ipv4_reply(5))
                }
                Err(_) => stream.write_all(&ipv4_reply(4)),
            }
        }
    }
}

/// The network rule: the mock relays only to loopback and to the test's own networks.
fn relay_allowed(b: &Behaviour, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || b.allowed.iter().any(|net| net.contains(v4)),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

#[allow(unsafe_code)]
fn set_socket_buffers(listener: &TcpListener, bytes: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for option in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: a valid socket fd, and a c_int option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(STALL_LIMIT))?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

/// Relays as Tor does: the far side's end reaches the client as a clean end, but the
/// client's half-close ends the stream both ways (Tor sends END at its client's EOF),
/// so that a reply still on its way is lost, as it is through a real Tor.
fn relay(client: TcpStream, upstream: TcpStream) -> io::Result<()> {
    client.set_read_timeout(None)?;
    let (mut c_read, mut u_write) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Both);
        let _ = c_read.shutdown(Shutdown::Both);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}
