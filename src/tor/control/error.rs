//! What can go wrong with Tor's ControlPort: the user's sentence in `Display`, the
//! system's reason in `source()`.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::TorAddr;

/// What Tor sent is not its control protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProtocolError {
    /// A reply longer than any Tor sends.
    TooLong,
    /// A line that is not `CODE` then ` `, `-` or `+` (the line, when it has a code).
    NotControl(Option<String>),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::TooLong => f.write_str("the ControlPort's reply is too long"),
            ProtocolError::NotControl(Some(line)) => {
                write!(f, "not Tor's control protocol: {line:?}")
            }
            ProtocolError::NotControl(None) => f.write_str("not Tor's control protocol"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A failed exchange with the ControlPort.
#[derive(Debug)]
pub(crate) enum ControlError {
    /// Nothing answers at the ControlPort's address.
    Unreachable { addr: TorAddr, source: io::Error },
    /// Reading or writing the connection failed.
    Io(io::Error),
    /// Tor closed the connection.
    Closed,
    /// Tor's answer is not its control protocol.
    Protocol(ProtocolError),
    /// Tor wants a password and none was given.
    NeedsPassword { addr: TorAddr, offers: Vec<String> },
    /// Tor refused the credentials.
    AuthRefused { addr: TorAddr, reply: String },
    /// The cookie file cannot be read.
    Cookie { path: PathBuf, source: io::Error },
    /// No randomness for the SAFECOOKIE nonce.
    Randomness(io::Error),
    /// Tor refused AUTHCHALLENGE.
    ChallengeRefused { reply: String },
    /// Tor does not know the cookie: another Tor's.
    WrongCookie { addr: TorAddr, path: PathBuf },
    /// A command Tor answered with an error.
    Refused {
        what: &'static str,
        code: u16,
        reply: String,
    },
    /// This ControlPort's Tor does not serve the SOCKS port the run uses.
    OtherTor { addr: TorAddr, socks: TorAddr },
    /// A reply without what it must carry.
    Missing(&'static str),
    /// Tor did not finish bootstrapping in time.
    NotBootstrapped {
        limit_secs: u64,
        progress: u8,
        summary: String,
        warning: Option<String>,
    },
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Unreachable { addr, source } => unreachable(f, addr, source),
            ControlError::Io(e) => write!(f, "Tor's ControlPort: {e}"),
            ControlError::Closed => f.write_str("Tor's ControlPort closed the connection"),
            ControlError::Protocol(e) => e.fmt(f),
            ControlError::NeedsPassword { addr, offers } => write!(
                f,
                "Tor's ControlPort at {addr} needs a password (it offers {}): give \
                 --control-password or TorControlPassword",
                offers.join(", ")
            ),
            ControlError::AuthRefused { addr, reply } => write!(
                f,
                "Tor's ControlPort at {addr} refused the authentication: {reply}"
            ),
            ControlError::Cookie { path, source } => write!(
                f,
                "cannot read Tor's control cookie {}: {source} (on Debian, join the \
                 debian-tor group, or use --control-password)",
                path.display()
            ),
            ControlError::Randomness(e) => write!(f, "randomness: {e}"),
            ControlError::ChallengeRefused { reply } => {
                write!(f, "Tor's ControlPort refused AUTHCHALLENGE: {reply}")
            }
            ControlError::WrongCookie { addr, path } => write!(
                f,
                "the ControlPort at {addr} does not know the cookie in {}: not the Tor it \
                 belongs to",
                path.display()
            ),
            ControlError::Refused { what, code, reply } => {
                write!(f, "{what}: Tor answered {code} {reply}")
            }
            ControlError::OtherTor { addr, socks } => write!(
                f,
                "the Tor at {addr} has no SOCKS port at {socks}: it is not the Tor this \
                 run uses; give that Tor's ControlPort with --control"
            ),
            ControlError::Missing(what) => f.write_str(what),
            ControlError::NotBootstrapped {
                limit_secs,
                progress,
                summary,
                warning,
            } => {
                write!(
                    f,
                    "Tor has not bootstrapped within {limit_secs} s: it stopped at \
                     {progress}% ({summary})"
                )?;
                match warning {
                    Some(warning) => write!(f, "; Tor warns: {warning}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Why the ControlPort at `addr` cannot be reached, and what to do about it.
fn unreachable(f: &mut fmt::Formatter<'_>, addr: &TorAddr, source: &io::Error) -> fmt::Result {
    write!(f, "cannot reach Tor's ControlPort at {addr}: {source}")?;
    match (addr, source.kind()) {
        (TorAddr::Unix(_), io::ErrorKind::PermissionDenied) => f.write_str(
            ". Its socket is for Tor's group: on Debian, join the debian-tor group (sudo \
             adduser $USER debian-tor, then log in again), or use a ControlPort on TCP",
        ),
        (TorAddr::Unix(path), _) => write!(
            f,
            ". Enable it in torrc (ControlSocket {}) or point --control / \
             TorControlSocket at Tor's",
            path.display()
        ),
        (TorAddr::Tcp(addr), _) => write!(
            f,
            ". Enable it in torrc (ControlPort {}) or point --control / TorControlPort at it",
            addr.port()
        ),
    }
}

impl std::error::Error for ControlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ControlError::Unreachable { source, .. } | ControlError::Cookie { source, .. } => {
                Some(source)
            }
            ControlError::Io(e) | ControlError::Randomness(e) => Some(e),
            ControlError::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ProtocolError> for ControlError {
    fn from(e: ProtocolError) -> ControlError {
        ControlError::Protocol(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_socket_out_of_reach_names_the_group_that_reaches_it() {
        let denied = ControlError::Unreachable {
            addr: TorAddr::Unix("/run/tor/control".into()),
            source: io::ErrorKind::PermissionDenied.into(),
        };
        assert!(denied.to_string().contains("join the debian-tor group"));
        let absent = ControlError::Unreachable {
            addr: TorAddr::Unix("/run/tor/control".into()),
            source: io::ErrorKind::NotFound.into(),
        };
        assert!(absent
            .to_string()
            .contains("Enable it in torrc (ControlSocket /run/tor/control)"));
        let cookie = ControlError::Cookie {
            path: "/run/tor/control.authcookie".into(),
            source: io::ErrorKind::PermissionDenied.into(),
        };
        assert!(cookie.to_string().contains("join the debian-tor group"));
    }
}
