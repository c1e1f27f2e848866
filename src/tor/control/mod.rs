//! Tor's ControlPort, for what only it can do: publish the sandbox's servers as onion
//! services (ADD_ONION, DEL_ONION), ask for new circuits (SIGNAL NEWNYM), and tell how
//! far Tor has bootstrapped. Blocking, with deadlines: every exchange is one short
//! command to a Tor on the same machine, over TCP or a Unix socket (Debian's tor
//! listens on [`DEBIAN_SOCKET`] only). The protocol itself is [`proto`].

pub(crate) mod bootstrap;
mod error;
pub(crate) mod onion_service;
pub(crate) mod proto;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::stream::{Blocking, TorStream};
pub(crate) use error::ControlError;
use proto::Reply;
pub(crate) use torsocks_core::config::TorAddr;
use torsocks_core::hex;

/// How long connecting to the ControlPort, and each reply, may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// Where Debian's tor (and its `tor@default` service) listens for control
/// connections: its only ControlPort, for the `debian-tor` group.
pub(crate) const DEBIAN_SOCKET: &str = "/run/tor/control";

/// How to authenticate (§3.5).
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    /// HASHEDPASSWORD.
    Password(Vec<u8>),
    /// COOKIE or SAFECOOKIE with this cookie file.
    Cookie(PathBuf),
    /// What PROTOCOLINFO offers: NULL, else the cookie file it names.
    Auto,
}

/// Where the ControlPort is, and how to authenticate.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Its address.
    pub addr: TorAddr,
    /// The credentials to give.
    pub credentials: Credentials,
}

/// An authenticated control connection.
#[derive(Debug)]
pub(crate) struct Control {
    stream: Blocking,
    replies: proto::Replies,
    addr: TorAddr,
    /// Tor's version, from PROTOCOLINFO.
    pub version: Option<String>,
}

impl Control {
    /// Connects to the ControlPort and authenticates.
    pub(crate) fn connect(endpoint: &Endpoint) -> Result<Control, ControlError> {
        let addr = endpoint.addr.clone();
        let stream =
            Blocking::connect(&addr, DEADLINE).map_err(|source| ControlError::Unreachable {
                addr: addr.clone(),
                source,
            })?;
        let mut control = Control {
            stream,
            replies: proto::Replies::default(),
            addr,
            version: None,
        };
        control.authenticate(&endpoint.credentials)?;
        Ok(control)
    }

    fn authenticate(&mut self, credentials: &Credentials) -> Result<(), ControlError> {
        let info = proto::protocol_info(&self.command("PROTOCOLINFO 1")?);
        self.version = info.version.clone();
        let offers = |m: &str| info.methods.iter().any(|o| o == m);
        let line = match credentials {
            Credentials::Password(password) => {
                format!("AUTHENTICATE {}", proto::quote(password))
            }
            Credentials::Cookie(path) => self.cookie_line(path, offers("SAFECOOKIE"))?,
            Credentials::Auto if offers("NULL") => "AUTHENTICATE".to_string(),
            Credentials::Auto => {
                match (&info.cookie_file, offers("COOKIE") || offers("SAFECOOKIE")) {
                    (Some(path), true) => self.cookie_line(path, offers("SAFECOOKIE"))?,
                    _ => {
                        return Err(ControlError::NeedsPassword {
                            addr: self.addr.clone(),
                            offers: info.methods.clone(),
                        })
                    }
                }
            }
        };
        let reply = self.command(&line)?;
        if reply.ok() {
            Ok(())
        } else {
            Err(ControlError::AuthRefused {
                addr: self.addr.clone(),
                reply: reply.lines.join(" "),
            })
        }
    }

