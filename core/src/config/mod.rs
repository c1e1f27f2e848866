//! Configuration (spec §2): built-in defaults, then `torsocks.conf`, then the
//! `TORSOCKS_*` environment, then cross-checks.
//!
//! * [`Config`] — the effective settings, with the defaults of spec §2.3.
//! * [`parse`] — the file syntax (CF-7..CF-14), sans-IO: bytes in, settings out.
//! * [`value`] — validation of each directive's value, shared by file and environment.
//! * [`env`](mod@env) — the environment overrides (§2.4) and secure mode (CF-2).
//! * [`load`] — the whole sequence for a real process, with the file read from disk.

pub mod env;
mod error;
pub mod parse;
mod secure;
pub mod value;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub use env::{Environment, ProcessEnvironment};
pub use error::{ConfigError, ConfigErrorKind, ConfigWarning, Origin};
pub use secure::process_is_secure;

use crate::onion::OnionRange;
use crate::socks5::Auth;

/// The path of the system-wide configuration file (CF-4).
pub const SYSTEM_CONFIG_PATH: &str = "/etc/tor/torsocks.conf";

/// Directive names, exactly as they appear in `torsocks.conf` (case-sensitive, CF-10).
pub mod directive {
    /// `TorAddress` (`unix:PATH` is [`TOR_SOCKET`]'s)
    pub const TOR_ADDRESS: &str = "TorAddress";
    /// `TorPort`
    pub const TOR_PORT: &str = "TorPort";
    /// `OnionAddrRange`
    pub const ONION_ADDR_RANGE: &str = "OnionAddrRange";
    /// `SOCKS5Username`
    pub const SOCKS5_USERNAME: &str = "SOCKS5Username";
    /// `SOCKS5Password`
    pub const SOCKS5_PASSWORD: &str = "SOCKS5Password";
    /// `AllowInbound`
    pub const ALLOW_INBOUND: &str = "AllowInbound";
    /// `AllowOutboundLocalhost`
    pub const ALLOW_OUTBOUND_LOCALHOST: &str = "AllowOutboundLocalhost";
    /// `IsolatePID`
    pub const ISOLATE_PID: &str = "IsolatePID";
    /// `EnableIPv6`
    pub const ENABLE_IPV6: &str = "EnableIPv6";
    /// `ConnectTimeout` (namespace mode)
    pub const CONNECT_TIMEOUT: &str = "ConnectTimeout";
    /// `ResolveTimeout` (namespace mode)
    pub const RESOLVE_TIMEOUT: &str = "ResolveTimeout";
    /// `TorSocket` (namespace mode): Tor's SOCKS port as a Unix socket, `PATH` or
    /// `unix:PATH`.
    pub const TOR_SOCKET: &str = "TorSocket";
    /// `TorControlPort` (namespace mode): Tor's ControlPort, `ADDR:PORT`, `PORT` or
    /// `unix:PATH`.
    pub const TOR_CONTROL_PORT: &str = "TorControlPort";
    /// `TorControlSocket` (namespace mode): Tor's ControlPort as a Unix socket, `PATH`.
    pub const TOR_CONTROL_SOCKET: &str = "TorControlSocket";
    /// `TorControlPassword` (namespace mode)
    pub const TOR_CONTROL_PASSWORD: &str = "TorControlPassword";
    /// `TorControlCookie` (namespace mode): the control auth cookie file.
    pub const TOR_CONTROL_COOKIE: &str = "TorControlCookie";
    /// `TorClient`: `auto`, `daemon` or `embedded` (torsocks-ns and `torsocks --embedded`).
    pub const TOR_CLIENT: &str = "TorClient";

    /// Every directive, in the order of spec §2.3.
    pub const ALL: [&str; 17] = [
        TOR_ADDRESS,
        TOR_PORT,
        TOR_SOCKET,
        ONION_ADDR_RANGE,
        SOCKS5_USERNAME,
        SOCKS5_PASSWORD,
        ALLOW_INBOUND,
        ALLOW_OUTBOUND_LOCALHOST,
        ISOLATE_PID,
        ENABLE_IPV6,
        CONNECT_TIMEOUT,
        RESOLVE_TIMEOUT,
        TOR_CONTROL_PORT,
        TOR_CONTROL_SOCKET,
        TOR_CONTROL_PASSWORD,
        TOR_CONTROL_COOKIE,
        TOR_CLIENT,
    ];

    /// The static name of a known directive; `None` for anything else (case-sensitive).
    pub fn known(name: &str) -> Option<&'static str> {
        ALL.into_iter().find(|known| *known == name)
    }
}

