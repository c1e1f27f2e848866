//! `--onion-service`: the sandbox's servers published as one onion service through
//! Tor's ControlPort. Tor reaches each port on a loopback port of the host that the
//! launcher listens on and relays into the sandbox ([`crate::serve::publish`]); the service
//! lives as long as the control connection (removed with DEL_ONION at exit).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::tor::control::Control;

/// `[VIRTPORT:]SANDBOX_PORT`: the port the service offers, and the sandbox's port
/// behind it (the same when only one is given).
pub(crate) fn parse_mapping(text: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("--onion-service {text}: ports are 1-65535"))
    };
    match text.split_once(':') {
        Some((virt, sandbox)) => Ok((port(virt)?, port(sandbox)?)),
        None => port(text).map(|p| (p, p)),
    }
}

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
) -> Result<Published, String> {
    let mut listeners = Vec::new();
    let mut ports = Vec::new();
    for &(virt, sandbox) in mappings {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("--onion-service: a loopback port for Tor: {e}"))?;
        let target: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
        ports.push((virt, target));
        listeners.push((listener, sandbox));
    }
    let key = match key_file {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--onion-key {}: {e}", path.display()))?;
            let key = text.trim().to_string();
            if !key.starts_with("ED25519-V3:") {
                return Err(format!(
                    "--onion-key {}: not an onion service key (expected ED25519-V3:...)",
                    path.display()
                ));
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
            .map_err(|e| format!("--onion-key {}: {e}", path.display()))?;
        file.write_all(format!("{new_key}\n").as_bytes())
            .map_err(|e| format!("--onion-key {}: {e}", path.display()))?;
    }
    Ok(Published { id, listeners })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings() {
        assert_eq!(parse_mapping("80:8000"), Ok((80, 8000)));
        assert_eq!(parse_mapping("8080"), Ok((8080, 8080)));
        assert!(parse_mapping("0:80").is_err());
        assert!(parse_mapping("80:").is_err());
        assert!(parse_mapping("http").is_err());
    }
}
