//! Is Tor's SOCKS port there, and is it Tor? A connect (TCP or a Unix socket) and a
//! SOCKS5 greeting, with a timeout; for `--check`, Tor's own ways of telling itself
//! apart.

use std::io::{Read, Write};
use std::time::Duration;

use super::stream::{Blocking, TorAddr};

use torsocks_core::socks5::blocking::exchange;
use torsocks_core::socks5::{decode, wire, Auth, Handshake, Reply, Request};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Why Tor's SOCKS port does not answer as Tor's does. The Display text names the
/// endpoint and says what to check.
#[derive(Debug)]
pub(crate) enum PreflightError {
    /// Nothing accepts connections there.
    Unreachable {
        /// The configured SOCKS port.
        endpoint: TorAddr,
        /// Why the connection failed.
        source: std::io::Error,
    },
    /// Something answers, but not SOCKS5.
    NotSocks {
        /// The configured SOCKS port.
        endpoint: TorAddr,
        /// What went wrong with the greeting.
        detail: String,
    },
    /// A SOCKS server that does not behave as Tor (`--check`).
    NotTor(String),
}

impl std::fmt::Display for PreflightError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PreflightError::Unreachable { endpoint, source } => {
                write!(f, "cannot reach Tor's SOCKS port at {endpoint}: {source}. ")?;
                match (endpoint, source.kind()) {
                    (TorAddr::Unix(_), std::io::ErrorKind::PermissionDenied) => f.write_str(
                        "Join the group that may use it (Debian's tor: debian-tor, with \
                         `sudo adduser $USER debian-tor`, then log in again), or use Tor's \
                         TCP SocksPort.",
                    ),
                    _ => f.write_str(
                        "Is tor running? Start it (e.g. `systemctl start tor`) or point \
                         TorAddress/TorPort or TorSocket (or -a/-P) at its SocksPort.",
                    ),
                }
            }
            PreflightError::NotSocks { endpoint, detail } => {
                write!(
                    f,
                    "{endpoint} does not speak SOCKS5 ({detail}); is this Tor's SocksPort?"
                )
            }
            PreflightError::NotTor(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for PreflightError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PreflightError::Unreachable { source, .. } => Some(source),
            PreflightError::NotSocks { .. } | PreflightError::NotTor(_) => None,
        }
    }
}

/// Ok when `endpoint` accepts a connection and answers a SOCKS5 greeting.
pub(crate) fn socks_port_answers(endpoint: &TorAddr) -> Result<Answered, PreflightError> {
    let mut stream =
        Blocking::connect(endpoint, TIMEOUT).map_err(|source| PreflightError::Unreachable {
            endpoint: endpoint.clone(),
            source,
        })?;
    let not_socks = |detail: String| PreflightError::NotSocks {
        endpoint: endpoint.clone(),
        detail,
    };
    // Both methods, as every later request offers them: a server that only takes
    // username/password is a SOCKS5 server too.
    let offered = [wire::METHOD_NO_AUTH, wire::METHOD_USER_PASS];
    stream
        .write_all(&[wire::VERSION, 2, offered[0], offered[1]])
        .map_err(|e| not_socks(e.to_string()))?;
    let mut reply = [0u8; 2];
    stream
        .read_exact(&mut reply)
        .map_err(|e| not_socks(e.to_string()))?;
    match decode::method_choice(&reply, &offered) {
        Ok(_) => Ok(Answered { method: reply[1] }),
        Err(e) => Err(not_socks(e.to_string())),
    }
}

/// What the SOCKS port said to the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answered {
    /// The method it chose of the two offered.
    method: u8,
}

impl Answered {
    /// Whether it chose as Tor does: offered both, Tor takes username/password (its
    /// stream isolation rests on it; C tor unless `PreferSOCKSNoAuth`, Arti always).
    /// A server that takes no authentication instead (`ssh -D`, microsocks) is not
    /// Tor; one that takes username/password may or may not be.
    #[allow(dead_code)] // (torsocks-inspect, which includes this file, asks `is_tor`)
    pub(crate) fn chose_as_tor(self) -> bool {
        self.method == wire::METHOD_USER_PASS
    }
}

/// Whether the SOCKS server at `endpoint` is Tor, and how that shows: Tor answers an
/// HTTP request on its SOCKS port with "Tor is not an HTTP Proxy"; failing that, a
/// server that answers Tor's RESOLVE extension (for an address literal, which Tor
/// answers without the network) behaves as Tor does.
pub(crate) fn is_tor(endpoint: &TorAddr) -> Result<&'static str, PreflightError> {
    let http = || -> std::io::Result<String> {
        let mut s = Blocking::connect(endpoint, TIMEOUT)?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
        let mut reply = Vec::new();
        let _ = s.take(4096).read_to_end(&mut reply);
        Ok(String::from_utf8_lossy(&reply).into_owned())
    };
    if http().is_ok_and(|r| r.contains("Tor is not an HTTP Proxy")) {
        return Ok("it answers HTTP with \"Tor is not an HTTP Proxy\"");
    }
    let resolve = || -> Result<Reply, Box<dyn std::error::Error>> {
        let mut s = Blocking::connect(endpoint, TIMEOUT)?;
        let request = Request::Resolve {
            name: b"127.0.0.1".to_vec(),
        };
        let handshake = Handshake::new(Auth::NoAuth, request)?;
        Ok(exchange(handshake, &mut s)?)
    };
    match resolve() {
        Ok(Reply::Resolved(_)) => Ok("it answers Tor's RESOLVE (not the HTTP answer Tor gives)"),
        Ok(_) => Err(PreflightError::NotTor(
            "neither Tor's HTTP answer nor its RESOLVE".into(),
        )),
        Err(e) => Err(PreflightError::NotTor(format!(
            "no \"Tor is not an HTTP Proxy\" answer to HTTP, and RESOLVE failed ({e}): a \
             SOCKS server that is not Tor sends traffic out in the clear"
        ))),
    }
}
