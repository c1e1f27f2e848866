//! The link between the launcher and the sandbox's PID 1: one typed [`Message`] enum
//! for everything they say to each other, and one send/receive pair that carries file
//! descriptors with a message (SCM_RIGHTS).
//!
//! The link is a `SOCK_SEQPACKET` socket pair, so each message arrives whole and alone;
//! its encoding is a tag byte and fixed-size big-endian fields (only the setup error
//! carries text). In order: PID 1 says [`Message::Cloned`], the launcher writes the id
//! maps and says [`Message::Mapped`], PID 1 sets everything up and answers
//! [`Message::Ready`] (with the TUN device and the SOCKS port's listeners) or
//! [`Message::SetupFailed`], the launcher says [`Message::Go`]; from then on the
//! launcher may ask [`Message::Connect`] at any time and PID 1 answers
//! [`Message::Connecting`] (with the socket) or [`Message::ConnectFailed`].
#![allow(unsafe_code)]

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// The longest message: a setup error's text is cut to fit.
pub(crate) const MAX_MESSAGE: usize = 1024;

/// The most descriptors one message carries: the TUN device and the SOCKS port's two
/// listeners.
pub(crate) const MAX_FDS: usize = 3;

/// Everything the launcher and PID 1 say to each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// PID 1 → launcher: cloned; its ids may be mapped (it is dumpable for now).
    Cloned,
    /// Launcher → PID 1: the id maps are written.
    Mapped,
    /// PID 1 → launcher: set up; the TUN device (then the SOCKS port's listeners)
    /// come with it, and how many host sockets the mounts masked.
    Ready { masked_sockets: u32 },
    /// PID 1 → launcher: the setup failed, and why.
    SetupFailed(String),
    /// Launcher → PID 1: start the command.
    Go,
    /// Launcher → PID 1: connect to this port of the sandbox's loopback (IPv6 or not).
    Connect { v6: bool, port: u16 },
    /// PID 1 → launcher: the connecting socket comes with it (a non-blocking connect
    /// under way).
    Connecting,
    /// PID 1 → launcher: no socket, for this errno.
    ConnectFailed { errno: i32 },
    /// `--attach`: the helper in the attached namespace made `tun0` (sent with it)
    /// after deleting these interfaces (their names, space-separated).
    Attached { removed: String },
}

/// A message that is not one of [`Message`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub Vec<u8>);

mod tag {
    pub(super) const CLONED: u8 = b'C';
    pub(super) const MAPPED: u8 = b'M';
    pub(super) const READY: u8 = b'T';
    pub(super) const SETUP_FAILED: u8 = b'E';
    pub(super) const GO: u8 = b'G';
    pub(super) const CONNECT: u8 = b'c';
    pub(super) const CONNECTING: u8 = b'F';
    pub(super) const CONNECT_FAILED: u8 = b'X';
    pub(super) const ATTACHED: u8 = b'A';
}

/// A message of `tag` and text, cut on a character to fit [`MAX_MESSAGE`].
fn text(tag: u8, text: &str) -> Vec<u8> {
    let mut end = text.len().min(MAX_MESSAGE - 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut bytes = vec![tag];
    bytes.extend_from_slice(&text.as_bytes()[..end]);
    bytes
}

impl Message {
    /// The bytes on the link.
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Message::Cloned => vec![tag::CLONED],
            Message::Mapped => vec![tag::MAPPED],
            Message::Ready { masked_sockets } => {
                let mut bytes = vec![tag::READY];
                bytes.extend_from_slice(&masked_sockets.to_be_bytes());
                bytes
            }
            Message::SetupFailed(why) => text(tag::SETUP_FAILED, why),
            Message::Attached { removed } => text(tag::ATTACHED, removed),
            Message::Go => vec![tag::GO],
            Message::Connect { v6, port } => {
                let [hi, lo] = port.to_be_bytes();
                vec![tag::CONNECT, u8::from(*v6), hi, lo]
            }
            Message::Connecting => vec![tag::CONNECTING],
            Message::ConnectFailed { errno } => {
                let mut bytes = vec![tag::CONNECT_FAILED];
                bytes.extend_from_slice(&errno.to_be_bytes());
                bytes
            }
        }
    }

    /// The message `bytes` encode, whole.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Message, Malformed> {
        let malformed = || Malformed(bytes.to_vec());
        let (&tag, rest) = bytes.split_first().ok_or_else(malformed)?;
        let word = || -> Result<[u8; 4], Malformed> { rest.try_into().map_err(|_| malformed()) };
        match (tag, rest.len()) {
            (tag::CLONED, 0) => Ok(Message::Cloned),
            (tag::MAPPED, 0) => Ok(Message::Mapped),
            (tag::READY, _) => Ok(Message::Ready {
                masked_sockets: u32::from_be_bytes(word()?),
            }),
            (tag::SETUP_FAILED, _) => Ok(Message::SetupFailed(
                String::from_utf8_lossy(rest).into_owned(),
            )),
            (tag::ATTACHED, _) => Ok(Message::Attached {
                removed: String::from_utf8_lossy(rest).into_owned(),
            }),
            (tag::GO, 0) => Ok(Message::Go),
            (tag::CONNECT, 3) if rest[0] <= 1 => Ok(Message::Connect {
                v6: rest[0] == 1,
                port: u16::from_be_bytes([rest[1], rest[2]]),
            }),
            (tag::CONNECTING, 0) => Ok(Message::Connecting),
            (tag::CONNECT_FAILED, _) => Ok(Message::ConnectFailed {
                errno: i32::from_be_bytes(word()?),
            }),
            _ => Err(malformed()),
        }
    }
}

