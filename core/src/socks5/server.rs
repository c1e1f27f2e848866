//! The server side of SOCKS5 (RFC 1928, RFC 1929) with Tor's RESOLVE (`F0`) and
//! RESOLVE_PTR (`F1`), and of SOCKS4 and SOCKS4a CONNECT (as Tor's SocksPort serves
//! them), sans-IO: feed it the client's bytes, get what to send and, once the request
//! is complete, what the client asked for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{wire, Auth, Status};

/// What a client asked for, authenticated as `auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// CONNECT to a host (a name, or an address's text) and port.
    Connect {
        /// The host.
        host: Vec<u8>,
        /// The port.
        port: u16,
    },
    /// RESOLVE a name.
    Resolve(Vec<u8>),
    /// RESOLVE_PTR an address.
    ResolvePtr(IpAddr),
}

/// The next step of a server-side exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read more bytes and call [`Server::input`] again.
    NeedMore,
    /// Send these bytes, then read on.
    Send(Vec<u8>),
    /// The request is complete: carry it out, then send [`reply`]'s bytes.
    Request(Ask),
    /// Send these bytes (possibly none) and close: the client broke the protocol or
    /// asked for something this server does not do.
    Refuse(Vec<u8>),
}

/// SOCKS4's version byte, and its reply codes.
mod v4 {
    pub(super) const VERSION: u8 = 0x04;
    pub(super) const CMD_CONNECT: u8 = 0x01;
    /// Reply version: 0.
    pub(super) const REPLY: u8 = 0x00;
    pub(super) const GRANTED: u8 = 0x5a;
    pub(super) const REJECTED: u8 = 0x5b;
    /// The longest user id or name accepted (Tor's own limit is similar).
    pub(super) const MAX_FIELD: usize = 255;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Credentials,
    Request,
    Done,
}

/// One client's exchange.
#[derive(Debug)]
pub struct Server {
    state: State,
    buf: Vec<u8>,
    auth: Option<Auth>,
    /// The client speaks SOCKS4 (replies are SOCKS4's 8 bytes).
    socks4: bool,
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

/// The most bytes any one message can take (a request with a 255-byte name).
pub const MAX_MESSAGE: usize = 4 + 1 + 255 + 2;

impl Server {
    /// A new exchange, waiting for the greeting.
    pub fn new() -> Server {
        Server {
            state: State::Greeting,
            buf: Vec::new(),
            auth: None,
            socks4: false,
        }
    }

    /// The reply to send for `outcome`, in the client's version of the protocol.
    pub fn reply(&self, outcome: &Outcome) -> Vec<u8> {
        if self.socks4 {
            let code = match outcome {
                Outcome::Connected => v4::GRANTED,
                _ => v4::REJECTED,
            };
            return vec![v4::REPLY, code, 0, 0, 0, 0, 0, 0];
        }
        reply(outcome)
    }

    /// The credentials the client sent (RFC 1929), if it chose that method.
    pub fn client_auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    /// Feeds `input`; returns the next step. Call with an empty slice after a
    /// [`Step::Send`] to go on with bytes already buffered.
    pub fn input(&mut self, input: &[u8]) -> Step {
        self.buf.extend_from_slice(input);
        match self.state {
            State::Greeting => self.greeting(),
            State::Credentials => self.credentials(),
            State::Request => self.request(),
            State::Done => Step::NeedMore,
        }
    }

    /// Bytes the client sent after its request (its first data, for CONNECT).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn greeting(&mut self) -> Step {
        let b = &self.buf;
        if b.is_empty() {
            return Step::NeedMore;
        }
        if b[0] == v4::VERSION {
            return self.socks4_request();
        }
        if b[0] != wire::VERSION {
            return Step::Refuse(Vec::new());
        }
        let Some(&n) = b.get(1) else {
            return Step::NeedMore;
        };
        let len = 2 + usize::from(n);
        if b.len() < len {
            return Step::NeedMore;
        }
        let methods = &b[2..len];
        // As Tor does: username/password when offered (the client wants isolation).
        let chosen = if methods.contains(&wire::METHOD_USER_PASS) {
            wire::METHOD_USER_PASS
        } else if methods.contains(&wire::METHOD_NO_AUTH) {
            wire::METHOD_NO_AUTH
        } else {
            return Step::Refuse(vec![wire::VERSION, wire::METHOD_NONE_ACCEPTABLE]);
        };
        self.buf.drain(..len);
        self.state = if chosen == wire::METHOD_USER_PASS {
            State::Credentials
        } else {
            State::Request
        };
        Step::Send(vec![wire::VERSION, chosen])
    }

