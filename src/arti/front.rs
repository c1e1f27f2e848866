//! The embedded client's SOCKS5 front: CONNECT by name or address, RESOLVE and
//! RESOLVE_PTR, served on loopback to the launcher's own Tor connector ([`crate::tor`])
//! or, in preload mode, to `libtorsocks`. The exchange is the sans-IO server of
//! [`torsocks_core::socks5::server`]; each client's SOCKS credentials are its isolation key,
//! as with Tor's `IsolateSOCKSAuth`: requests with the same credentials may share
//! circuits, others never do.

use std::net::IpAddr;
use std::sync::Arc;

use arti_client::isolation::IsolationHelper;
use arti_client::{DataStream, ErrorKind, HasKind, StreamPrefs, TorClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use torsocks_core::socks5::Auth;

use crate::serve::handshake::handshake;
use torsocks_core::socks5::server::{Ask, Outcome};
use torsocks_core::socks5::Status;

/// The client, on whichever runtime Arti was given.
pub(crate) type Client = TorClient<tor_rtcompat::PreferredRuntime>;

/// Streams served at once; more wait for a slot (each holds a socket and a stream).
pub(crate) const MAX_CLIENTS: usize = 8192;

/// The isolation key of a request: the SOCKS credentials it came with, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Credentials(Option<(Vec<u8>, Vec<u8>)>);

impl IsolationHelper for Credentials {
    fn compatible_same_type(&self, other: &Self) -> bool {
        self == other
    }

    fn join_same_type(&self, other: &Self) -> Option<Self> {
        (self == other).then(|| self.clone())
    }
}

fn prefs(auth: Option<&Auth>) -> StreamPrefs {
    let key = match auth {
        Some(Auth::UserPass { username, password }) => {
            Credentials(Some((username.clone(), password.clone())))
        }
        _ => Credentials(None),
    };
    let mut prefs = StreamPrefs::new();
    prefs.set_isolation(key);
    prefs
}

/// Serves SOCKS5 clients on `listener` for as long as the runtime runs.
pub(crate) async fn serve(listener: TcpListener, client: Arc<Client>, debug: bool) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let client = client.clone();
        tokio::spawn(async move {
            serve_one(stream, &client, debug).await;
            drop(permit);
        });
    }
}

async fn serve_one(mut stream: TcpStream, client: &Client, debug: bool) {
    let Some((mut server, ask)) = handshake(&mut stream).await else {
        return;
    };
    let prefs = prefs(server.client_auth());
    let outcome = match ask {
        Ask::Connect { host, port } => {
            let host = String::from_utf8_lossy(&host).into_owned();
            match client
                .connect_with_prefs((host.as_str(), port), &prefs)
                .await
            {
                Ok(tor) => {
                    if stream
                        .write_all(&server.reply(&Outcome::Connected))
                        .await
                        .is_ok()
                    {
                        relay(stream, tor, server.take_rest()).await;
                    }
                    return;
                }
                Err(e) => {
                    if debug {
                        eprintln!("torsocks-ns: embedded Tor: connection to {host}:{port}: {e}");
                    }
                    Outcome::Failed(reply_status(e.kind()))
                }
            }
        }
        Ask::Resolve(name) => {
            let name = String::from_utf8_lossy(&name).into_owned();
            match name.parse::<IpAddr>() {
                Ok(ip) => Outcome::Resolved(ip),
                Err(_) => match client.resolve_with_prefs(&name, &prefs).await {
                    // Tor's own RESOLVE answers with one address, IPv4 first.
                    Ok(addrs) => match first_address(&addrs) {
                        Some(ip) => Outcome::Resolved(ip),
                        None => Outcome::Failed(Status::HostUnreachable),
                    },
                    Err(e) => {
                        if debug {
                            eprintln!("torsocks-ns: embedded Tor: lookup of {name}: {e}");
                        }
                        Outcome::Failed(reply_status(e.kind()))
                    }
                },
            }
        }
        Ask::ResolvePtr(ip) => match client.resolve_ptr_with_prefs(ip, &prefs).await {
            Ok(names) => match names.into_iter().next() {
                Some(name) => Outcome::Named(name.into_bytes()),
                None => Outcome::Failed(Status::HostUnreachable),
            },
            Err(e) => Outcome::Failed(reply_status(e.kind())),
        },
    };
    let _ = stream.write_all(&server.reply(&outcome)).await;
}

