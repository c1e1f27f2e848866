//! Byte-exact test vectors for every message and every truncated reply (spec §4).

use std::io::{self, Cursor, Read, Write};
use std::net::{IpAddr, SocketAddr};

use super::blocking::{exchange, ExchangeError};
use super::decode::{self, Decoded};
use super::*;
use crate::resolve::LookupError;

fn user_pass(u: &str, p: &str) -> Auth {
    Auth::UserPass {
        username: u.as_bytes().to_vec(),
        password: p.as_bytes().to_vec(),
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

// spec S-5, C-8, C-21
#[test]
fn greeting_bytes() {
    assert_eq!(encode::greeting(&Auth::NoAuth), [0x05, 0x01, 0x00]);
    assert_eq!(encode::greeting(&user_pass("u", "p")), [0x05, 0x01, 0x02]);
}

// spec S-7, C-21, C-71
#[test]
fn user_pass_bytes() {
    assert_eq!(
        encode::user_pass(b"alice", b"secret").unwrap(),
        b"\x01\x05alice\x06secret"
    );
    // An empty value from the environment is sent with length 00.
    assert_eq!(encode::user_pass(b"", b"").unwrap(), [0x01, 0x00, 0x00]);
    let max = vec![b'u'; 255];
    let msg = encode::user_pass(&max, b"p").unwrap();
    assert_eq!((msg[1], msg.len()), (255, 1 + 1 + 255 + 1 + 1));
    assert_eq!(
        encode::user_pass(&[b'u'; 256], b"p"),
        Err(Socks5Error::CredentialTooLong)
    );
}

// spec S-8, C-8: CONNECT is always ATYP 03
#[test]
fn connect_bytes() {
    let req = Request::connect_ip(sa("192.0.2.1:80"));
    assert_eq!(
        encode::request(&req).unwrap(),
        b"\x05\x01\x00\x03\x09192.0.2.1\x00\x50"
    );
    // D-4: IPv4-mapped destinations are sent as the dotted quad (C-13).
    let req = Request::connect_ip(sa("[::ffff:192.0.2.1]:443"));
    assert_eq!(
        encode::request(&req).unwrap(),
        b"\x05\x01\x00\x03\x09192.0.2.1\x01\xbb"
    );
    // IPv6 as inet_ntop text without brackets (C-25).
    let req = Request::connect_ip(sa("[2001:db8::1]:443"));
    assert_eq!(
        encode::request(&req).unwrap(),
        b"\x05\x01\x00\x03\x0b2001:db8::1\x01\xbb"
    );
    // inet_ntop keeps the dotted form of IPv4-compatible addresses.
    let req = Request::connect_ip(sa("[::1.2.3.4]:1"));
    assert_eq!(encode::request(&req).unwrap()[5..5 + 9], *b"::1.2.3.4");
    // Onion names are sent as given (O-7).
    let req = Request::Connect {
        host: b"abc.onion".to_vec(),
        port: 8080,
    };
    assert_eq!(
        encode::request(&req).unwrap(),
        b"\x05\x01\x00\x03\x09abc.onion\x1f\x90"
    );
}

// spec S-12, C-31
#[test]
fn resolve_bytes() {
    let req = Request::Resolve {
        name: b"www.example.com".to_vec(),
    };
    assert_eq!(
        encode::request(&req).unwrap(),
        b"\x05\xf0\x00\x03\x0fwww.example.com\x00\x2a"
    );
    let at_limit = Request::Resolve {
        name: vec![b'a'; 255],
    };
    assert_eq!(encode::request(&at_limit).unwrap().len(), 4 + 1 + 255 + 2);
    let too_long = Request::Resolve {
        name: vec![b'a'; 256],
    };
    assert_eq!(encode::request(&too_long), Err(Socks5Error::NameTooLong));
    assert_eq!(
        Handshake::new(Auth::NoAuth, too_long)
            .unwrap_err()
            .lookup_error(),
        LookupError::NoRecovery
    );
}

// spec S-14, C-34, C-45
#[test]
fn resolve_ptr_bytes() {
    let v4 = Request::ResolvePtr {
        addr: "192.0.2.9".parse().unwrap(),
    };
    assert_eq!(
        encode::request(&v4).unwrap(),
        [0x05, 0xf1, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x09, 0x00, 0x2a]
    );
    // RP-3: IPv4-mapped is sent as IPv4.
    let mapped = Request::ResolvePtr {
        addr: "::ffff:192.0.2.9".parse().unwrap(),
    };
    assert_eq!(
        encode::request(&mapped).unwrap(),
        encode::request(&v4).unwrap()
    );
    let v6 = Request::ResolvePtr {
        addr: "2001:db8::1".parse().unwrap(),
    };
    let mut want = vec![0x05, 0xf1, 0x00, 0x04];
    want.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    want.extend_from_slice(&[0x00, 0x2a]);
    assert_eq!(encode::request(&v6).unwrap(), want);
}

/// Every strict prefix of `reply` must be Incomplete, asking for no more bytes than the
/// reply has left; the whole reply must be Complete with exactly its length.
fn check_prefixes<T: std::fmt::Debug + PartialEq>(
    reply: &[u8],
    consumed: usize,
    decoder: impl Fn(&[u8]) -> Result<Decoded<T>, Socks5Error>,
) -> T {
    for cut in 0..consumed {
        match decoder(&reply[..cut]) {
            Ok(Decoded::Incomplete { needed }) => {
                assert!(
                    needed >= 1 && cut + needed <= consumed,
                    "cut {cut}: needed {needed}"
                )
            }
            other => panic!("prefix of {cut} bytes gave {other:?}"),
        }
    }
    match decoder(reply) {
        Ok(Decoded::Complete { value, len }) => {
            assert_eq!(len, consumed);
            value
        }
        other => panic!("whole reply gave {other:?}"),
    }
}

// spec S-6, C-20
#[test]
fn method_reply_rules() {
    check_prefixes(&[0x05, 0x00], 2, |b| decode::method_reply(b, 0x00));
    check_prefixes(&[0x05, 0x02], 2, |b| decode::method_reply(b, 0x02));
    assert_eq!(
        decode::method_reply(&[0x04, 0x00], 0x00),
        Err(Socks5Error::GreetingVersion(4))
    );
    assert_eq!(
        decode::method_reply(&[0x05, 0xff], 0x00),
        Err(Socks5Error::NoAcceptableMethod)
    );
    let mismatch = decode::method_reply(&[0x05, 0x02], 0x00).unwrap_err();
    assert_eq!(
        mismatch,
        Socks5Error::MethodMismatch {
            offered: 0,
            selected: 2
        }
    );
    assert_eq!(
        mismatch.to_string(),
        "Socks5 server selected auth method 2 but 0 was offered"
    );
    for e in [
        Socks5Error::GreetingVersion(4),
        Socks5Error::NoAcceptableMethod,
        mismatch,
    ] {
        assert_eq!(e.errno(), libc::ECONNABORTED);
        assert_eq!(e.lookup_error(), LookupError::NoRecovery);
    }
}

// spec S-7, C-21: only the status byte counts
#[test]
fn auth_reply_rules() {
    check_prefixes(&[0x01, 0x00], 2, decode::auth_reply);
    check_prefixes(&[0x07, 0x00], 2, decode::auth_reply);
    let err = decode::auth_reply(&[0x01, 0x01]).unwrap_err();
    assert_eq!(err.errno(), libc::EINVAL);
    assert_eq!(
        err.to_string(),
        "Socks5 username/password authentication failed (status 1)"
    );
}

// spec S-9, S-10, C-8, C-9, D-1: reply length follows ATYP, never the destination
#[test]
fn connect_reply_by_atyp() {
    let v4 = [5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90];
    assert_eq!(
        check_prefixes(&v4, 10, decode::connect_reply),
        BoundAddr::Ip(sa("10.0.0.1:8080"))
    );
    let mut v6 = vec![5, 0, 0, 4];
    v6.extend_from_slice(&[0; 15]);
    v6.extend_from_slice(&[1, 0, 80]);
    assert_eq!(
        check_prefixes(&v6, 22, decode::connect_reply),
        BoundAddr::Ip(sa("[::1]:80"))
    );
    let domain = b"\x05\x00\x00\x03\x04host\x00\x50";
    assert_eq!(
        check_prefixes(domain, 11, decode::connect_reply),
        BoundAddr::Domain(b"host".to_vec(), 80)
    );
    let empty_domain = b"\x05\x00\x00\x03\x00\x00\x50";
    check_prefixes(empty_domain, 7, decode::connect_reply);
    // Payload after the reply is never counted as part of it.
    let mut with_payload = v4.to_vec();
    with_payload.extend_from_slice(b"HELLO");
    assert!(matches!(
        decode::connect_reply(&with_payload),
        Ok(Decoded::Complete { len: 10, .. })
    ));
    let bad_atyp = decode::connect_reply(&[5, 0, 0, 2]).unwrap_err();
    assert_eq!(bad_atyp.to_string(), "Bad SOCKS5 atyp reply 2");
    assert_eq!(bad_atyp.errno(), libc::ECONNABORTED);
    let bad_version = decode::connect_reply(&[4]).unwrap_err();
    assert_eq!(bad_version.to_string(), "Bad SOCKS5 version reply");
    assert_eq!(bad_version.errno(), libc::ECONNABORTED);
}

// spec §4.6, C-19: every REP, its errno and its text; nothing read after REP
#[test]
fn connect_reply_codes() {
    let table = [
        (0x01, libc::ECONNREFUSED, "General SOCKS server failure"),
        (
            0x02,
            libc::ECONNREFUSED,
            "Connection not allowed by ruleset",
        ),
        (0x03, libc::ENETUNREACH, "Network unreachable"),
        (0x04, libc::EHOSTUNREACH, "Host unreachable"),
        (0x05, libc::ECONNREFUSED, "Connection refused to Tor SOCKS"),
        (0x06, libc::ETIMEDOUT, "Connection timed out"),
        (0x07, libc::ECONNREFUSED, "Command not supported"),
        (0x08, libc::ECONNREFUSED, "Address type not supported"),
        (
            0x09,
            libc::ECONNABORTED,
            "Socks5 server replied an unknown code 9",
        ),
        (
            0xf1,
            libc::ECONNABORTED,
            "Socks5 server replied an unknown code 241",
        ),
        (
            0xf7,
            libc::ECONNABORTED,
            "Socks5 server replied an unknown code 247",
        ),
    ];
    for (code, errno, text) in table {
        // Two bytes are enough: the failure is known before ATYP or address.
        let err = decode::connect_reply(&[5, code]).unwrap_err();
        assert_eq!(err.errno(), errno, "REP {code:#x}");
        assert_eq!(err.to_string(), text);
    }
}

// spec S-13, §4.9, C-31, C-32, C-42
#[test]
fn resolve_reply_rules() {
    let v4 = [5, 0, 0, 1, 198, 51, 100, 7, 0, 0];
    // The port may be left unread: the reply is complete after the address.
    assert_eq!(
        check_prefixes(&v4, 8, decode::resolve_reply),
        "198.51.100.7".parse::<IpAddr>().unwrap()
    );
    let mut v6 = vec![5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8];
    v6.extend_from_slice(&[0; 11]);
    v6.push(5);
    assert_eq!(
        check_prefixes(&v6, 20, decode::resolve_reply),
        "2001:db8::5".parse::<IpAddr>().unwrap()
    );
    let outcome = |code| {
        let err = decode::resolve_reply(&[5, code]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Unable to resolve. Status reply: {code}")
        );
        err.lookup_error()
    };
    assert_eq!(outcome(4), LookupError::NotFound);
    assert_eq!(outcome(1), LookupError::TryAgain);
    assert_eq!(outcome(6), LookupError::TryAgain);
    for code in [2, 3, 5, 7, 8, 0x09, 0xf0] {
        assert_eq!(outcome(code), LookupError::NoRecovery, "REP {code}");
    }
    assert_eq!(
        decode::resolve_reply(&[5, 0, 0, 3])
            .unwrap_err()
            .lookup_error(),
        LookupError::NoRecovery
    );
    assert_eq!(
        decode::resolve_reply(&[6]).unwrap_err().lookup_error(),
        LookupError::NoRecovery
    );
}

// spec S-15, C-34, C-35
#[test]
fn resolve_ptr_reply_rules() {
    let reply = b"\x05\x00\x00\x03\x0fptr.example.org\x00\x00";
    assert_eq!(
        check_prefixes(reply, 20, decode::resolve_ptr_reply),
        b"ptr.example.org".to_vec()
    );
    let empty = decode::resolve_ptr_reply(b"\x05\x00\x00\x03\x00").unwrap_err();
    assert_eq!(empty.lookup_error(), LookupError::NotFound);
    let v4 = decode::resolve_ptr_reply(&[5, 0, 0, 1]).unwrap_err();
    assert_eq!(v4, Socks5Error::BadAtyp(1));
    assert_eq!(v4.lookup_error(), LookupError::NoRecovery);
    assert_eq!(
        decode::resolve_ptr_reply(&[5, 4])
            .unwrap_err()
            .lookup_error(),
        LookupError::NotFound
    );
}

/// An in-memory server: what the client writes is recorded, reads come from `script`.
struct Scripted {
    script: Cursor<Vec<u8>>,
    written: Vec<u8>,
    /// Deliver at most this many bytes per read, to exercise partial reads.
    chunk: usize,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk);
        self.script.read(&mut buf[..n])
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn scripted(server: &[u8], chunk: usize) -> Scripted {
    Scripted {
        script: Cursor::new(server.to_vec()),
        written: Vec::new(),
        chunk,
    }
}

// spec C-8, S-11: the whole exchange, and the first application byte after the reply
#[test]
fn exchange_consumes_exactly_the_reply() {
    for chunk in [1, 3, 64] {
        let mut server = vec![5, 0];
        server.extend_from_slice(&[5, 0, 0, 3, 4]);
        server.extend_from_slice(b"abcd\x00\x50");
        server.extend_from_slice(b"PAYLOAD");
        let mut s = scripted(&server, chunk);
        let hs = Handshake::new(Auth::NoAuth, Request::connect_ip(sa("192.0.2.1:80"))).unwrap();
        let reply = exchange(hs, &mut s).unwrap();
        assert_eq!(
            reply,
            Reply::Connected(BoundAddr::Domain(b"abcd".to_vec(), 80))
        );
        assert_eq!(
            s.written,
            b"\x05\x01\x00\x05\x01\x00\x03\x09192.0.2.1\x00\x50"
        );
        let mut rest = String::new();
        s.script.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "PAYLOAD", "chunk {chunk}");
    }
}

// spec C-21: the authenticated exchange
#[test]
fn exchange_with_credentials() {
    let server = [5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    let mut s = scripted(&server, 64);
    let hs = Handshake::new(
        user_pass("u", "pw"),
        Request::connect_ip(sa("192.0.2.1:80")),
    )
    .unwrap();
    exchange(hs, &mut s).unwrap();
    assert_eq!(
        s.written,
        b"\x05\x01\x02\x01\x01u\x02pw\x05\x01\x00\x03\x09192.0.2.1\x00\x50"
    );
}

// spec S-3: end of stream before a full reply is EIO; lookups make it TryAgain
#[test]
fn exchange_eof() {
    for server in [&[][..], &[5][..], &[5, 0, 5, 0, 0, 1, 1, 2][..]] {
        let hs = Handshake::new(Auth::NoAuth, Request::connect_ip(sa("192.0.2.1:80"))).unwrap();
        let err = exchange(hs, &mut scripted(server, 64)).unwrap_err();
        assert!(matches!(err, ExchangeError::Eof));
        assert_eq!(err.errno(), libc::EIO);
        assert_eq!(err.lookup_error(), LookupError::TryAgain);
    }
}

// spec S-13: a RESOLVE exchange leaves the port unread
#[test]
fn exchange_resolve() {
    let server = [5, 0, 5, 0, 0, 1, 198, 51, 100, 7, 0, 0];
    let mut s = scripted(&server, 64);
    let hs = Handshake::new(
        Auth::NoAuth,
        Request::Resolve {
            name: b"www.example.com".to_vec(),
        },
    )
    .unwrap();
    assert_eq!(
        exchange(hs, &mut s).unwrap(),
        Reply::Resolved("198.51.100.7".parse().unwrap())
    );
    assert_eq!(s.script.position(), 10);
}

// The handshake hands back bytes a greedy caller read past the reply.
#[test]
fn handshake_returns_unconsumed_bytes() {
    let mut hs = Handshake::new(Auth::NoAuth, Request::connect_ip(sa("192.0.2.1:80"))).unwrap();
    assert!(matches!(hs.step(&[]).unwrap(), Action::Send(_)));
    assert_eq!(hs.step(&[]).unwrap(), Action::Recv(2));
    assert!(matches!(hs.step(&[5, 0]).unwrap(), Action::Send(_)));
    assert_eq!(hs.step(&[]).unwrap(), Action::Recv(4));
    let done = hs
        .step(&[5, 0, 0, 1, 1, 2, 3, 4, 0, 80, b'h', b'i'])
        .unwrap();
    assert!(matches!(done, Action::Done(Reply::Connected(_))));
    assert_eq!(hs.take_unconsumed(), b"hi");
}

// Robustness: arbitrary server bytes never panic a decoder, and every verdict is sane.
#[test]
fn decoders_never_panic_on_arbitrary_input() {
    let mut next = crate::test_rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Bias towards plausible headers so deeper paths are reached.
        if len > 0 && next() % 2 == 0 {
            buf[0] = 5;
        }
        if len > 1 && next() % 2 == 0 {
            buf[1] = 0;
        }
        let sane = |r: Result<Decoded<()>, Socks5Error>| match r {
            Ok(Decoded::Incomplete { needed }) => assert!(needed >= 1),
            Ok(Decoded::Complete { len: used, .. }) => assert!(used <= buf.len()),
            Err(_) => {}
        };
        sane(decode::method_reply(&buf, 0));
        sane(decode::auth_reply(&buf));
        sane(decode::connect_reply(&buf).map(|d| d.map(drop)));
        sane(decode::resolve_reply(&buf).map(|d| d.map(drop)));
        sane(decode::resolve_ptr_reply(&buf).map(|d| d.map(drop)));
    }
}

// Offering no authentication too: a server that picks username/password gets the
// credentials, one that picks "no authentication" gets the request straight away.
#[test]
fn exchange_offering_no_auth_too() {
    let connect = || Request::connect_ip(sa("192.0.2.1:80"));
    let request = b"\x05\x01\x00\x03\x09192.0.2.1\x00\x50";
    let mut s = scripted(&[5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0], 64);
    let hs = Handshake::offering_no_auth_too(user_pass("u", "pw"), connect()).unwrap();
    exchange(hs, &mut s).unwrap();
    let mut expected = b"\x05\x02\x00\x02\x01\x01u\x02pw".to_vec();
    expected.extend_from_slice(request);
    assert_eq!(s.written, expected);

    let mut s = scripted(&[5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0], 64);
    let hs = Handshake::offering_no_auth_too(user_pass("u", "pw"), connect()).unwrap();
    exchange(hs, &mut s).unwrap();
    let mut expected = b"\x05\x02\x00\x02".to_vec();
    expected.extend_from_slice(request);
    assert_eq!(s.written, expected);

    // A method neither offered is still an error, and without credentials the
    // greeting is the usual one.
    let hs = Handshake::offering_no_auth_too(user_pass("u", "pw"), connect()).unwrap();
    let err = exchange(hs, &mut scripted(&[5, 1], 64)).unwrap_err();
    assert!(matches!(
        err,
        ExchangeError::Protocol(Socks5Error::MethodMismatch { selected: 1, .. })
    ));
    let mut hs = Handshake::offering_no_auth_too(Auth::NoAuth, connect()).unwrap();
    assert_eq!(hs.step(&[]).unwrap(), Action::Send(vec![5, 1, 0]));
}
