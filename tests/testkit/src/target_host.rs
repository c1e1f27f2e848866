//! A target host: a network namespace created by the test, joined to the host by a veth
//! pair, with a private address (10.77.N.2/24, fd77:0:0:N::2/64) and three services:
//! an HTTP server with known files, a TCP echo server, and a UDP sink that records
//! every datagram (so tests can prove that nothing reached the host).
//!
//! The servers run on threads of the test process: a thread enters the namespace with
//! `setns`, binds its sockets there, and serves; a socket stays in the namespace where
//! it was created. Dropping the fixture stops the threads and deletes the namespace
//! (which removes the veth pair), also when the test panics.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::http::{Files, HttpServer};
use crate::net::{ip, Ipv4Net};

/// Port of the HTTP server.
pub const HTTP_PORT: u16 = 80;
/// Port of the TCP echo server.
pub const ECHO_PORT: u16 = 7;
/// Port of the UDP sink.
pub const UDP_PORT: u16 = 9999;

/// The files the HTTP server serves, by path.
pub fn http_files() -> Files {
    let mut files = Files::new();
    files.insert("/", b"torsocks-rs target host\n".to_vec());
    files.insert("/hello.txt", b"hello from the target host\n".to_vec());
    // 1 MiB of a repeating, position-dependent pattern: corruption cannot hide.
    files.insert(
        "/big.bin",
        (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect(),
    );
    files
}

/// A datagram the UDP sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Who sent it.
    pub from: SocketAddr,
    /// Its payload.
    pub payload: Vec<u8>,
}

static FENCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Shared {
    stopping: AtomicBool,
    datagrams: Mutex<Vec<Datagram>>,
}

/// A running target host. Deleted when dropped.
pub struct TargetHost {
    index: u8,
    shared: Arc<Shared>,
    http: Option<HttpServer>,
    threads: Vec<JoinHandle<()>>,
}

impl TargetHost {
    /// Creates the namespace, the veth pair and the servers. Needs root (or
    /// CAP_NET_ADMIN and CAP_SYS_ADMIN) and `ip` from iproute2.
    pub fn start() -> io::Result<TargetHost> {
        let index = claim_namespace()?;
        // From here on, Drop cleans up whatever was made.
        let mut host = TargetHost {
            index,
            shared: Arc::new(Shared {
                stopping: AtomicBool::new(false),
                datagrams: Mutex::new(Vec::new()),
            }),
            http: None,
            threads: Vec::new(),
        };
        host.wire_up()?;
        host.start_servers()?;
        Ok(host)
    }

    /// The namespace's name (`tsrs-N`), for `ip netns exec`.
    pub fn namespace(&self) -> String {
        format!("tsrs-{}", self.index)
    }

    /// The subnet shared by the host and the target.
    pub fn subnet(&self) -> Ipv4Net {
        Ipv4Net::new(Ipv4Addr::new(10, 77, self.index, 0), 24)
    }

