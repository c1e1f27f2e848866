//! A connection to one of Tor's ports, which listen on TCP or on a Unix socket
//! ([`TorAddr`]): [`Blocking`] for the short exchanges before the session (preflight,
//! the ControlPort), [`TorStream`] and its halves in the session's runtime.

use std::io::{Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{tcp, unix, TcpStream, UnixStream};
pub(crate) use torsocks_core::config::TorAddr;

/// A blocking connection whose reads and writes time out.
#[derive(Debug)]
pub(crate) enum Blocking {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Blocking {
    /// Connects to `addr` within `deadline`; reads and writes get it too.
    pub(crate) fn connect(addr: &TorAddr, deadline: Duration) -> std::io::Result<Blocking> {
        let stream = match addr {
            TorAddr::Tcp(addr) => {
                Blocking::Tcp(std::net::TcpStream::connect_timeout(addr, deadline)?)
            }
            // A Unix connect does not wait for a peer: it succeeds or fails at once.
            TorAddr::Unix(path) => Blocking::Unix(std::os::unix::net::UnixStream::connect(path)?),
        };
        match &stream {
            Blocking::Tcp(s) => s
                .set_read_timeout(Some(deadline))
                .and_then(|()| s.set_write_timeout(Some(deadline)))?,
            Blocking::Unix(s) => s
                .set_read_timeout(Some(deadline))
                .and_then(|()| s.set_write_timeout(Some(deadline)))?,
        }
        Ok(stream)
    }

    /// The same connection in the current runtime.
    pub(crate) fn into_async(self) -> std::io::Result<TorStream> {
        Ok(match self {
            Blocking::Tcp(s) => {
                s.set_nonblocking(true)?;
                TorStream::Tcp(TcpStream::from_std(s)?)
            }
            Blocking::Unix(s) => {
                s.set_nonblocking(true)?;
                TorStream::Unix(UnixStream::from_std(s)?)
            }
        })
    }
}

impl Read for Blocking {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Blocking::Tcp(s) => s.read(buf),
            Blocking::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Blocking {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Blocking::Tcp(s) => s.write(buf),
            Blocking::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A connection in the runtime.
#[derive(Debug)]
pub(crate) enum TorStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl TorStream {
    /// Connects to `addr`. A TCP stream gets no Nagle: a program's small writes (a
    /// request, a keystroke) must not wait for Tor's acknowledgement.
    pub(crate) async fn connect(addr: &TorAddr) -> std::io::Result<TorStream> {
        Ok(match addr {
            TorAddr::Tcp(addr) => {
                let stream = TcpStream::connect(addr).await?;
                let _ = stream.set_nodelay(true);
                TorStream::Tcp(stream)
            }
            TorAddr::Unix(path) => TorStream::Unix(UnixStream::connect(path).await?),
        })
    }

    /// Its two halves, each for a task of its own.
    pub(crate) fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            TorStream::Tcp(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            TorStream::Unix(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Unix(r), WriteHalf::Unix(w))
            }
        }
    }
}

/// The reading half of a [`TorStream`].
#[derive(Debug)]
pub(crate) enum ReadHalf {
    Tcp(tcp::OwnedReadHalf),
    Unix(unix::OwnedReadHalf),
}

impl ReadHalf {
    /// Resolves when a read may find bytes (or the end).
    pub(crate) async fn readable(&self) -> std::io::Result<()> {
        match self {
            ReadHalf::Tcp(r) => r.readable().await,
            ReadHalf::Unix(r) => r.readable().await,
        }
    }

    /// Reads what is there into `buf`'s spare room, without waiting.
    pub(crate) fn try_read_buf(&self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            ReadHalf::Tcp(r) => r.try_read_buf(buf),
            ReadHalf::Unix(r) => r.try_read_buf(buf),
        }
    }
}

/// The writing half of a [`TorStream`].
#[derive(Debug)]
pub(crate) enum WriteHalf {
    Tcp(tcp::OwnedWriteHalf),
    Unix(unix::OwnedWriteHalf),
}

/// Each variant's own implementation, by projection (every variant is `Unpin`).
macro_rules! either {
    ($self:ident, $s:ident => $call:expr, $($variant:path),+) => {
        match $self.get_mut() {
            $($variant($s) => { let $s = Pin::new($s); $call })+
        }
    };
}

impl AsyncRead for TorStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        either!(self, s => s.poll_read(cx, buf), TorStream::Tcp, TorStream::Unix)
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        either!(self, s => s.poll_read(cx, buf), ReadHalf::Tcp, ReadHalf::Unix)
    }
}

/// `AsyncWrite` for an enum of writers, variant by variant.
macro_rules! async_write {
    ($type:ident) => {
        impl AsyncWrite for $type {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<std::io::Result<usize>> {
                either!(self, s => s.poll_write(cx, buf), $type::Tcp, $type::Unix)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
                either!(self, s => s.poll_flush(cx), $type::Tcp, $type::Unix)
            }

            fn poll_shutdown(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<std::io::Result<()>> {
                either!(self, s => s.poll_shutdown(cx), $type::Tcp, $type::Unix)
            }
        }
    };
}

async_write!(TorStream);
async_write!(WriteHalf);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An echo of one message, over TCP and over a Unix socket alike.
    #[tokio::test]
    async fn both_kinds_carry_bytes_both_ways_and_half_close() {
        let dir = std::env::temp_dir().join(format!("tor-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("socks");
        let unix = tokio::net::UnixListener::bind(&path).unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_addr = TorAddr::Tcp(tcp.local_addr().unwrap());
        let echo = |mut s: Box<dyn EchoPeer>| async move {
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            s.write_all(&got).await.unwrap();
        };
        for addr in [tcp_addr, TorAddr::Unix(path.clone())] {
            let client = async {
                let (mut r, mut w) = TorStream::connect(&addr).await.unwrap().into_split();
                w.write_all(b"hello").await.unwrap();
                w.shutdown().await.unwrap();
                r.readable().await.unwrap();
                let mut back = Vec::new();
                r.read_to_end(&mut back).await.unwrap();
                back
            };
            let server = async {
                let peer: Box<dyn EchoPeer> = match &addr {
                    TorAddr::Tcp(_) => Box::new(tcp.accept().await.unwrap().0),
                    TorAddr::Unix(_) => Box::new(unix.accept().await.unwrap().0),
                };
                echo(peer).await
            };
            let (back, ()) = tokio::join!(client, server);
            assert_eq!(back, b"hello", "{addr}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    trait EchoPeer: AsyncRead + AsyncWrite + Unpin {}
    impl<T: AsyncRead + AsyncWrite + Unpin> EchoPeer for T {}
}
