//! The REP byte of a SOCKS5 reply (RFC 1928 §6), named once for both sides: the client
//! turns it into an errno or a lookup outcome, a server (the sandbox's SOCKS port, the
//! embedded client's front) sends it.

use crate::resolve::LookupError;

/// The outcome a SOCKS5 server reports for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `00`: succeeded.
    Succeeded,
    /// `01`: general SOCKS server failure.
    GeneralFailure,
    /// `02`: connection not allowed by ruleset.
    NotAllowed,
    /// `03`: network unreachable.
    NetworkUnreachable,
    /// `04`: host unreachable (Tor's answer to a failed lookup).
    HostUnreachable,
    /// `05`: connection refused (by the destination, as the exit saw it).
    ConnectionRefused,
    /// `06`: TTL expired (Tor's answer to a timeout).
    TtlExpired,
    /// `07`: command not supported.
    CommandNotSupported,
    /// `08`: address type not supported.
    AddressTypeNotSupported,
    /// Any other byte: unassigned by RFC 1928.
    Unassigned(u8),
}

impl Status {
    /// The status a REP byte carries.
    pub fn from_byte(byte: u8) -> Status {
        match byte {
            0x00 => Status::Succeeded,
            0x01 => Status::GeneralFailure,
            0x02 => Status::NotAllowed,
            0x03 => Status::NetworkUnreachable,
            0x04 => Status::HostUnreachable,
            0x05 => Status::ConnectionRefused,
            0x06 => Status::TtlExpired,
            0x07 => Status::CommandNotSupported,
            0x08 => Status::AddressTypeNotSupported,
            other => Status::Unassigned(other),
        }
    }

    /// The REP byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Status::Succeeded => 0x00,
            Status::GeneralFailure => 0x01,
            Status::NotAllowed => 0x02,
            Status::NetworkUnreachable => 0x03,
            Status::HostUnreachable => 0x04,
            Status::ConnectionRefused => 0x05,
            Status::TtlExpired => 0x06,
            Status::CommandNotSupported => 0x07,
            Status::AddressTypeNotSupported => 0x08,
            Status::Unassigned(byte) => byte,
        }
    }

    /// The errno a `connect()` refused with this status reports (§4.6).
    pub fn connect_errno(self) -> i32 {
        match self {
            Status::GeneralFailure
            | Status::NotAllowed
            | Status::ConnectionRefused
            | Status::CommandNotSupported
            | Status::AddressTypeNotSupported => libc::ECONNREFUSED,
            Status::NetworkUnreachable => libc::ENETUNREACH,
            Status::HostUnreachable => libc::EHOSTUNREACH,
            Status::TtlExpired => libc::ETIMEDOUT,
            Status::Succeeded | Status::Unassigned(_) => libc::ECONNABORTED,
        }
    }

    /// The outcome of a lookup refused with this status (§4.9).
    pub fn lookup_error(self) -> LookupError {
        match self {
            Status::HostUnreachable => LookupError::NotFound,
            Status::GeneralFailure | Status::TtlExpired => LookupError::TryAgain,
            _ => LookupError::NoRecovery,
        }
    }

    /// The log text of a CONNECT refused with this status (§4.6).
    pub fn connect_failure_text(self) -> Option<&'static str> {
        Some(match self {
            Status::GeneralFailure => "General SOCKS server failure",
            Status::NotAllowed => "Connection not allowed by ruleset",
            Status::NetworkUnreachable => "Network unreachable",
            Status::HostUnreachable => "Host unreachable",
            Status::ConnectionRefused => "Connection refused to Tor SOCKS",
            Status::TtlExpired => "Connection timed out",
            Status::CommandNotSupported => "Command not supported",
            Status::AddressTypeNotSupported => "Address type not supported",
            Status::Succeeded | Status::Unassigned(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        for byte in 0..=u8::MAX {
            assert_eq!(Status::from_byte(byte).byte(), byte);
        }
        assert_eq!(Status::from_byte(4), Status::HostUnreachable);
        assert_eq!(Status::from_byte(9), Status::Unassigned(9));
    }

    #[test]
    fn refusals_map_to_the_errnos_and_lookup_outcomes_of_the_spec() {
        assert_eq!(Status::TtlExpired.connect_errno(), libc::ETIMEDOUT);
        assert_eq!(Status::NotAllowed.connect_errno(), libc::ECONNREFUSED);
        assert_eq!(Status::Unassigned(0x42).connect_errno(), libc::ECONNABORTED);
        assert_eq!(
            Status::HostUnreachable.lookup_error(),
            LookupError::NotFound
        );
        assert_eq!(Status::TtlExpired.lookup_error(), LookupError::TryAgain);
        assert_eq!(Status::NotAllowed.lookup_error(), LookupError::NoRecovery);
    }
}
