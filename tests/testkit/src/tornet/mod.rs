//! A private Tor network of real `tor` processes on 127.0.0.1.
//!
//! Three directory authorities (also guard, exit and HSDir relays), two exit relays, an
//! onion service in front of a local HTTP server, and a client with a SocksPort and a
//! ControlPort. Every torrc sets `TestingTorNetwork 1` and names only these
//! authorities. The exits resolve names through [`dns_stub`], which knows only the test
//! zone. All tor processes run as Debian's `debian-tor` user, confined by
//! [`confine`] so that nothing but loopback and the test host is routable for them.
//!
//! Needs root, `tor` and `tor-gencert` (Debian package `tor`, its service kept from
//! starting). With 15-second voting the client bootstraps in about 20 seconds. The
//! authorities publish `hsdir_interval=6`, the onion-service time period C tor uses in
//! a testing network with this schedule, so that Arti (which reads the parameter)
//! finds the descriptors tor publishes.

pub mod confine;
pub mod dns_stub;
pub mod torrc;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::HttpServer;
use confine::Confinement;
use dns_stub::DnsStub;
use torrc::{Authority, Role};

/// One command on an unauthenticated ControlPort; the whole reply.
fn control_exchange(port: SocketAddr, command: &str) -> io::Result<String> {
    let mut control = TcpStream::connect(port)?;
    control.set_read_timeout(Some(Duration::from_secs(10)))?;
    control.write_all(format!("AUTHENTICATE\r\n{command}\r\nQUIT\r\n").as_bytes())?;
    let mut reply = String::new();
    control.read_to_string(&mut reply)?;
    Ok(reply)
}

/// The user every tor process runs as.
pub const TOR_USER: &str = "debian-tor";
/// How long to wait for the client to bootstrap.
pub const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(120);

/// What the network should know about the test's world.
#[derive(Debug, Clone, Default)]
pub struct TorNetOptions {
    /// Names the exits' DNS resolves (lowercase) and their addresses.
    pub zone: Vec<(String, Ipv4Addr)>,
    /// Networks beyond loopback the tor processes may reach: (CIDR, device).
    pub allow: Vec<(String, String)>,
}

struct Node {
    nickname: String,
    dir: PathBuf,
    child: Child,
}

/// A running private Tor network. Torn down (by PID) when dropped.
pub struct TorNet {
    dir: PathBuf,
    nodes: Vec<Node>,
    socks: SocketAddr,
    control: SocketAddr,
    onion_control: SocketAddr,
    onion: String,
    onion_http: HttpServer,
    dns: DnsStub,
    allowed: Vec<String>,
    authorities: Vec<Authority>,
    _confinement: Confinement,
}

/// What [`TorNet::peers`] found.
#[derive(Debug, Default)]
pub struct PeerReport {
    /// Connected sockets of the tor processes.
    pub connections: usize,
    /// Those whose peer is not loopback or an allowed network, as `ss` lines.
    pub foreign: Vec<String>,
}

/// The body the onion service's HTTP server returns for `/`.
pub const ONION_BODY: &[u8] = b"hello from the onion service\n";

