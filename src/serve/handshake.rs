//! A SOCKS client's greeting and request, read under a deadline with torsocks-core's
//! sans-IO server: the one handshake of both SOCKS servers the launcher runs (the
//! sandbox's SOCKS port, and the embedded client's front).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use torsocks_core::socks5::server::{self as proto, Ask, Server, Step};

/// How long a client may take to send its greeting and request.
pub(crate) const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(30);

/// A client's greeting and request, within [`HANDSHAKE_DEADLINE`] (no Nagle on its
/// stream from here on); None when it left, broke the protocol or took too long. The
/// server is returned for the reply and the client's credentials.
pub(crate) async fn handshake(stream: &mut TcpStream) -> Option<(Server, Ask)> {
    let _ = stream.set_nodelay(true);
    let mut server = Server::new();
    match tokio::time::timeout(HANDSHAKE_DEADLINE, exchange(stream, &mut server)).await {
        Ok(Some(ask)) => Some((server, ask)),
        _ => None,
    }
}

/// Reads until the request is complete; None when the client left or broke the
/// protocol (after sending it whatever refusal the protocol has).
async fn exchange(stream: &mut TcpStream, server: &mut Server) -> Option<Ask> {
    let mut buf = [0u8; proto::MAX_MESSAGE];
    let mut step = server.input(&[]);
    loop {
        match step {
            Step::NeedMore => {
                let n = stream.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                step = server.input(&buf[..n]);
            }
            Step::Send(bytes) => {
                stream.write_all(&bytes).await.ok()?;
                step = server.input(&[]);
            }
            Step::Refuse(bytes) => {
                let _ = stream.write_all(&bytes).await;
                return None;
            }
            Step::Request(ask) => return Some(ask),
        }
    }
}