    /// `04 CD PORT IP USERID 00 [HOST 00]` (SOCKS4; SOCKS4a when IP is 0.0.0.x, x ≠ 0).
    fn socks4_request(&mut self) -> Step {
        self.socks4 = true;
        let refuse = Step::Refuse(vec![v4::REPLY, v4::REJECTED, 0, 0, 0, 0, 0, 0]);
        let b = &self.buf;
        if b.len() < 9 {
            return Step::NeedMore;
        }
        let Some(user_end) = b[8..].iter().position(|&c| c == 0).map(|p| 8 + p) else {
            return if b.len() > 8 + v4::MAX_FIELD {
                refuse
            } else {
                Step::NeedMore
            };
        };
        let port = u16::from_be_bytes([b[2], b[3]]);
        let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
        let (host, len) = if b[4..7] == [0, 0, 0] && b[7] != 0 {
            let start = user_end + 1;
            let Some(end) = b[start..].iter().position(|&c| c == 0).map(|p| start + p) else {
                return if b.len() > start + v4::MAX_FIELD {
                    refuse
                } else {
                    Step::NeedMore
                };
            };
            (b[start..end].to_vec(), end + 1)
        } else {
            (ip.to_string().into_bytes(), user_end + 1)
        };
        if b[1] != v4::CMD_CONNECT || host.is_empty() {
            return refuse;
        }
        let user = b[8..user_end].to_vec();
        if !user.is_empty() {
            // Tor isolates by the SOCKS4 user id as by SOCKS5 credentials.
            self.auth = Some(Auth::UserPass {
                username: user,
                password: Vec::new(),
            });
        }
        self.buf.drain(..len);
        self.state = State::Done;
        Step::Request(Ask::Connect { host, port })
    }

    fn credentials(&mut self) -> Step {
        let b = &self.buf;
        if b.len() < 2 {
            return Step::NeedMore;
        }
        if b[0] != wire::AUTH_VERSION {
            return Step::Refuse(vec![wire::AUTH_VERSION, 1]);
        }
        let ulen = usize::from(b[1]);
        let Some(&plen) = b.get(2 + ulen) else {
            return Step::NeedMore;
        };
        let len = 3 + ulen + usize::from(plen);
        if b.len() < len {
            return Step::NeedMore;
        }
        self.auth = Some(Auth::UserPass {
            username: b[2..2 + ulen].to_vec(),
            password: b[3 + ulen..len].to_vec(),
        });
        self.buf.drain(..len);
        self.state = State::Request;
        // Every pair is accepted: credentials choose circuits, they grant nothing.
        Step::Send(vec![wire::AUTH_VERSION, 0])
    }

    fn request(&mut self) -> Step {
        let b = &self.buf;
        if b.len() < 5 {
            return Step::NeedMore;
        }
        if b[0] != wire::VERSION {
            return Step::Refuse(Vec::new());
        }
        let (command, atyp) = (b[1], b[3]);
        let addr_len = match atyp {
            wire::ATYP_IPV4 => 4,
            wire::ATYP_IPV6 => 16,
            wire::ATYP_DOMAIN => 1 + usize::from(b[4]),
            _ => return Step::Refuse(error_reply(Status::AddressTypeNotSupported)),
        };
        let len = 4 + addr_len + 2;
        if b.len() < len {
            return Step::NeedMore;
        }
        let addr = &b[4..4 + addr_len];
        let port = u16::from_be_bytes([b[len - 2], b[len - 1]]);
        let ip = match atyp {
            wire::ATYP_IPV4 => Some(IpAddr::V4(Ipv4Addr::new(
                addr[0], addr[1], addr[2], addr[3],
            ))),
            wire::ATYP_IPV6 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(addr);
                Some(IpAddr::V6(Ipv6Addr::from(octets)))
            }
            _ => None,
        };
        let host = match ip {
            Some(ip) => super::ip_host(ip).into_bytes(),
            None => addr[1..].to_vec(),
        };
        let ask = match command {
            wire::CMD_CONNECT if host.is_empty() => {
                return Step::Refuse(error_reply(Status::GeneralFailure))
            }
            wire::CMD_CONNECT => Ask::Connect { host, port },
            wire::CMD_RESOLVE => match ip {
                // An address resolves to itself, as Tor answers.
                Some(_) => Ask::Resolve(host),
                None if host.is_empty() => {
                    return Step::Refuse(error_reply(Status::GeneralFailure))
                }
                None => Ask::Resolve(host),
            },
            wire::CMD_RESOLVE_PTR => match ip {
                Some(ip) => Ask::ResolvePtr(ip),
                None => return Step::Refuse(error_reply(Status::AddressTypeNotSupported)),
            },
            // BIND and UDP ASSOCIATE: Tor has neither.
            _ => return Step::Refuse(error_reply(Status::CommandNotSupported)),
        };
        self.buf.drain(..len);
        self.state = State::Done;
        Step::Request(ask)
    }
}