/// Where one of Tor's ports listens: a TCP address, or a Unix socket (Debian's tor has
/// its ControlPort on `/run/tor/control` only; a SocksPort may be `unix:PATH` too).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TorAddr {
    /// `ADDR:PORT`.
    Tcp(SocketAddr),
    /// `unix:PATH`.
    Unix(PathBuf),
}

impl std::fmt::Display for TorAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TorAddr::Tcp(addr) => addr.fmt(f),
            TorAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl std::str::FromStr for TorAddr {
    type Err = std::net::AddrParseError;

    /// `unix:PATH`, or `ADDR:PORT` (as [`Display`](std::fmt::Display) writes them).
    fn from_str(text: &str) -> Result<TorAddr, Self::Err> {
        match text.strip_prefix("unix:") {
            Some(path) => Ok(TorAddr::Unix(PathBuf::from(path))),
            None => text.parse().map(TorAddr::Tcp),
        }
    }
}

impl From<SocketAddr> for TorAddr {
    fn from(addr: SocketAddr) -> TorAddr {
        TorAddr::Tcp(addr)
    }
}

/// What `AllowOutboundLocalhost` permits (spec §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum OutboundLocalhost {
    /// `0`: connections to localhost are refused.
    #[default]
    Deny,
    /// `1`: TCP to localhost goes direct.
    Tcp,
    /// `2`: TCP and UDP to localhost go direct, and inet dgram sockets may be created.
    TcpAndUdp,
}

/// Which Tor a run uses (`TorClient`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TorClient {
    /// `auto`: the daemon when its SOCKS port answers, else the embedded client.
    Auto,
    /// `daemon` (the default): Tor's SOCKS port (`TorAddress`:`TorPort`), always. A
    /// run never turns to the public network on its own: the fallback is asked for.
    #[default]
    Daemon,
    /// `embedded`: the Tor client built into torsocks-ns, always.
    Embedded,
}

impl TorClient {
    /// The value for `text` (`auto`, `daemon`, `embedded`; case-insensitive).
    pub fn parse(text: &str) -> Option<TorClient> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(TorClient::Auto),
            "daemon" => Some(TorClient::Daemon),
            "embedded" => Some(TorClient::Embedded),
            _ => None,
        }
    }
}

/// The effective configuration of one process (CF-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TorAddress`: where Tor's SOCKS port listens.
    pub tor_address: IpAddr,
    /// `TorPort`.
    pub tor_port: u16,
    /// `TorSocket` (or `TorAddress unix:PATH`): Tor's SOCKS port as a Unix socket, in
    /// place of `TorAddress:TorPort` (namespace mode; preload mode refuses it).
    pub tor_socket: Option<PathBuf>,
    /// `OnionAddrRange`: where onion cookies are allocated.
    pub onion_range: OnionRange,
    /// `SOCKS5Username`, as bytes (1..255 from the file, 0..255 from the environment).
    pub socks5_username: Option<Vec<u8>>,
    /// `SOCKS5Password`, as bytes. Never logged.
    pub socks5_password: Option<Vec<u8>>,
    /// `AllowInbound`.
    pub allow_inbound: bool,
    /// `AllowOutboundLocalhost`.
    pub allow_outbound_localhost: OutboundLocalhost,
    /// `IsolatePID`.
    pub isolate_pid: bool,
    /// `EnableIPv6`.
    pub enable_ipv6: bool,
    /// `ConnectTimeout`: seconds a CONNECT through Tor may take (namespace mode).
    pub connect_timeout: Option<u32>,
    /// `ResolveTimeout`: seconds a RESOLVE through Tor may take (namespace mode).
    pub resolve_timeout: Option<u32>,
    /// `TorControlPort` or `TorControlSocket`: Tor's ControlPort (namespace mode).
    pub control_port: Option<TorAddr>,
    /// `TorControlPassword`. Never logged.
    pub control_password: Option<Vec<u8>>,
    /// `TorControlCookie`: the path of Tor's control auth cookie.
    pub control_cookie: Option<PathBuf>,
    /// `TorClient`: which Tor torsocks-ns uses (preload mode's library ignores it).
    pub tor_client: TorClient,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tor_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            tor_port: 9050,
            tor_socket: None,
            onion_range: OnionRange::DEFAULT,
            socks5_username: None,
            socks5_password: None,
            allow_inbound: false,
            allow_outbound_localhost: OutboundLocalhost::Deny,
            isolate_pid: false,
            enable_ipv6: false,
            connect_timeout: None,
            resolve_timeout: None,
            control_port: None,
            control_password: None,
            control_cookie: None,
            tor_client: TorClient::Daemon,
        }
    }
}

