//! Is a TCP port on this machine still listening? Asked of the kernel with sock_diag
//! (NETLINK_SOCK_DIAG), which costs the listener nothing: telling a Tor that ended a
//! stream from a Tor that died used to open a connection to its SOCKS port for every
//! stream that ended, doubling the connections the SOCKS server had to accept.
//!
//! The question is an exact lookup, not a dump of every listener (`ss -lt`'s query):
//! the kernel looks the address up in its listening hash as it would for an arriving
//! SYN, wildcards and dual-stack IPv6 sockets included, and answers with that one socket
//! or ENOENT. A dump walks every bucket of the listening hash, and is asked once per
//! stream that Tor ends: about 25 µs against 6 here.
//!
//! The request and the reply are handled sans-IO ([`request`], [`answer`]); the one
//! netlink socket is [`Probe`]. Hand-written rather than with netlink-packet-sock-diag:
//! that crate's netlink stack is a different major version from the one rtnetlink uses
//! here, and one fixed request with one reply layout is all that is needed.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLM_F_REQUEST` (linux/netlink.h): without `NLM_F_DUMP`, an exact lookup.
const FLAGS: u16 = 0x1;
/// `NLMSG_ERROR` (linux/netlink.h).
const NLMSG_ERROR: u16 = 2;
/// `TCP_LISTEN` (include/net/tcp_states.h), and as a state bit.
const TCP_LISTEN: u8 = 10;
const LISTEN_STATE: u32 = 1 << TCP_LISTEN;
/// `INET_DIAG_NOCOOKIE` (linux/inet_diag.h): the lookup is by address alone.
const NO_COOKIE: u32 = !0;
/// `struct nlmsghdr` and `struct inet_diag_req_v2` (linux/inet_diag.h): the request's
/// socket id starts at offset 8 with the source port (big-endian), the destination
/// port, the source address (16 bytes, IPv4 in the first 4), the destination address,
/// the interface and the cookie.
const HEADER_LEN: usize = 16;
const REQUEST_LEN: usize = HEADER_LEN + 56;
const REQ_SPORT: usize = HEADER_LEN + 8;
const REQ_SRC: usize = HEADER_LEN + 12;
const REQ_COOKIE: usize = HEADER_LEN + 48;
/// In a reply, `struct inet_diag_msg` after the header: the family, then the state;
/// in an error, `struct nlmsgerr`'s negated errno after the header.
const MSG_STATE: usize = HEADER_LEN + 1;
const ERR_CODE: usize = HEADER_LEN;