    /// The host side of the veth pair.
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.index, 1)
    }

    /// The target's IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.index, 2)
    }

    /// The target's IPv6 address.
    pub fn ipv6(&self) -> Ipv6Addr {
        Ipv6Addr::new(0xfd77, 0, 0, u16::from(self.index), 0, 0, 0, 2)
    }

    /// The HTTP server's address.
    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.ip()), HTTP_PORT)
    }

    /// The echo server's address.
    pub fn echo_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.ip()), ECHO_PORT)
    }

    /// The UDP sink's address.
    pub fn udp_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.ip()), UDP_PORT)
    }

    /// Every HTTP request so far: peer and request path.
    pub fn http_requests(&self) -> Vec<(SocketAddr, String)> {
        self.http
            .as_ref()
            .map(HttpServer::requests)
            .unwrap_or_default()
    }

    /// Every datagram the UDP sink received.
    pub fn datagrams(&self) -> Vec<Datagram> {
        self.shared.datagrams.lock().unwrap().clone()
    }

    /// Forgets the datagrams and HTTP requests received so far.
    pub fn clear(&self) {
        self.shared.datagrams.lock().unwrap().clear();
        if let Some(http) = &self.http {
            http.clear();
        }
    }

    /// Every datagram and HTTP request that reached the target host before now: sends
    /// a fence datagram and a fence request from the host's side and waits (at most
    /// 10 s) until both have arrived. Whatever a finished program sent out earlier
    /// travelled the same veth before the fences, so it is in the lists.
    pub fn received(&self) -> (Vec<Datagram>, Vec<(SocketAddr, String)>) {
        let tag = FENCES.fetch_add(1, Ordering::SeqCst);
        let fence = format!("fence-{}-{tag}", std::process::id());
        let path = format!("/{fence}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        if let Ok(udp) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) {
            let _ = udp.send_to(fence.as_bytes(), self.udp_addr());
        }
        if let Ok(mut tcp) = TcpStream::connect_timeout(&self.http_addr(), Duration::from_secs(5)) {
            let _ = write!(tcp, "GET {path} HTTP/1.0\r\n\r\n");
            let _ = tcp.read_to_end(&mut Vec::new());
        }
        loop {
            let datagrams = self.datagrams();
            let requests = self.http_requests();
            let udp_fenced = datagrams.iter().any(|d| d.payload == fence.as_bytes());
            let http_fenced = requests.iter().any(|(_, p)| *p == path);
            if (udp_fenced && http_fenced) || std::time::Instant::now() > deadline {
                assert!(
                    udp_fenced && http_fenced,
                    "the fences never reached the target host"
                );
                let datagrams = datagrams
                    .into_iter()
                    .filter(|d| !d.payload.starts_with(b"fence-"))
                    .collect();
                let requests = requests
                    .into_iter()
                    .filter(|(_, p)| !p.starts_with("/fence-"))
                    .collect();
                return (datagrams, requests);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn veth(&self, side: char) -> String {
        format!("tsrs{}{}", self.index, side)
    }

    fn wire_up(&mut self) -> io::Result<()> {
        let ns = self.namespace();
        let (host_if, target_if) = (self.veth('h'), self.veth('t'));
        let host_cidr = format!("{}/24", self.host_ip());
        let target_cidr = format!("{}/24", self.ip());
        let host_v6 = format!("fd77:0:0:{:x}::1/64", self.index);
        let target_v6 = format!("{}/64", self.ipv6());
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &target_if, "netns", &ns,
        ])?;
        ip(&["addr", "add", &host_cidr, "dev", &host_if])?;
        ip(&["-6", "addr", "add", &host_v6, "dev", &host_if, "nodad"])?;
        ip(&["link", "set", &host_if, "up"])?;
        ip(&["-n", &ns, "addr", "add", &target_cidr, "dev", &target_if])?;
        ip(&[
            "-n", &ns, "-6", "addr", "add", &target_v6, "dev", &target_if, "nodad",
        ])?;
        ip(&["-n", &ns, "link", "set", &target_if, "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn start_servers(&mut self) -> io::Result<()> {
        let ns_file = File::open(format!("/run/netns/{}", self.namespace()))?;
        // Bind inside the namespace on a scratch thread; the sockets stay there.
        let (http, echo, udp) = std::thread::scope(|s| {
            s.spawn(|| -> io::Result<(TcpListener, TcpListener, UdpSocket)> {
                enter_namespace(&ns_file)?;
                let http = TcpListener::bind((Ipv6Addr::UNSPECIFIED, HTTP_PORT))?;
                let echo = TcpListener::bind((Ipv6Addr::UNSPECIFIED, ECHO_PORT))?;
                let udp = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, UDP_PORT))?;
                Ok((http, echo, udp))
            })
            .join()
            .map_err(|_| io::Error::other("namespace thread panicked"))?
        })?;

        self.http = Some(HttpServer::serve(http, http_files())?);
        let shared = Arc::clone(&self.shared);
        self.threads.push(std::thread::spawn(move || {
            for stream in echo.incoming() {
                if shared.stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    std::thread::spawn(move || serve_echo(stream));
                }
            }
        }));
        let shared = Arc::clone(&self.shared);
        udp.set_read_timeout(Some(Duration::from_millis(100)))?;
        self.threads.push(std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !shared.stopping.load(Ordering::SeqCst) {
                if let Ok((n, from)) = udp.recv_from(&mut buf) {
                    shared.datagrams.lock().unwrap().push(Datagram {
                        from,
                        payload: buf[..n].to_vec(),
                    });
                }
            }
        }));
        Ok(())
    }
}

impl Drop for TargetHost {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loops from the host side, while the veth still exists.
        let http_addr = self.http_addr();
        if let Some(http) = self.http.as_mut() {
            http.stop(http_addr);
        }
        let _ = TcpStream::connect_timeout(&self.echo_addr(), Duration::from_secs(1));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let _ = ip(&["netns", "del", &self.namespace()]);
        let _ = ip(&["link", "del", &self.veth('h')]);
    }
}

/// Creates the first free namespace `tsrs-N`; `ip netns add` fails when the name exists,
/// so concurrent tests (and processes) never share one.
fn claim_namespace() -> io::Result<u8> {
    let mut last_error = None;
    for index in 1..=250u8 {
        if std::path::Path::new(&format!("/run/netns/tsrs-{index}")).exists() {
            continue;
        }
        match ip(&["netns", "add", &format!("tsrs-{index}")]) {
            Ok(()) => return Ok(index),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free tsrs-N namespace")))
}

/// Moves the calling thread into the network namespace of `ns_file`.
#[allow(unsafe_code)]
fn enter_namespace(ns_file: &File) -> io::Result<()> {
    // SAFETY: setns takes a valid open fd and a flag; it affects only this thread.
    let rc = unsafe { libc::setns(ns_file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn serve_echo(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 || stream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}