    /// AUTHENTICATE with the cookie, by SAFECOOKIE when Tor offers it (the cookie never
    /// travels, and Tor proves it knows it too).
    fn cookie_line(&mut self, path: &Path, safe: bool) -> Result<String, ControlError> {
        let cookie = std::fs::read(path).map_err(|source| ControlError::Cookie {
            path: path.to_path_buf(),
            source,
        })?;
        if !safe {
            return Ok(format!("AUTHENTICATE {}", hex::encode(&cookie)));
        }
        let mut nonce = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut r| r.read_exact(&mut nonce))
            .map_err(ControlError::Randomness)?;
        let reply = self.command(&format!("AUTHCHALLENGE SAFECOOKIE {}", hex::encode(&nonce)))?;
        let (Some(server_hash), Some(server_nonce)) = (
            reply.value("SERVERHASH").and_then(|h| hex::decode(&h)),
            reply.value("SERVERNONCE").and_then(|h| hex::decode(&h)),
        ) else {
            return Err(ControlError::ChallengeRefused {
                reply: reply.lines.join(" "),
            });
        };
        if proto::safecookie_server_hash(&cookie, &nonce, &server_nonce) != server_hash {
            return Err(ControlError::WrongCookie {
                addr: self.addr.clone(),
                path: path.to_path_buf(),
            });
        }
        let client = proto::safecookie_client_hash(&cookie, &nonce, &server_nonce);
        Ok(format!("AUTHENTICATE {}", hex::encode(&client)))
    }

    /// Sends one command line; the reply, whatever its code.
    pub(crate) fn command(&mut self, line: &str) -> Result<Reply, ControlError> {
        let fail = ControlError::Io;
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .map_err(fail)?;
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(reply) = self.replies.next_reply()? {
                return Ok(reply);
            }
            match self.stream.read(&mut chunk).map_err(fail)? {
                0 => return Err(ControlError::Closed),
                n => self.replies.feed(&chunk[..n]),
            }
        }
    }

    /// A command that must succeed.
    fn expect_ok(&mut self, line: &str, what: &'static str) -> Result<Reply, ControlError> {
        succeeded(self.command(line)?, what)
    }

    /// The connection for the session's runtime (NEWNYM without blocking the loop).
    pub(crate) fn into_async(self) -> std::io::Result<AsyncControl> {
        Ok(AsyncControl {
            stream: self.stream.into_async()?,
            replies: self.replies,
        })
    }

    /// Where Tor's SOCKS ports listen.
    pub(crate) fn socks_listeners(&mut self) -> Result<Vec<TorAddr>, ControlError> {
        let reply = self.expect_ok("GETINFO net/listeners/socks", "the SOCKS listeners")?;
        Ok(proto::socks_listeners(&reply))
    }

    /// Whether this Tor serves SOCKS at `socks` (on that address, on every address at
    /// that port, or on that socket).
    pub(crate) fn serves_socks_at(&mut self, socks: &TorAddr) -> Result<bool, ControlError> {
        Ok(proto::serves(&self.socks_listeners()?, socks, same_socket))
    }

    /// Where Tor's bootstrap is.
    pub(crate) fn bootstrap(&mut self) -> Result<proto::Bootstrap, ControlError> {
        let reply = self.expect_ok("GETINFO status/bootstrap-phase", "bootstrap status")?;
        proto::bootstrap(&reply).ok_or(ControlError::Missing("an unreadable bootstrap status"))
    }

    /// ADD_ONION: an onion service whose `ports` (virtual port, target) Tor serves for
    /// as long as this connection lives. With `key` (`ED25519-V3:...`), that key;
    /// otherwise a new one, returned when `keep_key`. Returns the service id and the
    /// new key.
    pub(crate) fn add_onion(
        &mut self,
        key: Option<&str>,
        keep_key: bool,
        ports: &[(u16, SocketAddr)],
    ) -> Result<(String, Option<String>), ControlError> {
        let mut line = format!("ADD_ONION {}", key.unwrap_or("NEW:ED25519-V3"));
        if key.is_none() && !keep_key {
            line.push_str(" Flags=DiscardPK");
        }
        for (virt, target) in ports {
            line.push_str(&format!(" Port={virt},{target}"));
        }
        let reply = self.expect_ok(&line, "publishing the onion service")?;
        let id = reply.value("ServiceID").ok_or(ControlError::Missing(
            "publishing the onion service: Tor sent no ServiceID",
        ))?;
        Ok((id, reply.value("PrivateKey")))
    }
}

/// Debian's ControlPort ([`DEBIAN_SOCKET`]), for a run that configures none: `None`
/// when there is no such socket; the error when it cannot be used (no access to the
/// socket or its cookie: the message names the `debian-tor` group); the connection
/// when its Tor is the one that serves SOCKS at `socks` (another Tor's ControlPort
/// must never get this run's NEWNYM or onion service).
pub(crate) fn debian(socks: &TorAddr) -> Option<Result<(Endpoint, Control), ControlError>> {
    let path = Path::new(DEBIAN_SOCKET);
    if !path.exists() {
        return None;
    }
    let endpoint = Endpoint {
        addr: TorAddr::Unix(path.to_path_buf()),
        credentials: Credentials::Auto,
    };
    let found = Control::connect(&endpoint).and_then(|mut control| {
        match control.serves_socks_at(socks)? {
            true => Ok((endpoint, control)),
            false => Err(ControlError::OtherTor {
                addr: control.addr.clone(),
                socks: socks.clone(),
            }),
        }
    });
    Some(found)
}

/// Whether two paths name the same socket: the same path, or the same file (a socket
/// reached through a symlink).
fn same_socket(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    a == b
        || match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        }
}

/// `reply` when it says the command succeeded; else what Tor answered to `what`.
fn succeeded(reply: Reply, what: &'static str) -> Result<Reply, ControlError> {
    if reply.ok() {
        Ok(reply)
    } else {
        Err(ControlError::Refused {
            what,
            code: reply.code,
            reply: reply.lines.join(" "),
        })
    }
}

/// The control connection in the session's runtime: each exchange awaits Tor's reply
/// instead of blocking the session's one thread (every connection's traffic) on it.
pub(crate) struct AsyncControl {
    stream: TorStream,
    replies: proto::Replies,
}

impl std::fmt::Debug for AsyncControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncControl").finish_non_exhaustive()
    }
}

impl AsyncControl {
    /// Sends one command line; the reply, whatever its code, within the deadline.
    async fn command(&mut self, line: &str) -> Result<Reply, ControlError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let exchange = async {
            self.stream
                .write_all(format!("{line}\r\n").as_bytes())
                .await
                .map_err(ControlError::Io)?;
            let mut chunk = [0u8; 4096];
            loop {
                if let Some(reply) = self.replies.next_reply()? {
                    return Ok(reply);
                }
                let read = self.stream.read(&mut chunk).await;
                match read.map_err(ControlError::Io)? {
                    0 => return Err(ControlError::Closed),
                    n => self.replies.feed(&chunk[..n]),
                }
            }
        };
        tokio::time::timeout(DEADLINE, exchange)
            .await
            .unwrap_or_else(|_| Err(ControlError::Io(std::io::ErrorKind::TimedOut.into())))
    }

    /// SIGNAL NEWNYM: new circuits for new streams.
    pub(crate) async fn newnym(&mut self) -> Result<(), ControlError> {
        succeeded(self.command("SIGNAL NEWNYM").await?, "NEWNYM").map(|_| ())
    }

    /// DEL_ONION, once the session is over.
    pub(crate) async fn del_onion(&mut self, id: &str) -> Result<(), ControlError> {
        let reply = self.command(&format!("DEL_ONION {id}")).await?;
        succeeded(reply, "removing the onion service").map(|_| ())
    }
}