/// The lookup of the TCP socket listening for connections to `addr`.
pub(crate) fn request(addr: SocketAddr, seq: u32) -> [u8; REQUEST_LEN] {
    let mut m = [0u8; REQUEST_LEN];
    m[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m[6..8].copy_from_slice(&FLAGS.to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m[HEADER_LEN + 1] = libc::IPPROTO_TCP as u8;
    m[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&LISTEN_STATE.to_ne_bytes());
    m[REQ_SPORT..REQ_SPORT + 2].copy_from_slice(&addr.port().to_be_bytes());
    // An IPv4-mapped IPv6 address is asked as IPv4: the kernel's IPv4 lookup also
    // finds dual-stack IPv6 listeners.
    match torsocks_core::addr::canonical(addr.ip()) {
        IpAddr::V4(v4) => {
            m[HEADER_LEN] = libc::AF_INET as u8;
            m[REQ_SRC..REQ_SRC + 4].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            m[HEADER_LEN] = libc::AF_INET6 as u8;
            m[REQ_SRC..REQ_SRC + 16].copy_from_slice(&v6.octets());
        }
    }
    m[REQ_COOKIE..REQ_COOKIE + 4].copy_from_slice(&NO_COOKIE.to_ne_bytes());
    m[REQ_COOKIE + 4..REQ_COOKIE + 8].copy_from_slice(&NO_COOKIE.to_ne_bytes());
    m
}

/// What a reply to [`request`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A socket listens for the address.
    Listening,
    /// None does (ENOENT).
    NotListening,
    /// The reply to an earlier request (one whose reader gave up): read on.
    Stale,
    /// Anything else (another error, a truncated or unexpected message): the caller
    /// must find out otherwise.
    Unknown,
}

/// Reads the kernel's reply to request `seq`.
pub(crate) fn answer(datagram: &[u8], seq: u32) -> Answer {
    let Some(header) = datagram.get(..HEADER_LEN) else {
        return Answer::Unknown;
    };
    let word = |at: usize| {
        u32::from_ne_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let len = word(0) as usize;
    if len < HEADER_LEN || len > datagram.len() {
        return Answer::Unknown;
    }
    if word(8) != seq {
        return Answer::Stale;
    }
    match u16::from_ne_bytes([header[4], header[5]]) {
        SOCK_DIAG_BY_FAMILY => match datagram.get(MSG_STATE) {
            Some(&TCP_LISTEN) => Answer::Listening,
            _ => Answer::Unknown,
        },
        NLMSG_ERROR => match datagram.get(ERR_CODE..ERR_CODE + 4) {
            Some(code)
                if i32::from_ne_bytes([code[0], code[1], code[2], code[3]]) == -libc::ENOENT =>
            {
                Answer::NotListening
            }
            _ => Answer::Unknown,
        },
        _ => Answer::Unknown,
    }
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
            buf: vec![0; 4096],
        })
    }

    /// Whether a TCP socket of this network namespace listens for `addr`; `None` when
    /// the kernel did not say.
    pub(crate) fn listening(&mut self, addr: SocketAddr) -> Option<bool> {
        self.seq = self.seq.wrapping_add(1);
        let fd = self.socket.as_raw_fd();
        send(fd, &request(addr, self.seq), MsgFlags::empty()).ok()?;
        // One reply per request (a socket's description, or an error), perhaps after
        // replies left over from requests whose reader was interrupted; bounded.
        for _ in 0..8 {
            let n = recv(fd, &mut self.buf, MsgFlags::empty()).ok()?;
            match answer(&self.buf[..n], self.seq) {
                Answer::Listening => return Some(true),
                Answer::NotListening => return Some(false),
                Answer::Stale => continue,
                Answer::Unknown => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to request `seq`: one `inet_diag_msg` of a socket in `state`.
    fn socket_reply(seq: u32, state: u8) -> Vec<u8> {
        let len = HEADER_LEN + 72;
        let mut m = vec![0u8; len];
        m[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
        m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m[8..12].copy_from_slice(&seq.to_ne_bytes());
        m[HEADER_LEN] = libc::AF_INET as u8;
        m[MSG_STATE] = state;
        m
    }

    /// An error reply to request `seq` (`struct nlmsgerr`: the negated errno, then the
    /// request's header).
    fn error_reply(seq: u32, errno: i32) -> Vec<u8> {
        let len = HEADER_LEN + 4 + HEADER_LEN;
        let mut m = vec![0u8; len];
        m[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
        m[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m[8..12].copy_from_slice(&seq.to_ne_bytes());
        m[ERR_CODE..ERR_CODE + 4].copy_from_slice(&(-errno).to_ne_bytes());
        m
    }

    #[test]
    fn the_request_is_an_exact_lookup_of_a_tcp_address() {
        let r = request("127.0.0.1:9050".parse().unwrap(), 7);
        assert_eq!(
            u32::from_ne_bytes(r[0..4].try_into().unwrap()) as usize,
            r.len()
        );
        assert_eq!(u16::from_ne_bytes([r[4], r[5]]), SOCK_DIAG_BY_FAMILY);
        assert_eq!(
            u16::from_ne_bytes([r[6], r[7]]),
            1,
            "NLM_F_REQUEST, no NLM_F_DUMP"
        );
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 7);
        assert_eq!(r[HEADER_LEN], libc::AF_INET as u8);
        assert_eq!(r[HEADER_LEN + 1], 6);
        assert_eq!(
            r[REQ_SPORT..REQ_SPORT + 2],
            [0x23, 0x5a],
            "9050, big-endian"
        );
        assert_eq!(r[REQ_SRC..REQ_SRC + 4], [127, 0, 0, 1]);
        assert_eq!(r[REQ_COOKIE..REQ_COOKIE + 8], [0xff; 8]);

        let mapped = request("[::ffff:127.0.0.1]:9050".parse().unwrap(), 8);
        assert_eq!(mapped[HEADER_LEN], libc::AF_INET as u8, "asked as IPv4");
        assert_eq!(mapped[REQ_SRC..REQ_SRC + 4], [127, 0, 0, 1]);
        let v6 = request("[::1]:9050".parse().unwrap(), 9);
        assert_eq!(v6[HEADER_LEN], libc::AF_INET6 as u8);
        assert_eq!(v6[REQ_SRC + 15], 1);
    }

    #[test]
    fn replies_say_listening_not_listening_or_nothing_certain() {
        assert_eq!(answer(&socket_reply(3, TCP_LISTEN), 3), Answer::Listening);
        assert_eq!(
            answer(&error_reply(3, libc::ENOENT), 3),
            Answer::NotListening
        );
        assert_eq!(answer(&error_reply(3, libc::EPERM), 3), Answer::Unknown);
        assert_eq!(
            answer(&socket_reply(3, 1), 3),
            Answer::Unknown,
            "not a listener"
        );
        let mut short = socket_reply(3, TCP_LISTEN);
        short.truncate(30);
        assert_eq!(answer(&short, 3), Answer::Unknown);
        assert_eq!(answer(&short[..10], 3), Answer::Unknown);
    }

    #[test]
    fn a_reply_to_an_earlier_request_is_passed_over() {
        assert_eq!(answer(&socket_reply(2, TCP_LISTEN), 3), Answer::Stale);
        assert_eq!(answer(&error_reply(2, libc::ENOENT), 3), Answer::Stale);
    }

    /// A listening IPv6 socket on the wildcard address, v6-only or dual-stack.
    fn v6_wildcard(v6_only: bool) -> Option<(OwnedFd, u16)> {
        use nix::sys::socket::SockaddrIn6;
        use nix::sys::socket::{bind, getsockname, listen, setsockopt, sockopt, Backlog};
        let fd = socket(
            AddressFamily::Inet6,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .ok()?;
        setsockopt(&fd, sockopt::Ipv6V6Only, &v6_only).ok()?;
        let any = SockaddrIn6::from(std::net::SocketAddrV6::new(
            std::net::Ipv6Addr::UNSPECIFIED,
            0,
            0,
            0,
        ));
        bind(fd.as_raw_fd(), &any).ok()?;
        listen(&fd, Backlog::new(1).ok()?).ok()?;
        let port = getsockname::<SockaddrIn6>(fd.as_raw_fd()).ok()?.port();
        Some((fd, port))
    }

    #[test]
    fn the_kernel_answers_for_sockets_of_ours() {
        // No forked child may hold a copy of a listener this test closes.
        let _no_fork = crate::FORKS.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut probe) = Probe::new() else {
            return; // no sock_diag here: the TCP probe takes over
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(probe.listening(addr), Some(true));
        let other: SocketAddr = format!("127.0.0.2:{}", addr.port()).parse().unwrap();
        assert_eq!(probe.listening(other), Some(false), "another address");
        // A connection to the port is not a listener.
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        drop(listener);
        assert_eq!(probe.listening(addr), Some(false));
        drop(client);

        let wildcard = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = wildcard.local_addr().unwrap().port();
        assert_eq!(
            probe.listening(format!("127.0.0.1:{port}").parse().unwrap()),
            Some(true)
        );

        if let Some((_dual, port)) = v6_wildcard(false) {
            let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            assert_eq!(
                probe.listening(v4),
                Some(true),
                "dual-stack [::] takes IPv4"
            );
            let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
            assert_eq!(probe.listening(v6), Some(true));
        }
        if let Some((_v6_only, port)) = v6_wildcard(true) {
            let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            assert_eq!(probe.listening(v4), Some(false), "v6-only [::] does not");
        }
    }
}
