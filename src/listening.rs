//! Is a TCP port on this machine still listening? Asked of the kernel with sock_diag
//! (NETLINK_SOCK_DIAG, `ss -lt`'s query), which costs the listener nothing: telling a
//! Tor that ended a stream from a Tor that died used to open a connection to its SOCKS
//! port for every stream that ended, doubling the connections the SOCKS server had to
//! accept.
//!
//! The request and the reply are handled sans-IO ([`request`], [`Listeners`]); the one
//! netlink socket is [`Probe`]. Hand-written rather than with netlink-packet-sock-diag:
//! that crate's netlink stack is a different major version from the one rtnetlink uses
//! here, and one fixed request with one reply layout is all that is needed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLM_F_REQUEST | NLM_F_DUMP` (linux/netlink.h).
const FLAGS: u16 = 0x1 | 0x300;
/// `NLMSG_ERROR` and `NLMSG_DONE` (linux/netlink.h).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `TCP_LISTEN` (include/net/tcp_states.h), as a state bit.
const LISTEN_STATE: u32 = 1 << 10;
/// `struct nlmsghdr` and `struct inet_diag_req_v2` (linux/inet_diag.h).
const HEADER_LEN: usize = 16;
const REQUEST_LEN: usize = HEADER_LEN + 56;
/// In a reply, `struct inet_diag_msg` after the header: the family, then at offset 4
/// the socket id (source port, big-endian, then destination port, then the source
/// address: 16 bytes, IPv4 in the first 4).
const MSG_FAMILY: usize = HEADER_LEN;
const MSG_SPORT: usize = HEADER_LEN + 4;
const MSG_SRC: usize = HEADER_LEN + 8;