/// How a request ended, for [`reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// CONNECT succeeded.
    Connected,
    /// RESOLVE found this address.
    Resolved(IpAddr),
    /// RESOLVE_PTR found this name.
    Named(Vec<u8>),
    /// Failed with this status.
    Failed(Status),
}

/// The reply to send for `outcome`.
pub fn reply(outcome: &Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Connected => error_reply(Status::Succeeded),
        Outcome::Resolved(IpAddr::V4(v4)) => {
            let mut r = vec![wire::VERSION, Status::Succeeded.byte(), 0, wire::ATYP_IPV4];
            r.extend_from_slice(&v4.octets());
            r.extend_from_slice(&[0, 0]);
            r
        }
        Outcome::Resolved(IpAddr::V6(v6)) => {
            let mut r = vec![wire::VERSION, Status::Succeeded.byte(), 0, wire::ATYP_IPV6];
            r.extend_from_slice(&v6.octets());
            r.extend_from_slice(&[0, 0]);
            r
        }
        Outcome::Named(name) => {
            let name = &name[..name.len().min(wire::MAX_LEN)];
            let mut r = vec![
                wire::VERSION,
                Status::Succeeded.byte(),
                0,
                wire::ATYP_DOMAIN,
                name.len() as u8,
            ];
            r.extend_from_slice(name);
            r.extend_from_slice(&[0, 0]);
            r
        }
        Outcome::Failed(status) => error_reply(*status),
    }
}

