//! SOCKS5 protocol failures and what each means to a caller (spec §4.6, §4.9, §3.1).

use std::fmt;

use super::{Command, Status};
use crate::resolve::LookupError;

/// A failure of the SOCKS5 dialogue itself (transport errors are the caller's).
///
/// `Display` is the ERROR log text of spec §3.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socks5Error {
    /// The method reply's version byte is not 5 (S-6).
    GreetingVersion(u8),
    /// The server accepted none of the offered methods (`FF`, S-6).
    NoAcceptableMethod,
    /// The server chose a method that was not offered (S-6, D-2).
    MethodMismatch {
        /// The method offered.
        offered: u8,
        /// The method chosen.
        selected: u8,
    },
    /// RFC 1929 authentication failed with this status (S-7).
    AuthFailed {
        /// The status byte.
        status: u8,
    },
    /// A request reply's version byte is not 5 (S-9, S-13).
    ReplyVersion(u8),
    /// The server answered a request with a non-zero REP (§4.6, S-13).
    Rejected {
        /// The request's command.
        command: Command,
        /// What the server answered.
        status: Status,
    },
    /// A reply carried an address type this command does not allow (S-10, S-13, S-15).
    BadAtyp(u8),
    /// RESOLVE_PTR answered with an empty name (S-15).
    EmptyName,
    /// A name over 255 bytes cannot be sent (S-12, N-1).
    NameTooLong,
    /// A username or password over 255 bytes cannot be sent.
    CredentialTooLong,
}

impl Socks5Error {
    /// The errno a failed `connect()` reports (§4.6, S-6, S-7).
    pub fn errno(&self) -> i32 {
        match self {
            Socks5Error::AuthFailed { .. } => libc::EINVAL,
            Socks5Error::Rejected { status, .. } => status.connect_errno(),
            Socks5Error::NameTooLong | Socks5Error::CredentialTooLong => libc::ENAMETOOLONG,
            Socks5Error::GreetingVersion(_)
            | Socks5Error::NoAcceptableMethod
            | Socks5Error::MethodMismatch { .. }
            | Socks5Error::ReplyVersion(_)
            | Socks5Error::BadAtyp(_)
            | Socks5Error::EmptyName => libc::ECONNABORTED,
        }
    }

    /// The outcome of a failed lookup (§4.9).
    pub fn lookup_error(&self) -> LookupError {
        match self {
            Socks5Error::Rejected { status, .. } => status.lookup_error(),
            Socks5Error::EmptyName => LookupError::NotFound,
            _ => LookupError::NoRecovery,
        }
    }
}

impl fmt::Display for Socks5Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Socks5Error::GreetingVersion(_) | Socks5Error::ReplyVersion(_) => {
                f.write_str("Bad SOCKS5 version reply")
            }
            Socks5Error::NoAcceptableMethod => {
                f.write_str("Socks5 server accepted none of the offered authentication methods")
            }
            Socks5Error::MethodMismatch { offered, selected } => write!(
                f,
                "Socks5 server selected auth method {selected} but {offered} was offered"
            ),
            Socks5Error::AuthFailed { status } => write!(
                f,
                "Socks5 username/password authentication failed (status {status})"
            ),
            Socks5Error::Rejected {
                command: Command::Connect,
                status,
            } => match status.connect_failure_text() {
                Some(text) => f.write_str(text),
                None => write!(f, "Socks5 server replied an unknown code {}", status.byte()),
            },
            Socks5Error::Rejected { status, .. } => {
                write!(f, "Unable to resolve. Status reply: {}", status.byte())
            }
            Socks5Error::BadAtyp(atyp) => write!(f, "Bad SOCKS5 atyp reply {atyp}"),
            Socks5Error::EmptyName => f.write_str("Tor answered the reverse lookup with no name"),
            Socks5Error::NameTooLong => f.write_str("Name longer than 255 bytes"),
            Socks5Error::CredentialTooLong => {
                f.write_str("SOCKS5 username or password longer than 255 bytes")
            }
        }
    }
}

impl std::error::Error for Socks5Error {}