/// The dump request for every listening TCP socket of `family` (AF_INET or AF_INET6).
pub(crate) fn request(family: u8, seq: u32) -> [u8; REQUEST_LEN] {
    let mut m = [0u8; REQUEST_LEN];
    m[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m[6..8].copy_from_slice(&FLAGS.to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m[HEADER_LEN] = family;
    m[HEADER_LEN + 1] = libc::IPPROTO_TCP as u8;
    m[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&LISTEN_STATE.to_ne_bytes());
    m
}

/// What the replies to a dump said so far about one address.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listeners {
    /// A listener accepts connections to the address.
    pub found: bool,
    /// The dump is complete (NLMSG_DONE).
    pub done: bool,
    /// The kernel answered with an error.
    pub failed: bool,
}

impl Listeners {
    /// Reads one datagram of the dump, looking for a listener that accepts `addr`.
    pub(crate) fn read(&mut self, datagram: &[u8], addr: SocketAddr) {
        let mut at = 0;
        while let Some(header) = datagram.get(at..at + HEADER_LEN) {
            let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let kind = u16::from_ne_bytes([header[4], header[5]]);
            if len < HEADER_LEN || at + len > datagram.len() {
                self.failed = true;
                return;
            }
            let message = &datagram[at..at + len];
            match kind {
                NLMSG_DONE => self.done = true,
                NLMSG_ERROR => {
                    self.failed = true;
                    self.done = true;
                }
                SOCK_DIAG_BY_FAMILY if listener_of(message).is_some_and(|l| accepts(l, addr)) => {
                    self.found = true;
                }
                _ => {}
            }
            at += len.next_multiple_of(4);
        }
    }
}

/// The address an `inet_diag_msg` listens on.
fn listener_of(message: &[u8]) -> Option<SocketAddr> {
    let src = message.get(MSG_SRC..MSG_SRC + 16)?;
    let port = u16::from_be_bytes([*message.get(MSG_SPORT)?, *message.get(MSG_SPORT + 1)?]);
    let ip = match i32::from(*message.get(MSG_FAMILY)?) {
        libc::AF_INET => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        libc::AF_INET6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(src).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Whether a socket listening on `listener` accepts connections to `addr`: the same
/// port, and the same address or a wildcard (an IPv6 wildcard takes IPv4 too, unless
/// it is v6-only, which this cannot tell: it is counted as taking it).
fn accepts(listener: SocketAddr, addr: SocketAddr) -> bool {
    if listener.port() != addr.port() {
        return false;
    }
    let l = torsocks_core::addr::canonical(listener.ip());
    l == torsocks_core::addr::canonical(addr.ip())
        || l.is_unspecified() && (listener.is_ipv6() || addr.is_ipv4())
}

/// A netlink socket for asking, and the buffer its replies are read into.
#[derive(Debug)]
pub(crate) struct Probe {
    socket: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Probe {
    /// A probe; `None` when sock_diag cannot be used (no netlink, a seccomp policy).
    pub(crate) fn new() -> Option<Probe> {
        let socket = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )
        .ok()?;
        Some(Probe {
            socket,
            seq: 0,
            buf: vec![0; 32 << 10],
        })
    }

    /// Whether a TCP socket of this network namespace listens for `addr`; `None` when
    /// the kernel did not say.
    pub(crate) fn listening(&mut self, addr: SocketAddr) -> Option<bool> {
        let families: &[u8] = if addr.is_ipv4() {
            &[libc::AF_INET as u8, libc::AF_INET6 as u8]
        } else {
            &[libc::AF_INET6 as u8]
        };
        for &family in families {
            self.seq = self.seq.wrapping_add(1);
            let fd = self.socket.as_raw_fd();
            send(fd, &request(family, self.seq), MsgFlags::empty()).ok()?;
            let mut seen = Listeners::default();
            // A dump of listeners is a few datagrams at most; bounded all the same.
            for _ in 0..64 {
                let n = recv(fd, &mut self.buf, MsgFlags::empty()).ok()?;
                seen.read(&self.buf[..n], addr);
                if seen.done || seen.failed {
                    break;
                }
            }
            if seen.failed || !seen.done {
                return None;
            }
            if seen.found {
                return Some(true);
            }
        }
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `inet_diag_msg` as the kernel sends it, for a listener on `at`.
    fn message(at: SocketAddr) -> Vec<u8> {
        let len = HEADER_LEN + 72;
        let mut m = vec![0u8; len];
        m[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
        m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m[MSG_SPORT..MSG_SPORT + 2].copy_from_slice(&at.port().to_be_bytes());
        match at.ip() {
            IpAddr::V4(v4) => {
                m[MSG_FAMILY] = libc::AF_INET as u8;
                m[MSG_SRC..MSG_SRC + 4].copy_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                m[MSG_FAMILY] = libc::AF_INET6 as u8;
                m[MSG_SRC..MSG_SRC + 16].copy_from_slice(&v6.octets());
            }
        }
        m
    }

    fn done() -> Vec<u8> {
        let mut m = vec![0u8; 20];
        m[0..4].copy_from_slice(&20u32.to_ne_bytes());
        m[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        m
    }

    fn read(datagrams: &[Vec<u8>], addr: &str) -> Listeners {
        let mut seen = Listeners::default();
        for d in datagrams {
            seen.read(d, addr.parse().unwrap());
        }
        seen
    }

    #[test]
    fn the_request_is_a_listener_dump_of_tcp() {
        let r = request(libc::AF_INET as u8, 7);
        assert_eq!(
            u32::from_ne_bytes(r[0..4].try_into().unwrap()) as usize,
            r.len()
        );
        assert_eq!(u16::from_ne_bytes([r[6], r[7]]), 0x301);
        assert_eq!(r[HEADER_LEN + 1], 6);
        assert_eq!(u32::from_ne_bytes(r[20..24].try_into().unwrap()), 1 << 10);
    }

    #[test]
    fn a_listener_on_the_address_or_a_wildcard_is_found() {
        let tor = "127.0.0.1:9050";
        let mut batch = message("127.0.0.1:9050".parse().unwrap());
        batch.extend(done());
        assert_eq!(
            read(&[batch], tor),
            Listeners {
                found: true,
                done: true,
                failed: false
            }
        );
        let wildcard = [message("0.0.0.0:9050".parse().unwrap()), done()];
        assert!(read(&wildcard, tor).found);
        let v6_wildcard = [message("[::]:9050".parse().unwrap()), done()];
        assert!(read(&v6_wildcard, tor).found);
        let v6 = [message("[::1]:9050".parse().unwrap()), done()];
        assert!(read(&v6, "[::1]:9050").found);
        assert!(!read(&v6, tor).found);
    }

    #[test]
    fn other_ports_and_addresses_are_not_tor() {
        let others = [
            message("127.0.0.1:9051".parse().unwrap()),
            message("127.0.0.2:9050".parse().unwrap()),
            done(),
        ];
        let seen = read(&others, "127.0.0.1:9050");
        assert_eq!(
            seen,
            Listeners {
                found: false,
                done: true,
                failed: false
            }
        );
        let v4_wildcard = [message("0.0.0.0:9050".parse().unwrap()), done()];
        assert!(!read(&v4_wildcard, "[::1]:9050").found);
    }

    #[test]
    fn truncated_or_refused_replies_fail() {
        let mut short = message("127.0.0.1:9050".parse().unwrap());
        short.truncate(30);
        assert!(read(&[short], "127.0.0.1:9050").failed);
        let mut error = done();
        error[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(read(&[error], "127.0.0.1:9050").failed);
    }

    #[test]
    fn the_kernel_answers_for_a_socket_of_ours() {
        let Some(mut probe) = Probe::new() else {
            return; // no sock_diag here: the TCP probe takes over
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(probe.listening(addr), Some(true));
        drop(listener);
        assert_eq!(probe.listening(addr), Some(false));
    }
}
