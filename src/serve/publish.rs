//! Published ports (`--publish [HOST_ADDR:]HOST_PORT:SANDBOX_PORT`): the launcher
//! listens on the host and relays each connection to a server inside the sandbox,
//! reached on the sandbox's loopback through [`crate::ns::inward`]. Onion services use
//! the same relay, from a loopback port only Tor is told about.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

use tokio::net::{TcpListener, TcpStream};

use crate::ns::inward::Connector;
use crate::serve::accept;
use crate::serve::slots::Slots;

/// One `--publish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Publish {
    /// Where the host listens.
    pub host: SocketAddr,
    /// The port inside the sandbox.
    pub sandbox_port: u16,
}

/// Parses `[HOST_ADDR:]HOST_PORT:SANDBOX_PORT` (an IPv6 HOST_ADDR in brackets). Only
/// loopback addresses unless `any` (--publish-any): a published port on the host's
/// network is reachable by every machine that can reach the host.
pub(crate) fn parse(text: &str, any: bool) -> Result<Publish, BadPublish> {
    let bad = |why: &str| BadPublish {
        text: text.to_string(),
        why: why.to_string(),
    };
    let (host, sandbox) = text
        .rsplit_once(':')
        .ok_or_else(|| bad("expected [HOST_ADDR:]HOST_PORT:SANDBOX_PORT"))?;
    let port = |p: &str| p.parse::<u16>().ok().filter(|&p| p != 0);
    let sandbox_port = port(sandbox).ok_or_else(|| bad("the sandbox port must be 1-65535"))?;
    let host = match port(host) {
        Some(p) => SocketAddr::from((Ipv4Addr::LOCALHOST, p)),
        None if host.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(bad("the host port must be 1-65535"))
        }
        None => host.parse::<SocketAddr>().map_err(|_| {
            bad("the host side must be PORT, ADDR:PORT or [ADDR]:PORT (IPv6 in brackets)")
        })?,
    };
    if host.port() == 0 {
        return Err(bad("the host port must be 1-65535"));
    }
    if !host.ip().is_loopback() && !any {
        return Err(bad(&format!(
            "{} is not a loopback address: anyone who can reach it would reach the \
             sandbox's server; add --publish-any to mean it",
            host.ip()
        )));
    }
    Ok(Publish { host, sandbox_port })
}

/// A `--publish` that is malformed or not allowed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadPublish {
    text: String,
    why: String,
}

impl std::fmt::Display for BadPublish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--publish {}: {}", self.text, self.why)
    }
}

impl std::error::Error for BadPublish {}

/// Relays connections accepted on `listener` to `sandbox_port` inside the sandbox: to
/// its IPv6 loopback first when the host side is IPv6, else to 127.0.0.1, falling back
/// to the other when refused.
pub(crate) async fn serve(
    listener: TcpListener,
    sandbox_port: u16,
    connector: Rc<Connector>,
    slots: Slots,
) {
    let v6_first = matches!(listener.local_addr().map(|a| a.ip()), Ok(IpAddr::V6(_)));
    accept::serve(listener, slots, move |mut outside| {
        let connector = Rc::clone(&connector);
        async move {
            match inside(&connector, v6_first, sandbox_port).await {
                Some(mut inner) => {
                    if tokio::io::copy_bidirectional(&mut outside, &mut inner)
                        .await
                        .is_err()
                    {
                        accept::reset(&outside);
                        accept::reset(&inner);
                    }
                }
                None => accept::reset(&outside),
            }
        }
    })
    .await;
}

/// A connection to the sandbox's server, or None when nothing listens there.
async fn inside(connector: &Connector, v6_first: bool, port: u16) -> Option<TcpStream> {
    for v6 in [v6_first, !v6_first] {
        let Ok(fd) = connector.connect(v6, port).await else {
            continue;
        };
        let Ok(stream) = TcpStream::from_std(std::net::TcpStream::from(fd)) else {
            continue;
        };
        // The connect may still be under way (a full backlog): wait for its outcome.
        if stream.writable().await.is_ok() && matches!(stream.take_error(), Ok(None)) {
            let _ = stream.set_nodelay(true);
            return Some(stream);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, any: bool) -> (String, u16) {
        let p = parse(text, any).unwrap();
        (p.host.to_string(), p.sandbox_port)
    }

    #[test]
    fn the_forms_of_publish() {
        assert_eq!(ok("8080:80", false), ("127.0.0.1:8080".into(), 80));
        assert_eq!(
            ok("127.0.0.2:8080:80", false),
            ("127.0.0.2:8080".into(), 80)
        );
        assert_eq!(ok("[::1]:8080:80", false), ("[::1]:8080".into(), 80));
        assert_eq!(ok("0.0.0.0:8080:80", true), ("0.0.0.0:8080".into(), 80));
        assert_eq!(ok("[::]:1:2", true), ("[::]:1".into(), 2));
    }

    #[test]
    fn what_is_refused() {
        for (text, why) in [
            ("80", "expected"),
            ("8080:0", "sandbox port"),
            ("0:80", "host port"),
            ("8080:http", "sandbox port"),
            ("::1:8080:80", "brackets"),
            ("localhost:8080:80", "brackets"),
            ("0.0.0.0:8080:80", "--publish-any"),
            ("[::]:8080:80", "--publish-any"),
            ("192.0.2.1:8080:80", "not a loopback address"),
        ] {
            let err = parse(text, false).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
