//! Connections into the sandbox, for published ports and onion services: the launcher
//! asks the sandbox's PID 1, over the link ([`super::link`]), for a TCP connection to a port
//! on the sandbox's loopback; PID 1 makes it inside the sandbox's network namespace and
//! passes the socket back (SCM_RIGHTS). So a server inside that listens on 127.0.0.1
//! or ::1 only (the common default) is reached as well as one on every address, and the
//! sandbox's stack is never involved.
//!
//! PID 1 only ever connects to its own namespace's loopback, and only when the
//! launcher asks; the command has no way to reach the link (its fds are
//! closed before exec, and PID 1 is not dumpable).
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType, SockaddrStorage};
use tokio::io::unix::AsyncFd;

use super::link::{Link, LinkError, Message};

/// The launcher's end: asks PID 1 for connections without blocking the session. One
/// request is out at a time (a reply answers the request before it).
#[derive(Debug)]
pub(crate) struct Connector {
    link: AsyncFd<Link>,
    turn: tokio::sync::Mutex<()>,
}

impl Connector {
    /// Serves from `link` (made non-blocking); needs the session's runtime.
    pub(crate) fn new(link: Link) -> std::io::Result<Connector> {
        Ok(Connector {
            link: link.into_async()?,
            turn: tokio::sync::Mutex::new(()),
        })
    }

    /// A socket connecting (non-blocking, maybe still in progress) to the sandbox's
    /// `127.0.0.1:port` (or `[::1]:port` with `v6`).
    ///
    /// Not cancel-safe: a caller dropped between the request and its reply would leave
    /// the reply to the next one. Its callers (the relays of published ports) run to
    /// the end, or end with the session.
    pub(crate) async fn connect(&self, v6: bool, port: u16) -> std::io::Result<OwnedFd> {
        let _turn = self.turn.lock().await;
        let request = Message::Connect { v6, port };
        loop {
            let mut guard = self.link.writable().await?;
            match guard.try_io(|link| link.get_ref().send(&request, &[])) {
                Ok(sent) => break sent?,
                Err(_would_block) => continue,
            }
        }
        let reply = loop {
            let mut guard = self.link.readable().await?;
            match guard.try_io(|link| receive(link.get_ref())) {
                Ok(received) => break received?,
                Err(_would_block) => continue,
            }
        };
        match reply.map(|(message, fds)| (message, fds.into_iter().next())) {
            Some((Message::Connecting, Some(fd))) => Ok(fd),
            Some((Message::ConnectFailed { errno }, _)) => {
                Err(std::io::Error::from_raw_os_error(errno))
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the sandbox has ended",
            )),
        }
    }
}

/// A reply; None when the link failed for good (the sandbox has ended, or broke the
/// protocol); a would-block as the error.
type Reply = Option<(Message, Vec<OwnedFd>)>;

fn receive(link: &Link) -> std::io::Result<Reply> {
    match link.receive() {
        Ok(received) => Ok(Some(received)),
        Err(LinkError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => Err(e),
        Err(_) => Ok(None),
    }
}

/// PID 1's side: answers one request from the launcher. Returns false when the
/// launcher has gone or broke the protocol.
pub(crate) fn serve_one(link: &Link) -> bool {
    let Ok((Message::Connect { v6, port }, _)) = link.receive() else {
        return false;
    };
    let target = if v6 {
        SocketAddr::from((Ipv6Addr::LOCALHOST, port))
    } else {
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    };
    match connect_loopback(target) {
        Ok(fd) => link.send(&Message::Connecting, &[fd.as_fd()]).is_ok(),
        Err(errno) => link
            .send(
                &Message::ConnectFailed {
                    errno: errno as i32,
                },
                &[],
            )
            .is_ok(),
    }
}

/// A non-blocking connect to `target` (on loopback: refused or accepted at once,
/// except when the server's backlog is full, which the launcher then waits out).
fn connect_loopback(target: SocketAddr) -> Result<OwnedFd, nix::errno::Errno> {
    let family = match target {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    match nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(target)) {
        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => Ok(fd),
        Err(e) => Err(e),
    }
}
