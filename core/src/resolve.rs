//! Lookup outcomes (spec §4.9) and their mapping to each C API (D-7).
//!
//! Every name or address lookup ends in `Ok` or in one [`LookupError`]. The callers
//! (gethostbyname, getaddrinfo, res_query, the namespace DNS server, …) turn the
//! error into their own convention with the methods below, so the whole project uses a
//! single outcome model.

use std::fmt;

pub mod plan;

/// `h_errno` values from `<netdb.h>` (not exported by the libc crate).
pub mod h_errno {
    /// `NETDB_INTERNAL`: see errno.
    pub const NETDB_INTERNAL: i32 = -1;
    /// `HOST_NOT_FOUND`: authoritative answer, no such host.
    pub const HOST_NOT_FOUND: i32 = 1;
    /// `TRY_AGAIN`: temporary failure.
    pub const TRY_AGAIN: i32 = 2;
    /// `NO_RECOVERY`: non-recoverable failure.
    pub const NO_RECOVERY: i32 = 3;
    /// `NO_DATA`: the name exists but has no address of the wanted kind.
    pub const NO_DATA: i32 = 4;
}

/// DNS response codes used when a lookup is turned into a DNS message.
pub mod rcode {
    /// No error (also used for NoData: an empty answer).
    pub const NOERROR: u8 = 0;
    /// Server failure.
    pub const SERVFAIL: u8 = 2;
    /// Name does not exist.
    pub const NXDOMAIN: u8 = 3;
}

/// Why a lookup produced no answer (spec §4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LookupError {
    /// The name (or address) does not exist: Tor's REP 04, an empty PTR name.
    NotFound,
    /// The name exists but not with an address of the wanted family.
    NoData,
    /// Temporary: Tor unreachable, I/O error, REP 01 or 06.
    TryAgain,
    /// Permanent: protocol violation, refused by policy, name too long.
    NoRecovery,
}

impl LookupError {
    /// The value for `h_errno` / `*h_errnop`.
    pub fn h_errno(self) -> i32 {
        match self {
            LookupError::NotFound => h_errno::HOST_NOT_FOUND,
            LookupError::NoData => h_errno::NO_DATA,
            LookupError::TryAgain => h_errno::TRY_AGAIN,
            LookupError::NoRecovery => h_errno::NO_RECOVERY,
        }
    }

    /// The return value of `gethostbyname_r` and friends.
    pub fn r_errno(self) -> i32 {
        match self {
            LookupError::NotFound | LookupError::NoData => libc::ENOENT,
            LookupError::TryAgain => libc::EAGAIN,
            LookupError::NoRecovery => libc::EIO,
        }
    }

    /// The return value of `getaddrinfo`.
    pub fn eai(self) -> i32 {
        match self {
            LookupError::NotFound | LookupError::NoData => libc::EAI_NONAME,
            LookupError::TryAgain => libc::EAI_AGAIN,
            LookupError::NoRecovery => libc::EAI_FAIL,
        }
    }

    /// The RCODE of a synthesized DNS response (`res_send`, the namespace DNS server).
    pub fn rcode(self) -> u8 {
        match self {
            LookupError::NotFound => rcode::NXDOMAIN,
            LookupError::NoData => rcode::NOERROR,
            LookupError::TryAgain | LookupError::NoRecovery => rcode::SERVFAIL,
        }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LookupError::NotFound => "name not found",
            LookupError::NoData => "no address of the requested family",
            LookupError::TryAgain => "temporary failure reaching Tor",
            LookupError::NoRecovery => "non-recoverable failure",
        })
    }
}

impl std::error::Error for LookupError {}

#[cfg(test)]
mod tests {
    use super::*;
    use LookupError::*;

    // spec §4.9 mapping table, D-7
    #[test]
    fn mapping_table() {
        let rows = [
            (
                NotFound,
                h_errno::HOST_NOT_FOUND,
                libc::ENOENT,
                libc::EAI_NONAME,
                3,
            ),
            (NoData, h_errno::NO_DATA, libc::ENOENT, libc::EAI_NONAME, 0),
            (
                TryAgain,
                h_errno::TRY_AGAIN,
                libc::EAGAIN,
                libc::EAI_AGAIN,
                2,
            ),
            (
                NoRecovery,
                h_errno::NO_RECOVERY,
                libc::EIO,
                libc::EAI_FAIL,
                2,
            ),
        ];
        for (outcome, h, r, eai, rc) in rows {
            assert_eq!(outcome.h_errno(), h, "{outcome:?}");
            assert_eq!(outcome.r_errno(), r, "{outcome:?}");
            assert_eq!(outcome.eai(), eai, "{outcome:?}");
            assert_eq!(outcome.rcode(), rc, "{outcome:?}");
        }
    }
}