/// `05 REP 00 01 0.0.0.0:0`.
fn error_reply(status: Status) -> Vec<u8> {
    vec![
        wire::VERSION,
        status.byte(),
        0,
        wire::ATYP_IPV4,
        0,
        0,
        0,
        0,
        0,
        0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` one at a time: every prefix must ask for more.
    fn feed_slowly(server: &mut Server, bytes: &[u8]) -> Step {
        for (i, b) in bytes.iter().enumerate() {
            let step = server.input(&[*b]);
            if i + 1 < bytes.len() {
                assert_eq!(step, Step::NeedMore, "prefix of {} bytes", i + 1);
            } else {
                return step;
            }
        }
        server.input(&[])
    }

    #[test]
    fn connect_by_name_without_authentication() {
        let mut s = Server::new();
        assert_eq!(feed_slowly(&mut s, &[5, 1, 0]), Step::Send(vec![5, 0]));
        let step = feed_slowly(&mut s, b"\x05\x01\x00\x03\x0bexample.org\x00\x50");
        assert_eq!(
            step,
            Step::Request(Ask::Connect {
                host: b"example.org".to_vec(),
                port: 80
            })
        );
        assert_eq!(s.client_auth(), None);
        assert_eq!(reply(&Outcome::Connected), [5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn credentials_are_taken_when_offered_and_data_after_the_request_kept() {
        let mut s = Server::new();
        assert_eq!(s.input(&[5, 2, 0, 2]), Step::Send(vec![5, 2]));
        assert_eq!(s.input(b"\x01\x05alice\x02pw"), Step::Send(vec![1, 0]));
        let step = s.input(b"\x05\x01\x00\x01\xc0\x00\x02\x01\x01\xbbGET");
        assert_eq!(
            step,
            Step::Request(Ask::Connect {
                host: b"192.0.2.1".to_vec(),
                port: 443
            })
        );
        assert_eq!(
            s.client_auth(),
            Some(&Auth::UserPass {
                username: b"alice".to_vec(),
                password: b"pw".to_vec()
            })
        );
        assert_eq!(s.take_rest(), b"GET");
    }

    #[test]
    fn ipv6_destinations_and_lookups() {
        let mut s = Server::new();
        s.input(&[5, 1, 0]);
        let mut req = vec![5, 1, 0, 4];
        req.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        req.extend_from_slice(&[0, 22]);
        assert_eq!(
            s.input(&req),
            Step::Request(Ask::Connect {
                host: b"2001:db8::1".to_vec(),
                port: 22
            })
        );
        let mut s = Server::new();
        s.input(&[5, 1, 0]);
        assert_eq!(
            s.input(b"\x05\xf0\x00\x03\x06a.test\x00\x00"),
            Step::Request(Ask::Resolve(b"a.test".to_vec()))
        );
        let mut s = Server::new();
        s.input(&[5, 1, 0]);
        assert_eq!(
            s.input(&[5, 0xf1, 0, 1, 192, 0, 2, 7, 0, 0]),
            Step::Request(Ask::ResolvePtr("192.0.2.7".parse().unwrap()))
        );
        assert_eq!(
            reply(&Outcome::Resolved("2001:db8::2".parse().unwrap()))[..4],
            [5, 0, 0, 4]
        );
        assert_eq!(
            reply(&Outcome::Named(b"x.test".to_vec())),
            b"\x05\x00\x00\x03\x06x.test\x00\x00"
        );
    }

    #[test]
    fn what_tor_does_not_do_is_refused() {
        let refused = |bytes: &[u8]| {
            let mut s = Server::new();
            s.input(&[5, 1, 0]);
            s.input(bytes)
        };
        // BIND, UDP ASSOCIATE.
        assert_eq!(
            refused(&[5, 2, 0, 1, 1, 2, 3, 4, 0, 80]),
            Step::Refuse(error_reply(Status::CommandNotSupported))
        );
        assert_eq!(
            refused(&[5, 3, 0, 1, 1, 2, 3, 4, 0, 80]),
            Step::Refuse(error_reply(Status::CommandNotSupported))
        );
        assert_eq!(
            refused(&[5, 1, 0, 9, 1, 2, 3, 4, 0, 80]),
            Step::Refuse(error_reply(Status::AddressTypeNotSupported))
        );
        assert_eq!(
            refused(b"\x05\xf1\x00\x03\x01a\x00\x00"),
            Step::Refuse(error_reply(Status::AddressTypeNotSupported))
        );
        assert_eq!(
            refused(b"\x05\x01\x00\x03\x00\x00\x50"),
            Step::Refuse(error_reply(Status::GeneralFailure))
        );
        // A greeting offering only GSSAPI, and another protocol.
        assert_eq!(Server::new().input(&[5, 1, 1]), Step::Refuse(vec![5, 0xff]));
        assert_eq!(Server::new().input(b"GET / HTTP/1.0"), Step::Refuse(vec![]));
    }

    #[test]
    fn socks4_and_socks4a_connect() {
        let mut s = Server::new();
        assert_eq!(
            feed_slowly(&mut s, b"\x04\x01\x00\x50\xc0\x00\x02\x01\x00"),
            Step::Request(Ask::Connect {
                host: b"192.0.2.1".to_vec(),
                port: 80
            })
        );
        assert_eq!(s.client_auth(), None);
        assert_eq!(s.reply(&Outcome::Connected), [0, 0x5a, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            s.reply(&Outcome::Failed(Status::HostUnreachable)),
            [0, 0x5b, 0, 0, 0, 0, 0, 0]
        );
        let mut s = Server::new();
        let step = feed_slowly(
            &mut s,
            b"\x04\x01\x01\xbb\x00\x00\x00\x01alice\x00x.onion\x00",
        );
        assert_eq!(
            step,
            Step::Request(Ask::Connect {
                host: b"x.onion".to_vec(),
                port: 443
            })
        );
        assert_eq!(
            s.client_auth(),
            Some(&Auth::UserPass {
                username: b"alice".to_vec(),
                password: vec![]
            })
        );
        // BIND, and a user id that never ends.
        let rejected = Step::Refuse(vec![0, 0x5b, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            Server::new().input(b"\x04\x02\x00\x50\x01\x02\x03\x04\x00"),
            rejected
        );
        let mut long = b"\x04\x01\x00\x50\x01\x02\x03\x04".to_vec();
        long.extend_from_slice(&[b'a'; 300]);
        assert_eq!(Server::new().input(&long), rejected);
    }
}
