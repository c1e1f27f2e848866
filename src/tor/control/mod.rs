//! Tor's ControlPort, for what only it can do: publish the sandbox's servers as onion
//! services (ADD_ONION, DEL_ONION), ask for new circuits (SIGNAL NEWNYM), and tell how
//! far Tor has bootstrapped. Blocking, with deadlines: every exchange is one short
//! command to a Tor on the same machine. The protocol itself is [`proto`].

pub(crate) mod bootstrap;
pub(crate) mod onion_service;
pub(crate) mod proto;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::Reply;
use torsocks_core::hex;

/// How long connecting to the ControlPort, and each reply, may take.
const DEADLINE: Duration = Duration::from_secs(10);

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

/// An authenticated control connection.
#[derive(Debug)]
pub(crate) struct Control {
    stream: TcpStream,
    buf: Vec<u8>,
    addr: SocketAddr,
    /// Tor's version, from PROTOCOLINFO.
    pub version: Option<String>,
}

impl Control {
    /// Connects to `addr` and authenticates.
    pub(crate) fn connect(addr: SocketAddr, credentials: &Credentials) -> Result<Control, String> {
        let stream = TcpStream::connect_timeout(&addr, DEADLINE).map_err(|e| {
            format!(
                "cannot reach Tor's ControlPort at {addr}: {e}. Enable it in torrc \
                 (ControlPort {}) or point --control / TorControlPort at it",
                addr.port()
            )
        })?;
        stream
            .set_read_timeout(Some(DEADLINE))
            .and_then(|()| stream.set_write_timeout(Some(DEADLINE)))
            .map_err(|e| e.to_string())?;
        let mut control = Control {
            stream,
            buf: Vec::new(),
            addr,
            version: None,
        };
        control.authenticate(credentials)?;
        Ok(control)
    }

    fn authenticate(&mut self, credentials: &Credentials) -> Result<(), String> {
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
                        return Err(format!(
                            "Tor's ControlPort at {} needs a password (it offers {}): give \
                         --control-password or TorControlPassword",
                            self.addr,
                            info.methods.join(", ")
                        ))
                    }
                }
            }
        };
        let reply = self.command(&line)?;
        if reply.ok() {
            Ok(())
        } else {
            Err(format!(
                "Tor's ControlPort at {} refused the authentication: {}",
                self.addr,
                reply.lines.join(" ")
            ))
        }
    }

    /// AUTHENTICATE with the cookie, by SAFECOOKIE when Tor offers it (the cookie never
    /// travels, and Tor proves it knows it too).
    fn cookie_line(&mut self, path: &Path, safe: bool) -> Result<String, String> {
        let cookie = std::fs::read(path).map_err(|e| {
            format!(
                "cannot read Tor's control cookie {}: {e} (on Debian, join the \
                 debian-tor group, or use --control-password)",
                path.display()
            )
        })?;
        if !safe {
            return Ok(format!("AUTHENTICATE {}", hex::encode(&cookie)));
        }
        let mut nonce = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut r| r.read_exact(&mut nonce))
            .map_err(|e| format!("randomness: {e}"))?;
        let reply = self.command(&format!("AUTHCHALLENGE SAFECOOKIE {}", hex::encode(&nonce)))?;
        let (Some(server_hash), Some(server_nonce)) = (
            reply.value("SERVERHASH").and_then(|h| hex::decode(&h)),
            reply.value("SERVERNONCE").and_then(|h| hex::decode(&h)),
        ) else {
            return Err(format!(
                "Tor's ControlPort refused AUTHCHALLENGE: {}",
                reply.lines.join(" ")
            ));
        };
        if proto::safecookie_server_hash(&cookie, &nonce, &server_nonce) != server_hash {
            return Err(format!(
                "the ControlPort at {} does not know the cookie in {}: not the Tor it \
                 belongs to",
                self.addr,
                path.display()
            ));
        }
        let client = proto::safecookie_client_hash(&cookie, &nonce, &server_nonce);
        Ok(format!("AUTHENTICATE {}", hex::encode(&client)))
    }

    /// Sends one command line; the reply, whatever its code.
    pub(crate) fn command(&mut self, line: &str) -> Result<Reply, String> {
        let fail = |e: std::io::Error| format!("Tor's ControlPort: {e}");
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .map_err(fail)?;
        loop {
            if let Some((reply, used)) = proto::parse_reply(&self.buf)? {
                self.buf.drain(..used);
                // Asynchronous events (650) are never asked for; skip any anyway.
                if reply.code == 650 {
                    continue;
                }
                return Ok(reply);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).map_err(fail)?;
            if n == 0 {
                return Err("Tor's ControlPort closed the connection".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A command that must succeed.
    fn expect_ok(&mut self, line: &str, what: &str) -> Result<Reply, String> {
        let reply = self.command(line)?;
        if reply.ok() {
            Ok(reply)
        } else {
            Err(format!(
                "{what}: Tor answered {} {}",
                reply.code,
                reply.lines.join(" ")
            ))
        }
    }

    /// SIGNAL NEWNYM: new circuits for new streams.
    pub(crate) fn newnym(&mut self) -> Result<(), String> {
        self.expect_ok("SIGNAL NEWNYM", "NEWNYM").map(|_| ())
    }

    /// Where Tor's bootstrap is.
    pub(crate) fn bootstrap(&mut self) -> Result<proto::Bootstrap, String> {
        let reply = self.expect_ok("GETINFO status/bootstrap-phase", "bootstrap status")?;
        proto::bootstrap(&reply).ok_or_else(|| "an unreadable bootstrap status".into())
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
    ) -> Result<(String, Option<String>), String> {
        let mut line = format!("ADD_ONION {}", key.unwrap_or("NEW:ED25519-V3"));
        if key.is_none() && !keep_key {
            line.push_str(" Flags=DiscardPK");
        }
        for (virt, target) in ports {
            line.push_str(&format!(" Port={virt},{target}"));
        }
        let reply = self.expect_ok(&line, "publishing the onion service")?;
        let id = reply
            .value("ServiceID")
            .ok_or("publishing the onion service: Tor sent no ServiceID")?;
        Ok((id, reply.value("PrivateKey")))
    }

    /// DEL_ONION.
    pub(crate) fn del_onion(&mut self, id: &str) -> Result<(), String> {
        self.expect_ok(&format!("DEL_ONION {id}"), "removing the onion service")
            .map(|_| ())
    }
}
