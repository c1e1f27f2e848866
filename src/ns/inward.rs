//! Connections into the sandbox, for published ports and onion services: the launcher
//! asks the sandbox's PID 1, over the control socket, for a TCP connection to a port
//! on the sandbox's loopback; PID 1 makes it inside the sandbox's network namespace and
//! passes the socket back (SCM_RIGHTS). So a server inside that listens on 127.0.0.1
//! or ::1 only (the common default) is reached as well as one on every address, and the
//! sandbox's stack is never involved.
//!
//! PID 1 only ever connects to its own namespace's loopback, and only when the
//! launcher asks; the command has no way to reach the control socket (its fds are
//! closed before exec, and PID 1 is not dumpable).
#![allow(unsafe_code)]

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{
    recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, SockaddrStorage,
};

/// Launcher → PID 1: connect to a loopback port (`C`, family 4 or 6, port).
const CONNECT: u8 = b'C';
/// PID 1 → launcher: the connecting socket follows (a non-blocking connect under way).
const CONNECTING: u8 = b'F';
/// PID 1 → launcher: no socket; an errno follows.
const FAILED: u8 = b'X';

/// The launcher's end: asks PID 1 for connections. Blocking; one request at a time.
#[derive(Debug)]
pub(crate) struct Connector {
    control: UnixStream,
}

impl Connector {
    pub(super) fn new(control: UnixStream) -> Connector {
        Connector { control }
    }

    /// A socket connecting (non-blocking, maybe still in progress) to the sandbox's
    /// `127.0.0.1:port` (or `[::1]:port` with `v6`).
    pub(crate) fn connect(&mut self, v6: bool, port: u16) -> std::io::Result<OwnedFd> {
        let [hi, lo] = port.to_be_bytes();
        self.control
            .write_all(&[CONNECT, if v6 { 6 } else { 4 }, hi, lo])?;
        let mut buf = [0u8; 5];
        let mut cmsg = nix::cmsg_space!(RawFd);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            self.control.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut fd = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    // SAFETY: the kernel installed this fd for us; nobody else owns it.
                    fd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
        }
        let n = msg.bytes;
        match (fd, buf[0]) {
            (Some(fd), CONNECTING) if n >= 1 => Ok(fd),
            (_, FAILED) if n == 5 => Err(std::io::Error::from_raw_os_error(i32::from_be_bytes([
                buf[1], buf[2], buf[3], buf[4],
            ]))),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the sandbox has ended",
            )),
        }
    }
}

/// PID 1's side: answers one request from the launcher. Returns false when the
/// launcher has gone (end of file) or broke the protocol.
pub(crate) fn serve_one(control: &mut UnixStream) -> bool {
    let mut request = [0u8; 4];
    if control.read_exact(&mut request).is_err() || request[0] != CONNECT {
        return false;
    }
    let port = u16::from_be_bytes([request[2], request[3]]);
    let target = if request[1] == 6 {
        SocketAddr::from((Ipv6Addr::LOCALHOST, port))
    } else {
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    };
    match connect_loopback(target) {
        Ok(fd) => sendmsg::<()>(
            control.as_raw_fd(),
            &[IoSlice::new(&[CONNECTING])],
            &[ControlMessage::ScmRights(&[fd.as_raw_fd()])],
            MsgFlags::empty(),
            None,
        )
        .is_ok(),
        Err(errno) => {
            let mut reply = vec![FAILED];
            reply.extend_from_slice(&(errno as i32).to_be_bytes());
            control.write_all(&reply).is_ok()
        }
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
