//! `--onion-service`: the sandbox's servers published as one onion service through
//! Tor's ControlPort. Tor reaches each port on a loopback port of the host that the
//! launcher listens on and relays into the sandbox ([`crate::serve::publish`]); the service
//! lives as long as the control connection (removed with DEL_ONION at exit).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::tor::control::{Control, ControlError};

/// `[VIRTPORT:]SANDBOX_PORT`: the port the service offers, and the sandbox's port
/// behind it (the same when only one is given).
pub(crate) fn parse_mapping(text: &str) -> Result<(u16, u16), BadMapping> {
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| BadMapping(text.to_string()))
    };
    match text.split_once(':') {
        Some((virt, sandbox)) => Ok((port(virt)?, port(sandbox)?)),
        None => port(text).map(|p| (p, p)),
    }
}

/// An `--onion-service` whose ports are not 1-65535.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadMapping(String);

impl std::fmt::Display for BadMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--onion-service {}: ports are 1-65535", self.0)
    }
}

impl std::error::Error for BadMapping {}

/// A published service: its address and the host listeners Tor connects to.
pub(crate) struct Published {
    /// The service id (the address without `.onion`).
    pub id: String,
    /// Each listener and the sandbox port it leads to.
    pub listeners: Vec<(TcpListener, u16)>,
}

/// Publishes `mappings` (virtual port, sandbox port). With `key_file`, the service's
/// key is read from it, or created there (mode 0600) on the first run, so the address
/// stays the same across runs.
pub(crate) fn publish(
    control: &mut Control,
    mappings: &[(u16, u16)],
    key_file: Option<&Path>,
) -> Result<Published, OnionError> {
    let mut listeners = Vec::new();
    let mut ports = Vec::new();
    for &(virt, sandbox) in mappings {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(OnionError::LoopbackPort)?;
        let target: SocketAddr = listener.local_addr().map_err(OnionError::LoopbackPort)?;
        ports.push((virt, target));
        listeners.push((listener, sandbox));
    }
    let key = match key_file {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path).map_err(key_error(path))?;
            let key = text.trim().to_string();
            if !key.starts_with("ED25519-V3:") {
                return Err(OnionError::NotAKey(path.to_path_buf()));
            }
            Some(key)
        }
        _ => None,
    };
    let (id, new_key) = control.add_onion(key.as_deref(), key_file.is_some(), &ports)?;
    if let (Some(path), None, Some(new_key)) = (key_file, &key, new_key) {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(key_error(path))?;
        file.write_all(format!("{new_key}\n").as_bytes())
            .map_err(key_error(path))?;
    }
    Ok(Published { id, listeners })
}

/// Why the onion service could not be published.
#[derive(Debug)]
pub(crate) enum OnionError {
    /// No loopback port for Tor to reach the service on.
    LoopbackPort(std::io::Error),
    /// `--onion-key` cannot be read or written.
    Key {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--onion-key` holds something else.
    NotAKey(PathBuf),
    /// Tor refused, or the ControlPort failed.
    Control(ControlError),
}

fn key_error(path: &Path) -> impl FnOnce(std::io::Error) -> OnionError + '_ {
    move |source| OnionError::Key {
        path: path.to_path_buf(),
        source,
    }
}

impl std::fmt::Display for OnionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OnionError::LoopbackPort(e) => {
                write!(f, "--onion-service: a loopback port for Tor: {e}")
            }
            OnionError::Key { path, source } => {
                write!(f, "--onion-key {}: {source}", path.display())
            }
            OnionError::NotAKey(path) => write!(
                f,
                "--onion-key {}: not an onion service key (expected ED25519-V3:...)",
                path.display()
            ),
            OnionError::Control(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OnionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OnionError::LoopbackPort(e) | OnionError::Key { source: e, .. } => Some(e),
            OnionError::NotAKey(_) => None,
            OnionError::Control(e) => Some(e),
        }
    }
}

impl From<ControlError> for OnionError {
    fn from(e: ControlError) -> OnionError {
        OnionError::Control(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings() {
        assert_eq!(parse_mapping("80:8000"), Ok((80, 8000)));
        assert_eq!(parse_mapping("8080"), Ok((8080, 8080)));
        assert_eq!(
            parse_mapping("0:80").unwrap_err().to_string(),
            "--onion-service 0:80: ports are 1-65535"
        );
        assert!(parse_mapping("0:80").is_err());
        assert!(parse_mapping("80:").is_err());
        assert!(parse_mapping("http").is_err());
    }
}
