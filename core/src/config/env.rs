//! The `TORSOCKS_*` environment (spec §2.4) and how a process reads it.
//!
//! [`Environment`] abstracts the process environment so that every rule can be tested
//! without touching the real one; [`ProcessEnvironment`] is the real thing, and it
//! reads nothing at all in secure mode (CF-2).

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use super::{directive, value, Config, ConfigError, Origin};

/// `TORSOCKS_CONF_FILE`: the configuration file's path (CF-4).
pub const CONF_FILE: &str = "TORSOCKS_CONF_FILE";
/// `TORSOCKS_LOG_LEVEL` (L-1).
pub const LOG_LEVEL: &str = "TORSOCKS_LOG_LEVEL";
/// `TORSOCKS_LOG_TIME` (L-4).
pub const LOG_TIME: &str = "TORSOCKS_LOG_TIME";
/// `TORSOCKS_LOG_FILE_PATH` (L-3).
pub const LOG_FILE_PATH: &str = "TORSOCKS_LOG_FILE_PATH";
/// `TORSOCKS_TOR_ADDRESS` overrides `TorAddress`.
pub const TOR_ADDRESS: &str = "TORSOCKS_TOR_ADDRESS";
/// `TORSOCKS_TOR_PORT` overrides `TorPort`.
pub const TOR_PORT: &str = "TORSOCKS_TOR_PORT";
/// `TORSOCKS_USERNAME` overrides `SOCKS5Username`.
pub const USERNAME: &str = "TORSOCKS_USERNAME";
/// `TORSOCKS_PASSWORD` overrides `SOCKS5Password`.
pub const PASSWORD: &str = "TORSOCKS_PASSWORD";
/// `TORSOCKS_ALLOW_INBOUND` overrides `AllowInbound`.
pub const ALLOW_INBOUND: &str = "TORSOCKS_ALLOW_INBOUND";
/// `TORSOCKS_ISOLATE_PID` overrides `IsolatePID`.
pub const ISOLATE_PID: &str = "TORSOCKS_ISOLATE_PID";
/// `TORSOCKS_ENABLE_IPV6` overrides `EnableIPv6`.
pub const ENABLE_IPV6: &str = "TORSOCKS_ENABLE_IPV6";

/// Each overriding variable and the directive it replaces, in the order they apply.
pub const OVERRIDES: [(&str, &str); 7] = [
    (TOR_ADDRESS, directive::TOR_ADDRESS),
    (TOR_PORT, directive::TOR_PORT),
    (USERNAME, directive::SOCKS5_USERNAME),
    (PASSWORD, directive::SOCKS5_PASSWORD),
    (ALLOW_INBOUND, directive::ALLOW_INBOUND),
    (ISOLATE_PID, directive::ISOLATE_PID),
    (ENABLE_IPV6, directive::ENABLE_IPV6),
];

/// A source of environment variables.
pub trait Environment {
    /// The value of `name`, or `None` when unset (or ignored in secure mode).
    fn var(&self, name: &str) -> Option<OsString>;
}

/// The real process environment, ignored entirely in secure mode (CF-2).
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnvironment {
    secure: bool,
}

impl ProcessEnvironment {
    /// Reads the process environment unless the process is in secure mode.
    pub fn new() -> Self {
        ProcessEnvironment {
            secure: super::process_is_secure(),
        }
    }

    /// Whether `TORSOCKS_*` variables are being ignored (CF-2).
    pub fn is_secure(&self) -> bool {
        self.secure
    }
}

impl Default for ProcessEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<OsString> {
        if self.secure {
            None
        } else {
            std::env::var_os(name)
        }
    }
}

/// A fixed set of variables, for tests and for programs that build an environment.
impl Environment for HashMap<String, OsString> {
    fn var(&self, name: &str) -> Option<OsString> {
        self.get(name).cloned()
    }
}

/// Applies every override that is set (CF-16: the value is used whole, not tokenised;
/// an empty username or password is the empty string, D-5).
pub fn apply(env: &dyn Environment, config: &mut Config) -> Result<(), ConfigError> {
    for (var, name) in OVERRIDES {
        if let Some(raw) = env.var(var) {
            value::apply(config, name, raw.as_bytes())
                .map_err(|kind| ConfigError::new(Origin::Env { var }, kind))?;
        }
    }
    Ok(())
}
