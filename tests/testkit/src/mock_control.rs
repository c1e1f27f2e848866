//! A mock of Tor's ControlPort that records every command: PROTOCOLINFO,
//! AUTHENTICATE (no authentication, a password, or SAFECOOKIE with a cookie file it
//! writes), GETINFO status/bootstrap-phase (progress scripted by the test), SIGNAL
//! NEWNYM, ADD_ONION, DEL_ONION and GETINFO net/listeners/socks (the SOCKS port it
//! claims, [`MockControl::serving_socks`]). On TCP, or on a Unix socket as Debian's tor. It publishes nothing anywhere: ADD_ONION only
//! answers with a fixed service id, and records the targets it was given.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The service id every ADD_ONION gets.
pub const SERVICE_ID: &str = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid";

/// How clients must authenticate.
#[derive(Debug, Clone)]
pub enum ControlAuth {
    /// Method NULL.
    None,
    /// HASHEDPASSWORD with this password.
    Password(String),
    /// SAFECOOKIE (and COOKIE) with a cookie file the mock writes.
    SafeCookie,
}

#[derive(Debug)]
struct Shared {
    commands: Vec<String>,
    /// Progress values GETINFO reports, one per query; the last repeats.
    bootstrap: Vec<u8>,
    /// NEWNYM is answered only once this is false (a Tor slow to answer).
    newnym_held: bool,
    /// The SOCKS port GETINFO net/listeners/socks names.
    socks: Option<SocketAddr>,
}

/// How long a held NEWNYM waits for its release at most (a test that forgets to
/// release it still ends).
const NEWNYM_HOLD_LIMIT: Duration = Duration::from_secs(30);

/// A running mock ControlPort; stops accepting when dropped.
pub struct MockControl {
    addr: SocketAddr,
    socket: Option<PathBuf>,
    cookie: Option<PathBuf>,
    shared: Arc<Mutex<Shared>>,
    _dir: Option<PathBuf>,
}

