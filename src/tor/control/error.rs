//! What can go wrong with Tor's ControlPort: the user's sentence in `Display`, the
//! system's reason in `source()`.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    Unreachable { addr: SocketAddr, source: io::Error },
    /// Reading or writing the connection failed.
    Io(io::Error),
    /// Tor closed the connection.
    Closed,
    /// Tor's answer is not its control protocol.
    Protocol(ProtocolError),
    /// Tor wants a password and none was given.
    NeedsPassword {
        addr: SocketAddr,
        offers: Vec<String>,
    },
    /// Tor refused the credentials.
    AuthRefused { addr: SocketAddr, reply: String },
    /// The cookie file cannot be read.
    Cookie { path: PathBuf, source: io::Error },
    /// No randomness for the SAFECOOKIE nonce.
    Randomness(io::Error),
    /// Tor refused AUTHCHALLENGE.
    ChallengeRefused { reply: String },
    /// Tor does not know the cookie: another Tor's.
    WrongCookie { addr: SocketAddr, path: PathBuf },
    /// A command Tor answered with an error.
    Refused {
        what: &'static str,
        code: u16,
        reply: String,
    },
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
            ControlError::Unreachable { addr, source } => write!(
                f,
                "cannot reach Tor's ControlPort at {addr}: {source}. Enable it in torrc \
                 (ControlPort {}) or point --control / TorControlPort at it",
                addr.port()
            ),
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
