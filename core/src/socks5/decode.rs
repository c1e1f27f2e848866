//! Reply parsers (spec §4.2–§4.8).
//!
//! Each takes the bytes received so far (from the start of the reply) and returns
//! [`Decoded::Incomplete`] with the number of further bytes it needs before it can say
//! more, or [`Decoded::Complete`] with the value and the reply's length. Reading exactly
//! `needed` bytes never reads past the end of the reply.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{wire, BoundAddr, Command, Socks5Error, Status};

/// The progress of a parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// At least `needed` more bytes are required.
    Incomplete {
        /// How many more bytes to read.
        needed: usize,
    },
    /// The reply is complete: its value and the number of bytes it took.
    Complete {
        /// The decoded value.
        value: T,
        /// Bytes consumed from the start of the buffer.
        len: usize,
    },
}

impl<T> Decoded<T> {
    /// Applies `f` to a complete value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        match self {
            Decoded::Incomplete { needed } => Decoded::Incomplete { needed },
            Decoded::Complete { value, len } => Decoded::Complete {
                value: f(value),
                len,
            },
        }
    }
}

fn need<T>(have: usize, want: usize) -> Option<Decoded<T>> {
    (have < want).then(|| Decoded::Incomplete {
        needed: want - have,
    })
}

/// The method reply `VV SS` (S-6): VV must be 5 and SS the offered method.
pub fn method_reply(buf: &[u8], offered: u8) -> Result<Decoded<()>, Socks5Error> {
    Ok(method_choice(buf, &[offered])?.map(|_| ()))
}

/// The method reply to a greeting that offered `offered` (the last one named in
/// errors): the method the server selected, which must be one of them.
pub fn method_choice(buf: &[u8], offered: &[u8]) -> Result<Decoded<u8>, Socks5Error> {
    if let Some(more) = need(buf.len(), 2) {
        return Ok(more);
    }
    match (buf[0], buf[1]) {
        (wire::VERSION, selected) if offered.contains(&selected) => Ok(Decoded::Complete {
            value: selected,
            len: 2,
        }),
        (wire::VERSION, wire::METHOD_NONE_ACCEPTABLE) => Err(Socks5Error::NoAcceptableMethod),
        (wire::VERSION, selected) => Err(Socks5Error::MethodMismatch {
            offered: offered.last().copied().unwrap_or(wire::METHOD_NO_AUTH),
            selected,
        }),
        (version, _) => Err(Socks5Error::GreetingVersion(version)),
    }
}

/// The RFC 1929 reply (S-7): only the status byte is checked.
pub fn auth_reply(buf: &[u8]) -> Result<Decoded<()>, Socks5Error> {
    if let Some(more) = need(buf.len(), 2) {
        return Ok(more);
    }
    match buf[1] {
        0 => Ok(Decoded::Complete { value: (), len: 2 }),
        status => Err(Socks5Error::AuthFailed { status }),
    }
}

/// The 4-byte header `VV REP RSV ATYP` shared by every reply (S-9, S-13). Returns ATYP.
fn header(buf: &[u8], command: Command) -> Result<Option<u8>, Socks5Error> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != wire::VERSION {
        return Err(Socks5Error::ReplyVersion(buf[0]));
    }
    // S-9: a failure code ends the exchange; nothing more is read.
    if buf.len() >= 2 && buf[1] != 0 {
        return Err(Socks5Error::Rejected {
            command,
            status: Status::from_byte(buf[1]),
        });
    }
    // None means "fewer than 4 bytes so far".
    Ok((buf.len() >= 4).then(|| buf[3]))
}

/// The CONNECT reply (S-9, S-10): the bound address is read by its ATYP, so exactly the
/// reply is consumed whatever address type the server chose (D-1).
pub fn connect_reply(buf: &[u8]) -> Result<Decoded<BoundAddr>, Socks5Error> {
    let Some(atyp) = header(buf, Command::Connect)? else {
        return Ok(Decoded::Incomplete {
            needed: 4 - buf.len(),
        });
    };
    let (addr_len, offset) = match atyp {
        wire::ATYP_IPV4 => (4, 4),
        wire::ATYP_IPV6 => (16, 4),
        wire::ATYP_DOMAIN => match buf.get(4) {
            Some(&n) => (usize::from(n), 5),
            None => return Ok(Decoded::Incomplete { needed: 1 }),
        },
        other => return Err(Socks5Error::BadAtyp(other)),
    };
    let total = offset + addr_len + 2;
    if let Some(more) = need(buf.len(), total) {
        return Ok(more);
    }
    let addr = &buf[offset..offset + addr_len];
    let port = u16::from_be_bytes([buf[total - 2], buf[total - 1]]);
    let bound = match atyp {
        wire::ATYP_IPV4 => BoundAddr::Ip(SocketAddr::new(ipv4(addr).into(), port)),
        wire::ATYP_IPV6 => BoundAddr::Ip(SocketAddr::new(ipv6(addr).into(), port)),
        _ => BoundAddr::Domain(addr.to_vec(), port),
    };
    Ok(Decoded::Complete {
        value: bound,
        len: total,
    })
}

/// The RESOLVE reply (S-13): an IPv4 or IPv6 address. The trailing port is not part of
/// the returned length: it may be left unread.
pub fn resolve_reply(buf: &[u8]) -> Result<Decoded<IpAddr>, Socks5Error> {
    let Some(atyp) = header(buf, Command::Resolve)? else {
        return Ok(Decoded::Incomplete {
            needed: 4 - buf.len(),
        });
    };
    let len = match atyp {
        wire::ATYP_IPV4 => 4,
        wire::ATYP_IPV6 => 16,
        other => return Err(Socks5Error::BadAtyp(other)),
    };
    if let Some(more) = need(buf.len(), 4 + len) {
        return Ok(more);
    }
    let addr = &buf[4..4 + len];
    let value = if len == 4 {
        IpAddr::V4(ipv4(addr))
    } else {
        IpAddr::V6(ipv6(addr))
    };
    Ok(Decoded::Complete {
        value,
        len: 4 + len,
    })
}

/// The RESOLVE_PTR reply (S-15): ATYP 03, a length byte and the name; an empty name is
/// "not found". The trailing port is not part of the returned length.
pub fn resolve_ptr_reply(buf: &[u8]) -> Result<Decoded<Vec<u8>>, Socks5Error> {
    let Some(atyp) = header(buf, Command::ResolvePtr)? else {
        return Ok(Decoded::Incomplete {
            needed: 4 - buf.len(),
        });
    };
    if atyp != wire::ATYP_DOMAIN {
        return Err(Socks5Error::BadAtyp(atyp));
    }
    let Some(&n) = buf.get(4) else {
        return Ok(Decoded::Incomplete { needed: 1 });
    };
    let total = 5 + usize::from(n);
    if n == 0 {
        return Err(Socks5Error::EmptyName);
    }
    if let Some(more) = need(buf.len(), total) {
        return Ok(more);
    }
    Ok(Decoded::Complete {
        value: buf[5..total].to_vec(),
        len: total,
    })
}

fn ipv4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn ipv6(b: &[u8]) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(b);
    Ipv6Addr::from(octets)
}
