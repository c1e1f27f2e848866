//! Configuration errors (fatal, CF-3) and warnings (non-fatal), with the exact texts of
//! spec §3.1 and the place the value came from.

use std::fmt;
use std::path::PathBuf;

/// Where a bad value was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a configuration file (lines count from 1).
    File {
        /// The file's path.
        path: PathBuf,
        /// The line number.
        line: usize,
    },
    /// An environment variable.
    Env {
        /// The variable's name.
        var: &'static str,
    },
    /// The cross-checks run after file and environment (§2.5).
    CrossCheck,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::CrossCheck => f.write_str("configuration"),
        }
    }
}

/// What is wrong. `Display` gives the ERROR text of spec §3.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// CF-11: a known directive without a value.
    MissingValue {
        /// The directive's name.
        directive: &'static str,
    },
    /// `TorPort` / `TORSOCKS_TOR_PORT` is not 1..65535.
    InvalidPort(String),
    /// `TorAddress` / `TORSOCKS_TOR_ADDRESS` is not an IP address.
    InvalidTorAddress(String),
    /// `OnionAddrRange` without `/`.
    OnionRangeSyntax(String),
    /// `OnionAddrRange` with an unusable address.
    OnionRangeSubnet(String),
    /// `OnionAddrRange` with a mask outside 1..32.
    OnionRangeMask(String),
    /// `SOCKS5Username` or `SOCKS5Password` over 255 bytes.
    TooLong {
        /// The directive's name.
        directive: &'static str,
    },
    /// A switch (`AllowInbound`, …) with a value outside its range.
    InvalidSwitch {
        /// The directive's name.
        directive: &'static str,
        /// The value as given.
        value: String,
    },
    /// CF-17: exactly one of username and password is set.
    AuthHalfSet {
        /// The directive that is set.
        only: &'static str,
    },
    /// CF-18: `IsolatePID` together with username and password.
    IsolateWithAuth,
    /// `TorSocket` (a SOCKS port on a Unix socket) where only TCP can serve: preload
    /// mode connects the program's own socket to Tor.
    UnixSocksPort(std::path::PathBuf),
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::MissingValue { directive } => write!(f, "{directive} needs a value"),
            ConfigErrorKind::InvalidPort(v) => write!(f, "Config file invalid port: {v}"),
            ConfigErrorKind::InvalidTorAddress(v) => {
                write!(f, "Config file unknown tor address: {v}")
            }
            ConfigErrorKind::OnionRangeSyntax(v) => {
                write!(f, "[config] Invalid {v} value for OnionAddrRange")
            }
            ConfigErrorKind::OnionRangeSubnet(ip) => {
                write!(f, "[config] Invalid IP subnet {ip} for OnionAddrRange")
            }
            ConfigErrorKind::OnionRangeMask(m) => {
                write!(f, "[config] Invalid mask {m} for OnionAddrRange")
            }
            ConfigErrorKind::TooLong { directive } => write!(
                f,
                "[config] Invalid value for {directive} (longer than 255 bytes)"
            ),
            ConfigErrorKind::InvalidSwitch { directive, value } => {
                write!(f, "[config] Invalid {value} value for {directive}")
            }
            ConfigErrorKind::AuthHalfSet { only } => write!(
                f,
                "[config] SOCKS5Username and SOCKS5Password must be set together (only {only} is set)"
            ),
            ConfigErrorKind::IsolateWithAuth => {
                f.write_str("[config] IsolatePID and SOCKS5 auth both set.")
            }
            ConfigErrorKind::UnixSocksPort(path) => write!(
                f,
                "[config] Tor's SOCKS port as a Unix socket (TorSocket unix:{}) serves \
                 torsocks-ns only: torsocks needs Tor's TCP SocksPort (TorAddress, TorPort)",
                path.display()
            ),
        }
    }
}

/// A fatal configuration error (CF-3).
///
/// `Display` is the ERROR line's text exactly as spec §3.1 gives it (existing log greps
/// keep matching); [`ConfigError::origin`] says where the value came from, and
/// [`ConfigError::detailed`] combines both for command-line programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: Origin,
    kind: ConfigErrorKind,
}

impl ConfigError {
    /// An error of `kind` found at `origin`.
    pub fn new(origin: Origin, kind: ConfigErrorKind) -> Self {
        ConfigError { origin, kind }
    }

    /// Where the bad value was found.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// What is wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.kind
    }

    /// `<origin>: <message>`, e.g. `/etc/tor/torsocks.conf:3: Config file invalid port: 0`.
    pub fn detailed(&self) -> String {
        format!("{}: {}", self.origin, self)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.origin) {
            (kind @ ConfigErrorKind::MissingValue { .. }, Origin::File { line, .. }) => {
                write!(f, "Config file line {line}: {kind}")
            }
            (kind, _) => kind.fmt(f),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A non-fatal finding, logged as a WARNING (spec §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigWarning {
    /// CF-5: the file could not be opened; defaults apply.
    FileNotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// CF-10: an unknown directive.
    UnknownDirective {
        /// The line number.
        line_no: usize,
        /// The line as read, without its line end.
        line: String,
    },
    /// CF-12: more than one value; the first is used.
    TooManyValues {
        /// The line number.
        line_no: usize,
        /// The line as read, without its line end.
        line: String,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarning::FileNotFound { path } => write!(
                f,
                "Config file not found: {}. Using default for Tor",
                path.display()
            ),
            ConfigWarning::UnknownDirective { line, .. } => {
                write!(f, "Config file contains unknown value: {line}")
            }
            ConfigWarning::TooManyValues { line_no, line } => write!(
                f,
                "Config file line {line_no} has too many values, only the first one is used: {line}"
            ),
        }
    }
}