/// Why a message could not be received.
#[derive(Debug)]
pub(crate) enum LinkError {
    /// The other end is gone.
    Closed,
    /// The socket failed.
    Io(std::io::Error),
    /// What came is not a message.
    Malformed(Malformed),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Closed => f.write_str("the other end has gone"),
            LinkError::Io(e) => e.fmt(f),
            LinkError::Malformed(Malformed(bytes)) => {
                write!(f, "a message that is not the protocol's: {bytes:02x?}")
            }
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<nix::errno::Errno> for LinkError {
    fn from(e: nix::errno::Errno) -> LinkError {
        LinkError::Io(e.into())
    }
}

/// One end of the link.
#[derive(Debug)]
pub(crate) struct Link {
    socket: OwnedFd,
}

impl Link {
    /// A connected pair (close-on-exec, blocking).
    pub(crate) fn pair() -> std::io::Result<(Link, Link)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Link { socket: a }, Link { socket: b }))
    }

    /// Sends `message` with `fds` (at most [`MAX_FDS`]).
    pub(crate) fn send(&self, message: &Message, fds: &[BorrowedFd<'_>]) -> std::io::Result<()> {
        let bytes = message.encode();
        let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        let rights = [ControlMessage::ScmRights(&raw)];
        let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &rights };
        let iov = [IoSlice::new(&bytes)];
        sendmsg::<()>(
            self.socket.as_raw_fd(),
            &iov,
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        Ok(())
    }

    /// The next message and the descriptors that came with it (close-on-exec).
    pub(crate) fn receive(&self) -> Result<(Message, Vec<OwnedFd>), LinkError> {
        let mut buf = [0u8; MAX_MESSAGE];
        let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(received) = c {
                // SAFETY: the kernel installed these fds for us; nobody else owns them.
                fds.extend(
                    received
                        .into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return Err(LinkError::Closed);
        }
        let message = Message::decode(&buf[..n]).map_err(LinkError::Malformed)?;
        Ok((message, fds))
    }

    /// Receives a message that must be `expected`.
    pub(crate) fn expect(&self, expected: &Message) -> Result<(), LinkError> {
        match self.receive()? {
            (message, _) if message == *expected => Ok(()),
            (message, _) => Err(LinkError::Malformed(Malformed(message.encode()))),
        }
    }

    /// This end, non-blocking, in the reactor of the runtime it is called in (the
    /// launcher's end, once the session runs).
    pub(crate) fn into_async(self) -> std::io::Result<tokio::io::unix::AsyncFd<Link>> {
        let flags = nix::fcntl::fcntl(self.socket.as_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(self.socket.as_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;
        // SAFETY: the Link owns its socket, which stays open and keeps its number until
        // the AsyncFd drops the Link.
        unsafe { tokio::io::unix::AsyncFd::register(self) }.map_err(|e| e.into_parts().1)
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for Link {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_message() -> Vec<Message> {
        vec![
            Message::Cloned,
            Message::Mapped,
            Message::Ready {
                masked_sockets: 70_000,
            },
            Message::SetupFailed("tun0: Operation not permitted".into()),
            Message::Go,
            Message::Connect {
                v6: true,
                port: 8080,
            },
            Message::Connect { v6: false, port: 1 },
            Message::Connecting,
            Message::ConnectFailed {
                errno: libc::ECONNREFUSED,
            },
            Message::Attached {
                removed: "eth0 veth1".into(),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for message in every_message() {
            assert_eq!(Message::decode(&message.encode()), Ok(message));
        }
    }

    #[test]
    fn what_is_not_a_message_is_malformed() {
        for bytes in [
            &b""[..],
            b"G1",
            b"Z",
            b"T\0\0",
            b"c\x02\0\x50",
            b"c\0\0",
            b"X\0\0\0\0\0",
        ] {
            assert_eq!(
                Message::decode(bytes),
                Err(Malformed(bytes.to_vec())),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn a_long_setup_error_is_cut_on_a_character() {
        let long = "é".repeat(MAX_MESSAGE);
        let bytes = Message::SetupFailed(long).encode();
        assert!(bytes.len() <= MAX_MESSAGE);
        let Ok(Message::SetupFailed(text)) = Message::decode(&bytes) else {
            panic!("not decoded");
        };
        assert!(text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn messages_arrive_whole_with_their_descriptors() {
        let (launcher, pid1) = Link::pair().unwrap();
        let (reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
        pid1.send(
            &Message::Ready { masked_sockets: 3 },
            &[reader.as_fd(), writer.as_fd()],
        )
        .unwrap();
        pid1.send(&Message::Connecting, &[]).unwrap();
        let (message, fds) = launcher.receive().unwrap();
        assert_eq!(message, Message::Ready { masked_sockets: 3 });
        assert_eq!(fds.len(), 2);
        // The descriptors are the same sockets: what goes in one comes out of the other.
        let mut a = std::os::unix::net::UnixStream::from(fds.into_iter().next().unwrap());
        std::io::Write::write_all(&mut { &writer }, b"x").unwrap();
        let mut byte = [0u8; 1];
        std::io::Read::read_exact(&mut a, &mut byte).unwrap();
        assert_eq!(&byte, b"x");
        assert_eq!(launcher.receive().unwrap().0, Message::Connecting);
        drop(pid1);
        assert!(matches!(launcher.receive(), Err(LinkError::Closed)));
    }

    #[test]
    fn an_unexpected_message_is_an_error() {
        let (launcher, pid1) = Link::pair().unwrap();
        pid1.send(&Message::Go, &[]).unwrap();
        assert!(launcher.expect(&Message::Cloned).is_err());
        pid1.send(&Message::Cloned, &[]).unwrap();
        assert!(launcher.expect(&Message::Cloned).is_ok());
    }
}