impl MockControl {
    /// Starts on 127.0.0.1 with an ephemeral port; `bootstrap` is the progress each
    /// status query reports in turn (the last one repeats).
    pub fn start(auth: ControlAuth, bootstrap: Vec<u8>) -> std::io::Result<MockControl> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let incoming = std::iter::from_fn(move || {
            Some(
                listener
                    .accept()
                    .map(|(s, _)| Box::new(s) as Box<dyn Duplex>),
            )
        });
        MockControl::serve_on(addr, incoming, auth, bootstrap)
    }

    /// Starts on a Unix socket at `path` (removed when the mock is dropped).
    pub fn start_unix(
        path: &Path,
        auth: ControlAuth,
        bootstrap: Vec<u8>,
    ) -> std::io::Result<MockControl> {
        let listener = UnixListener::bind(path)?;
        // Only the cookie's name and the socket's need telling apart.
        let addr = SocketAddr::from(([127, 0, 0, 1], std::process::id() as u16));
        let incoming = std::iter::from_fn(move || {
            Some(
                listener
                    .accept()
                    .map(|(s, _)| Box::new(s) as Box<dyn Duplex>),
            )
        });
        let mut mock = MockControl::serve_on(addr, incoming, auth, bootstrap)?;
        mock.socket = Some(path.to_path_buf());
        Ok(mock)
    }

    fn serve_on(
        addr: SocketAddr,
        incoming: impl Iterator<Item = std::io::Result<Box<dyn Duplex>>> + Send + 'static,
        auth: ControlAuth,
        bootstrap: Vec<u8>,
    ) -> std::io::Result<MockControl> {
        let mut cookie = None;
        let mut cookie_bytes = Vec::new();
        if let ControlAuth::SafeCookie = auth {
            let dir = std::env::current_dir()?.join("target").join(format!(
                "mock-control-{}-{}",
                std::process::id(),
                addr.port()
            ));
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("control.authcookie");
            cookie_bytes = (0..32u8)
                .map(|i| i.wrapping_mul(37).wrapping_add(addr.port() as u8))
                .collect();
            std::fs::write(&path, &cookie_bytes)?;
            cookie = Some(path);
        }
        let shared = Arc::new(Mutex::new(Shared {
            newnym_held: false,
            socks: None,
            commands: Vec::new(),
            bootstrap: if bootstrap.is_empty() {
                vec![100]
            } else {
                bootstrap
            },
        }));
        let (s, c, a) = (Arc::clone(&shared), cookie.clone(), auth.clone());
        std::thread::spawn(move || {
            for stream in incoming.take(64) {
                let Ok(stream) = stream else { continue };
                let (s, c, a, k) = (Arc::clone(&s), c.clone(), a.clone(), cookie_bytes.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &s, &a, c, &k);
                });
            }
        });
        Ok(MockControl {
            addr,
            socket: None,
            _dir: cookie.as_ref().and_then(|p| p.parent().map(PathBuf::from)),
            cookie,
            shared,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The cookie file (SafeCookie only).
    pub fn cookie_file(&self) -> Option<&PathBuf> {
        self.cookie.as_ref()
    }

    /// Every command line received, in order.
    pub fn commands(&self) -> Vec<String> {
        self.shared.lock().unwrap().commands.clone()
    }

    /// From now on, NEWNYM is answered only after [`MockControl::release_newnym`].
    pub fn hold_newnym(&self) {
        self.shared.lock().unwrap().newnym_held = true;
    }

    /// From now on, GETINFO net/listeners/socks names `socks` (else no SOCKS port).
    pub fn serving_socks(&self, socks: SocketAddr) {
        self.shared.lock().unwrap().socks = Some(socks);
    }

    /// Answers the NEWNYMs held (and every later one at once).
    pub fn release_newnym(&self) {
        self.shared.lock().unwrap().newnym_held = false;
    }
}

impl Drop for MockControl {
    fn drop(&mut self) {
        if let Some(dir) = &self._dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(socket) = &self.socket {
            let _ = std::fs::remove_file(socket);
        }
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// A control-spec QuotedString's content, escapes removed; None if not quoted.
fn unquote(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A control connection, TCP or Unix.
trait Duplex: Read + Write + Send {
    fn try_clone_box(&self) -> std::io::Result<Box<dyn Duplex>>;
}

impl Duplex for std::net::TcpStream {
    fn try_clone_box(&self) -> std::io::Result<Box<dyn Duplex>> {
        Ok(Box::new(self.try_clone()?))
    }
}

impl Duplex for std::os::unix::net::UnixStream {
    fn try_clone_box(&self) -> std::io::Result<Box<dyn Duplex>> {
        Ok(Box::new(self.try_clone()?))
    }
}

fn serve(
    stream: Box<dyn Duplex>,
    shared: &Mutex<Shared>,
    auth: &ControlAuth,
    cookie_file: Option<PathBuf>,
    cookie: &[u8],
) -> std::io::Result<()> {
    let mut out = stream.try_clone_box()?;
    let mut authed = false;
    let mut nonces: Option<(Vec<u8>, Vec<u8>)> = None;
    for line in BufReader::new(stream).lines() {
        let line = line?;
        shared.lock().unwrap().commands.push(line.clone());
        let (verb, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let reply = match verb {
            "PROTOCOLINFO" => {
                let methods = match auth {
                    ControlAuth::None => "NULL".to_string(),
                    ControlAuth::Password(_) => "HASHEDPASSWORD".to_string(),
                    ControlAuth::SafeCookie => format!(
                        "COOKIE,SAFECOOKIE COOKIEFILE=\"{}\"",
                        cookie_file.as_ref().unwrap().display()
                    ),
                };
                format!("250-PROTOCOLINFO 1\r\n250-AUTH METHODS={methods}\r\n250-VERSION Tor=\"0.4.8.0-mock\"\r\n250 OK\r\n")
            }
            "AUTHCHALLENGE" => {
                let client_nonce = unhex(rest.trim_start_matches("SAFECOOKIE "));
                let server_nonce: Vec<u8> = (0..32u8).collect();
                let hash = hmac(
                    b"Tor safe cookie authentication server-to-controller hash",
                    &[cookie, &client_nonce, &server_nonce],
                );
                let r = format!(
                    "250 AUTHCHALLENGE SERVERHASH={} SERVERNONCE={}\r\n",
                    hex(&hash),
                    hex(&server_nonce)
                );
                nonces = Some((client_nonce, server_nonce));
                r
            }
            "AUTHENTICATE" => {
                authed = match auth {
                    ControlAuth::None => true,
                    ControlAuth::Password(p) => unquote(rest).as_deref() == Some(p.as_str()),
                    ControlAuth::SafeCookie => nonces.as_ref().is_some_and(|(c, s)| {
                        unhex(rest)
                            == hmac(
                                b"Tor safe cookie authentication controller-to-server hash",
                                &[cookie, c, s],
                            )
                    }),
                };
                if authed {
                    "250 OK\r\n".into()
                } else {
                    out.write_all(b"515 Authentication failed: Password did not match\r\n")?;
                    return Ok(());
                }
            }
            _ if !authed => {
                out.write_all(b"514 Authentication required.\r\n")?;
                return Ok(());
            }
            "GETINFO" if rest == "status/bootstrap-phase" => {
                let mut s = shared.lock().unwrap();
                let progress = if s.bootstrap.len() > 1 {
                    s.bootstrap.remove(0)
                } else {
                    s.bootstrap[0]
                };
                format!(
                    "250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS={progress} TAG=t SUMMARY=\"Phase {progress}\"\r\n250 OK\r\n"
                )
            }
            "GETINFO" if rest == "net/listeners/socks" => {
                let socks = shared.lock().unwrap().socks;
                let list = socks.map(|s| format!("\"{s}\"")).unwrap_or_default();
                format!("250-net/listeners/socks={list}\r\n250 OK\r\n")
            }
            "SIGNAL" if rest == "NEWNYM" => {
                let held = || shared.lock().unwrap().newnym_held;
                crate::wait::until(NEWNYM_HOLD_LIMIT, || !held());
                "250 OK\r\n".into()
            }
            "ADD_ONION" => {
                let mut r = format!("250-ServiceID={SERVICE_ID}\r\n");
                if rest.starts_with("NEW:") && !rest.contains("DiscardPK") {
                    r.push_str("250-PrivateKey=ED25519-V3:bW9jayBrZXk=\r\n");
                }
                r + "250 OK\r\n"
            }
            "DEL_ONION" => "250 OK\r\n".into(),
            _ => "510 Unrecognized command\r\n".into(),
        };
        out.write_all(reply.as_bytes())?;
    }
    Ok(())
}