fn first_address(addrs: &[IpAddr]) -> Option<IpAddr> {
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
}

/// The SOCKS5 reply (RFC 1928 §6) for a failure of Arti's, as Tor's SocksPort would
/// give it: the launcher and libtorsocks turn these into errno values and DNS rcodes.
fn reply_status(kind: ErrorKind) -> Status {
    match kind {
        ErrorKind::RemoteHostNotFound | ErrorKind::RemoteHostResolutionFailed => {
            Status::HostUnreachable
        }
        ErrorKind::RemoteConnectionRefused => Status::ConnectionRefused,
        ErrorKind::RemoteNetworkFailed => Status::NetworkUnreachable,
        ErrorKind::RemoteNetworkTimeout | ErrorKind::TorNetworkTimeout => Status::TtlExpired,
        ErrorKind::ExitPolicyRejected | ErrorKind::ForbiddenStreamTarget => Status::NotAllowed,
        ErrorKind::OnionServiceNotFound
        | ErrorKind::OnionServiceNotRunning
        | ErrorKind::OnionServiceConnectionFailed => Status::HostUnreachable,
        ErrorKind::InvalidStreamTarget => Status::AddressTypeNotSupported,
        _ => Status::GeneralFailure,
    }
}

/// Bytes both ways until both ends are done. Arti buffers a partial cell until it is
/// flushed, so every write is flushed at once. A Tor stream that breaks resets the
/// client: a truncated transfer must never look complete.
async fn relay(client: TcpStream, tor: DataStream, early: Vec<u8>) {
    let (mut client_r, mut client_w) = client.into_split();
    let (mut tor_r, mut tor_w) = tor.split();
    let up = async {
        if !early.is_empty()
            && (tor_w.write_all(&early).await.is_err() || tor_w.flush().await.is_err())
        {
            return;
        }
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match client_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tor_w.write_all(&buf[..n]).await.is_err() || tor_w.flush().await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tor_w.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match tor_r.read(&mut buf).await {
                Ok(0) => {
                    let _ = client_w.shutdown().await;
                    return true;
                }
                Ok(n) => {
                    if client_w.write_all(&buf[..n]).await.is_err() {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    };
    let (_, down_ok) = tokio::join!(up, down);
    if !down_ok {
        if let Ok(client) = client_r.reunite(client_w) {
            crate::serve::accept::reset(&client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_get_tor_s_reply_codes() {
        assert_eq!(
            reply_status(ErrorKind::RemoteHostNotFound),
            Status::HostUnreachable
        );
        assert_eq!(
            reply_status(ErrorKind::RemoteConnectionRefused),
            Status::ConnectionRefused
        );
        assert_eq!(
            reply_status(ErrorKind::TorNetworkTimeout),
            Status::TtlExpired
        );
        assert_eq!(
            reply_status(ErrorKind::ExitPolicyRejected),
            Status::NotAllowed
        );
        assert_eq!(reply_status(ErrorKind::Internal), Status::GeneralFailure);
    }

    #[test]
    fn resolve_answers_ipv4_first() {
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(first_address(&[v6, v4]), Some(v4));
        assert_eq!(first_address(&[v6]), Some(v6));
        assert_eq!(first_address(&[]), None);
    }

    #[test]
    fn credentials_isolate() {
        let a = Credentials(Some((b"a".to_vec(), b"1".to_vec())));
        let b = Credentials(Some((b"b".to_vec(), b"1".to_vec())));
        assert!(a.compatible_same_type(&a.clone()));
        assert!(!a.compatible_same_type(&b));
        assert_eq!(a.join_same_type(&b), None);
    }
}