impl TorNet {
    /// Generates keys and torrcs, confines the tor user, starts every node, and waits
    /// until the client has bootstrapped.
    pub fn start(options: TorNetOptions) -> io::Result<TorNet> {
        let (uid, gid) = user_ids(TOR_USER)?;
        let dir = std::env::temp_dir().join(format!("torsocks-rs-tornet-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;

        // Keys and fingerprints of the authorities.
        let mut authorities = Vec::new();
        let mut roles = Vec::new();
        for i in 0..3 {
            let nickname = format!("auth{i}");
            let node_dir = dir.join(&nickname);
            let (or_port, dir_port) = (free_port()?, free_port()?);
            let v3ident = make_authority_keys(&node_dir, dir_port)?;
            let fingerprint = relay_fingerprint(&node_dir)?;
            authorities.push(Authority {
                nickname: nickname.clone(),
                or_port,
                dir_port,
                v3ident,
                fingerprint,
            });
            roles.push((nickname, Role::Authority { or_port, dir_port }));
        }
        for i in 0..2 {
            roles.push((
                format!("exit{i}"),
                Role::Exit {
                    or_port: free_port()?,
                    dir_port: free_port()?,
                },
            ));
        }
        let onion_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let target_port = onion_listener.local_addr()?.port();
        let onion_http =
            HttpServer::serve(onion_listener, BTreeMap::from([("/", ONION_BODY.to_vec())]))?;
        let onion_control_port = free_port()?;
        roles.push((
            "onion".into(),
            Role::OnionService {
                target_port,
                control_port: onion_control_port,
            },
        ));
        let (socks_port, control_port) = (free_port()?, free_port()?);
        roles.push((
            "client".into(),
            Role::Client {
                socks_port,
                control_port,
            },
        ));

        let zone: HashMap<String, Ipv4Addr> = options
            .zone
            .iter()
            .map(|(n, a)| (n.to_ascii_lowercase(), *a))
            .collect();
        let dns = DnsStub::start(zone)?;
        let resolv_conf = dir.join("resolv.conf");
        fs::write(&resolv_conf, format!("nameserver {}\n", dns.addr()))?;

        let socks_socket = client_socks_socket(&dir);
        let socks_dir = socks_socket.parent().unwrap_or(&dir);
        fs::create_dir_all(socks_dir)?;
        for (nickname, role) in &roles {
            let node_dir = dir.join(nickname);
            fs::create_dir_all(&node_dir)?;
            let text = torrc::render(nickname, role, &node_dir, &authorities, &resolv_conf);
            fs::write(node_dir.join("torrc"), text)?;
        }
        chown_tree(&dir, uid, gid)?;
        // The Unix SocksPort's directories as Debian's /run/tor: the tor group's too.
        for group_dir in [&dir, socks_dir] {
            fs::set_permissions(group_dir, fs::Permissions::from_mode(0o750))?;
        }

        let confinement = Confinement::install(uid, &options.allow)?;
        let mut net = TorNet {
            dir: dir.clone(),
            nodes: Vec::new(),
            socks: SocketAddr::from((Ipv4Addr::LOCALHOST, socks_port)),
            control: SocketAddr::from((Ipv4Addr::LOCALHOST, control_port)),
            onion_control: SocketAddr::from((Ipv4Addr::LOCALHOST, onion_control_port)),
            onion: String::new(),
            onion_http,
            dns,
            allowed: options.allow.iter().map(|(cidr, _)| cidr.clone()).collect(),
            authorities: authorities.clone(),
            _confinement: confinement,
        };
        // The onion service starts last, once the consensus lists every relay: started
        // earlier, it fails to build intro circuits for want of relays and then waits
        // out Tor's five-minute retry period before publishing its descriptor.
        let relays = roles.len() - 2;
        for (nickname, role) in &roles {
            if !matches!(role, Role::OnionService { .. }) {
                net.start_node(nickname, uid, gid)?;
            }
        }
        net.wait_for_log("client", "Bootstrapped 100%", BOOTSTRAP_TIMEOUT)?;
        net.wait_for_consensus(relays, BOOTSTRAP_TIMEOUT)?;
        net.start_node("onion", uid, gid)?;
        net.wait_for_log("onion", "Bootstrapped 100%", BOOTSTRAP_TIMEOUT)?;
        net.onion = fs::read_to_string(dir.join("onion").join("hs").join("hostname"))?
            .trim()
            .to_string();
        Ok(net)
    }

    /// The client's SocksPort.
    pub fn socks_addr(&self) -> SocketAddr {
        self.socks
    }

    /// The client's SocksPort on a Unix socket (for the tor group, as Debian's).
    pub fn socks_socket(&self) -> PathBuf {
        client_socks_socket(&self.dir)
    }

    /// The client's ControlPort (no authentication).
    pub fn control_addr(&self) -> SocketAddr {
        self.control
    }

    /// The onion service's `.onion` host name.
    pub fn onion_hostname(&self) -> &str {
        &self.onion
    }

    /// Requests the onion service's HTTP server received.
    pub fn onion_requests(&self) -> Vec<(SocketAddr, String)> {
        self.onion_http.requests()
    }

    /// Names the exits asked the DNS stub for.
    pub fn dns_queries(&self) -> Vec<String> {
        self.dns.queries()
    }

    /// PIDs of the tor processes.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.child.id()).collect()
    }

    /// Sends `SIGNAL NEWNYM` on the ControlPort: new circuits for new streams.
    pub fn newnym(&self) -> io::Result<()> {
        let reply = control_exchange(self.control, "SIGNAL NEWNYM")?;
        if reply.lines().filter(|l| l.starts_with("250")).count() >= 2 {
            Ok(())
        } else {
            Err(io::Error::other(format!("NEWNYM refused: {reply}")))
        }
    }

    /// The rendezvous circuits the onion service has joined with clients, by circuit
    /// id: the service's view of how many distinct circuits its clients came on.
    pub fn onion_rendezvous_circuits(&self) -> io::Result<Vec<String>> {
        let reply = control_exchange(self.onion_control, "GETINFO circuit-status")?;
        Ok(reply
            .lines()
            .filter(|l| l.contains("PURPOSE=HS_SERVICE_REND") && l.contains("HSSR_JOINED"))
            .filter_map(|l| {
                l.trim_start_matches("250+circuit-status=")
                    .split(' ')
                    .next()
            })
            .map(str::to_string)
            .collect())
    }

    /// Waits until an HTTP GET of `/` on the onion service succeeds through the client
    /// (its descriptor is published), asking for new circuits between attempts.
    pub fn wait_for_onion(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < deadline {
            match socks_http_get(self.socks, &self.onion, 80, "/") {
                Ok(body) if body.ends_with(ONION_BODY) => return Ok(()),
                Ok(body) => last = Some(format!("unexpected body {body:?}")),
                Err(e) => last = Some(e.to_string()),
            }
            let _ = self.newnym();
            std::thread::sleep(Duration::from_secs(2));
        }
        Err(io::Error::other(format!(
            "onion service not reachable after {timeout:?}: {}",
            last.unwrap_or_default()
        )))
    }

    /// The tor processes' connections as `ss` reports them, and those whose peer is
    /// neither loopback nor an allowed network (empty when the network rule held).
    pub fn peers(&self) -> io::Result<PeerReport> {
        let out = Command::new("ss").args(["-tunapH"]).output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let pids: Vec<String> = self.pids().iter().map(|p| format!("pid={p},")).collect();
        let allowed: Vec<crate::net::Ipv4Net> = self
            .allowed
            .iter()
            .filter_map(|cidr| {
                let (a, p) = cidr.split_once('/')?;
                Some(crate::net::Ipv4Net::new(a.parse().ok()?, p.parse().ok()?))
            })
            .collect();
        let mut report = PeerReport::default();
        for line in text.lines().filter(|l| pids.iter().any(|p| l.contains(p))) {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            let Some(users) = tokens.iter().position(|t| t.starts_with("users:")) else {
                continue;
            };
            let Some(peer) = users.checked_sub(1).map(|i| tokens[i]) else {
                continue;
            };
            if peer.ends_with(":*") {
                continue; // a listener or an unconnected socket
            }
            report.connections += 1;
            let host = peer
                .rsplit_once(':')
                .map(|(h, _)| h.trim_matches(|c| c == '[' || c == ']'))
                .unwrap_or(peer);
            let host = host.strip_prefix("::ffff:").unwrap_or(host);
            let ok = match host.parse::<Ipv4Addr>() {
                Ok(v4) => v4.is_loopback() || allowed.iter().any(|n| n.contains(v4)),
                Err(_) => host == "::1",
            };
            if !ok {
                report.foreign.push(line.to_string());
            }
        }
        Ok(report)
    }

    /// The fixture's directory (owned by the tor user, 0700).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An Arti configuration (TOML) for this network alone: its authorities, with
    /// their DirPorts as the only authority addresses, and the authorities' relays as
    /// the only fallback caches, so that an embedded client never learns of the public
    /// network's. Local addresses are allowed (and the test zone's `.test` names may
    /// be resolved), subnet families are off (every relay is on 127.0.0.1) and so are
    /// vanguards (too few relays), as chutney configures Arti; permission checks are off, since
    /// the fixture lives under the world-writable temporary directory.
    pub fn arti_config(&self) -> io::Result<String> {
        let mut v3idents = Vec::new();
        let mut dir_ports = Vec::new();
        let mut fallbacks = Vec::new();
        for a in &self.authorities {
            let ed = fs::read_to_string(self.dir.join(&a.nickname).join("fingerprint-ed25519"))?;
            let ed = ed
                .split_whitespace()
                .nth(1)
                .ok_or_else(|| io::Error::other("empty fingerprint-ed25519"))?
                .to_string();
            v3idents.push(format!("\"{}\"", a.v3ident));
            dir_ports.push(format!("[\"127.0.0.1:{}\"]", a.dir_port));
            fallbacks.push(format!(
                "{{ rsa_identity = \"{}\", ed_identity = \"{ed}\", orports = [\"127.0.0.1:{}\"] }}",
                a.fingerprint, a.or_port
            ));
        }
        let dirs = dir_ports.join(", ");
        Ok(format!(
            "# Generated by the test fixture for its private network.\n\
             [tor_network]\n\
             authorities = {{ v3idents = [{}], uploads = [{dirs}], downloads = [{dirs}], votes = [{dirs}] }}\n\
             fallback_caches = [{}]\n\n\
             [path_rules]\nipv4_subnet_family_prefix = 33\nipv6_subnet_family_prefix = 129\n\n\
             [address_filter]\nallow_local_addrs = true\nallow_resolving_local_addrs = true\n\n\
             [vanguards]\nmode = \"disabled\"\n\n\
             [storage.permissions]\ndangerously_trust_everyone = true\n",
            v3idents.join(", "),
            fallbacks.join(", ")
        ))
    }

    /// The notice log of a node, for diagnostics.
    pub fn log_of(&self, nickname: &str) -> String {
        fs::read_to_string(self.dir.join(nickname).join("notice.log")).unwrap_or_default()
    }

    fn start_node(&mut self, nickname: &str, uid: u32, gid: u32) -> io::Result<()> {
        let node_dir = self.dir.join(nickname);
        let child = Command::new("tor")
            .arg("-f")
            .arg(node_dir.join("torrc"))
            .args(["--defaults-torrc", "/dev/null"])
            .uid(uid)
            .gid(gid)
            .stdin(Stdio::null())
            .stdout(fs::File::create(node_dir.join("stdout.log"))?)
            .stderr(fs::File::create(node_dir.join("stderr.log"))?)
            .spawn()?;
        self.nodes.push(Node {
            nickname: nickname.to_string(),
            dir: node_dir,
            child,
        });
        Ok(())
    }

    /// Waits until the first authority's consensus lists `relays` relays.
    fn wait_for_consensus(&mut self, relays: usize, timeout: Duration) -> io::Result<()> {
        let path = self.dir.join("auth0").join("cached-consensus");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let listed = fs::read_to_string(&path)
                .map(|c| c.lines().filter(|l| l.starts_with("r ")).count())
                .unwrap_or(0);
            if listed >= relays {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(io::Error::other(format!(
            "the consensus never listed {relays} relays"
        )))
    }

    fn wait_for_log(&mut self, nickname: &str, needle: &str, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log_of(nickname).contains(needle) {
                return Ok(());
            }
            for node in &mut self.nodes {
                if let Some(status) = node.child.try_wait()? {
                    let stderr =
                        fs::read_to_string(node.dir.join("stdout.log")).unwrap_or_default();
                    return Err(io::Error::other(format!(
                        "tor node {} exited with {status}: {}",
                        node.nickname,
                        tail(&stderr, 20)
                    )));
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(io::Error::other(format!(
            "{nickname} did not log {needle:?} within {timeout:?}; last lines:\n{}",
            tail(&self.log_of(nickname), 20)
        )))
    }
}

impl Drop for TorNet {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            // By PID: only the processes this fixture started.
            #[allow(unsafe_code)]
            // SAFETY: kill with a PID of our own child and a valid signal.
            unsafe {
                libc::kill(node.child.id() as libc::pid_t, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for node in &mut self.nodes {
            while Instant::now() < deadline {
                if matches!(node.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
        self.onion_http.stop(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            self.onion_http.addr().port(),
        )));
        // Keep the logs of a failed test (or on request) for diagnosis.
        if std::thread::panicking() || std::env::var_os("TORNET_KEEP").is_some() {
            eprintln!("tornet: logs kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A port that is free on 127.0.0.1 right now.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn user_ids(name: &str) -> io::Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == name)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| io::Error::other(format!("user {name} not found (install Debian's tor)")))
}

fn run(cmd: &mut Command, input: &[u8]) -> io::Result<String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("piped").write_all(input)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Creates an authority's v3 keys; returns its v3 identity fingerprint.
fn make_authority_keys(node_dir: &Path, dir_port: u16) -> io::Result<String> {
    let keys = node_dir.join("keys");
    fs::create_dir_all(&keys)?;
    run(
        Command::new("tor-gencert")
            .args(["--create-identity-key", "-m", "12", "-a"])
            .arg(format!("127.0.0.1:{dir_port}"))
            .arg("-i")
            .arg(keys.join("authority_identity_key"))
            .arg("-s")
            .arg(keys.join("authority_signing_key"))
            .arg("-c")
            .arg(keys.join("authority_certificate"))
            .args(["--passphrase-fd", "0"]),
        b"\n",
    )?;
    let cert = fs::read_to_string(keys.join("authority_certificate"))?;
    cert.lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .map(|f| f.trim().to_string())
        .ok_or_else(|| io::Error::other("authority certificate without fingerprint"))
}

/// Creates a relay identity in `node_dir`; returns its fingerprint.
fn relay_fingerprint(node_dir: &Path) -> io::Result<String> {
    run(
        Command::new("tor")
            .args(["--quiet", "--ignore-missing-torrc", "--list-fingerprint"])
            .args(["--orport", "1", "--dirserver"])
            .arg("placeholder 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff")
            .arg("--datadirectory")
            .arg(node_dir),
        b"",
    )?;
    let line = fs::read_to_string(node_dir.join("fingerprint"))?;
    line.split_whitespace()
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| io::Error::other("empty fingerprint file"))
}

/// Where the client's Unix SocksPort is, in the network's directory `net_dir`.
pub(crate) fn client_socks_socket(net_dir: &Path) -> PathBuf {
    net_dir.join("socks").join("socks")
}

/// Gives the whole tree to the tor user; tor insists on private data directories.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    if dir.is_dir() {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        for entry in fs::read_dir(dir)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// A minimal SOCKS5 (no-auth, ATYP 03) HTTP GET, for readiness checks. Independent of
/// the code under test.
pub fn socks_http_get(socks: SocketAddr, host: &str, port: u16, path: &str) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(socks)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(&[5, 1, 0])?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply)?;
    let mut req = vec![5, 1, 0, 3, host.len() as u8];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    if head[1] != 0 {
        return Err(io::Error::other(format!("SOCKS reply code {}", head[1])));
    }
    let rest = match head[3] {
        1 => 6,
        4 => 18,
        _ => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n)?;
            usize::from(n[0]) + 2
        }
    };
    let mut skip = vec![0u8; rest];
    s.read_exact(&mut skip)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut reader = BufReader::new(s);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if !status.contains(" 200 ") {
        return Err(io::Error::other(format!("HTTP status {}", status.trim())));
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    Ok(body)
}