impl Config {
    /// `TorAddress:TorPort`.
    pub fn tor_endpoint(&self) -> SocketAddr {
        SocketAddr::new(self.tor_address, self.tor_port)
    }

    /// Preload mode's SOCKS port, `TorAddress:TorPort`: a `TorSocket` is refused, since
    /// the library connects the program's own TCP socket to Tor.
    pub fn tcp_socks_port(&self) -> Result<SocketAddr, ConfigError> {
        match &self.tor_socket {
            None => Ok(self.tor_endpoint()),
            Some(path) => Err(ConfigError::new(
                Origin::CrossCheck,
                ConfigErrorKind::UnixSocksPort(path.clone()),
            )),
        }
    }

    /// Where Tor's SOCKS port listens: `TorSocket`, else `TorAddress:TorPort`.
    pub fn socks_addr(&self) -> TorAddr {
        match &self.tor_socket {
            Some(path) => TorAddr::Unix(path.clone()),
            None => TorAddr::Tcp(self.tor_endpoint()),
        }
    }

    /// Applies the cross-checks of spec §2.5 (CF-17, CF-18). Call after the environment.
    pub fn cross_check(&self) -> Result<(), ConfigError> {
        let fail = |kind| Err(ConfigError::new(Origin::CrossCheck, kind));
        match (&self.socks5_username, &self.socks5_password) {
            (Some(_), None) => {
                return fail(ConfigErrorKind::AuthHalfSet {
                    only: directive::SOCKS5_USERNAME,
                })
            }
            (None, Some(_)) => {
                return fail(ConfigErrorKind::AuthHalfSet {
                    only: directive::SOCKS5_PASSWORD,
                })
            }
            (Some(_), Some(_)) if self.isolate_pid => {
                return fail(ConfigErrorKind::IsolateWithAuth)
            }
            _ => {}
        }
        Ok(())
    }

    /// The SOCKS5 authentication to offer (CF-19, CF-20): the configured credentials, or
    /// with `IsolatePID` the per-process pair `torsocks-<pid>:<unix_time>` / `0`.
    pub fn socks_auth(&self, pid: u32, unix_time: u64) -> Auth {
        if self.isolate_pid {
            return Auth::UserPass {
                username: format!("torsocks-{pid}:{unix_time}").into_bytes(),
                password: b"0".to_vec(),
            };
        }
        match (&self.socks5_username, &self.socks5_password) {
            (Some(user), Some(pass)) => Auth::UserPass {
                username: user.clone(),
                password: pass.clone(),
            },
            _ => Auth::NoAuth,
        }
    }
}

/// Where to look for the configuration file when `TORSOCKS_CONF_FILE` is not used.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Candidate paths in order; the first that can be opened is read. When none can,
    /// the CF-5 warning names the first.
    pub default_paths: Vec<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            default_paths: vec![PathBuf::from(SYSTEM_CONFIG_PATH)],
        }
    }
}

/// The outcome of [`load`]: the configuration, the non-fatal warnings to log, and the
/// file that was read (if any).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Warnings in the order they arose; the caller logs them.
    pub warnings: Vec<ConfigWarning>,
    /// The file that was parsed, if one could be opened.
    pub file: Option<PathBuf>,
}

/// Computes the effective configuration (CF-1): defaults, the file (CF-4, CF-5), the
/// environment unless `env` is in secure mode (CF-2), then the cross-checks.
pub fn load(env: &dyn Environment, options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut config = Config::default();
    let mut warnings = Vec::new();

    let candidates: Vec<PathBuf> = match env.var(env::CONF_FILE) {
        Some(path) => vec![PathBuf::from(path)],
        None => options.default_paths.clone(),
    };
    let mut file = None;
    for path in &candidates {
        if let Ok(bytes) = std::fs::read(path) {
            parse::parse(&bytes, path, &mut config, &mut warnings)?;
            file = Some(path.clone());
            break;
        }
    }
    if file.is_none() {
        let path = candidates
            .first()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new(""));
        warnings.push(ConfigWarning::FileNotFound {
            path: path.to_path_buf(),
        });
    }

    env::apply(env, &mut config)?;
    config.cross_check()?;
    Ok(Loaded {
        config,
        warnings,
        file,
    })
}

#[cfg(test)]
mod tests;
