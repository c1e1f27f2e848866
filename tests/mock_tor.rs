//! The mock Tor SOCKS server does what tests rely on: it records every request, relays
//! only where allowed, answers lookups from its tables, and fails on demand. Driven
//! here by torsocks-core's SOCKS5 client, so the codec is also checked against an
//! independent server implementation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use torsocks_core::resolve::LookupError;
use torsocks_core::socks5::blocking::{exchange, ExchangeError};
use torsocks_core::socks5::{Auth, BoundAddr, Handshake, Reply, Request};
use torsocks_testkit::mock_tor::{Connect, Greeting, MockTor};

fn connect_to(mock: &MockTor) -> TcpStream {
    let s = TcpStream::connect(mock.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn run(mock: &MockTor, auth: Auth, request: Request) -> (TcpStream, Result<Reply, ExchangeError>) {
    let mut s = connect_to(mock);
    let result = exchange(Handshake::new(auth, request).unwrap(), &mut s);
    (s, result)
}

fn resolve(name: &str) -> Request {
    Request::Resolve {
        name: name.as_bytes().to_vec(),
    }
}

// spec C-8: CONNECT is recorded byte for byte and relayed to a loopback server.
#[test]
fn relays_connect_to_loopback_and_records_it() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let dest = upstream.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = upstream.accept().unwrap();
        s.write_all(b"server first").unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    let mock = MockTor::start().unwrap();
    let (mut s, result) = run(&mock, Auth::NoAuth, Request::connect_ip(dest));
    assert!(matches!(
        result.unwrap(),
        Reply::Connected(BoundAddr::Ip(_))
    ));
    let mut first = [0u8; 12];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"server first");
    s.write_all(b"hello").unwrap();
    assert_eq!(&server.join().unwrap(), b"hello");

    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    let r = &recs[0];
    let host = dest.ip().to_string();
    assert_eq!(r.methods, [0]);
    assert_eq!((r.command, r.atyp), (Some(1), Some(3)));
    assert_eq!(r.host.as_deref(), Some(host.as_str()));
    assert_eq!(r.port, Some(dest.port()));
    assert_eq!((r.username.as_ref(), r.password.as_ref()), (None, None));
    let mut raw = vec![5, 1, 0, 5, 1, 0, 3, host.len() as u8];
    raw.extend_from_slice(host.as_bytes());
    raw.extend_from_slice(&dest.port().to_be_bytes());
    assert_eq!(r.raw, raw);
}

// The network rule: a destination off the machine is refused with REP 02.
#[test]
fn refuses_to_relay_off_the_machine() {
    let mock = MockTor::start().unwrap();
    let (_, result) = run(
        &mock,
        Auth::NoAuth,
        Request::connect_ip("192.0.2.1:80".parse().unwrap()),
    );
    assert_eq!(result.unwrap_err().errno(), libc::ECONNREFUSED);
    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(recs[0].host.as_deref(), Some("192.0.2.1"));
}

// spec C-31, C-32, C-34: RESOLVE and RESOLVE_PTR answered from the tables.
#[test]
fn answers_lookups_from_tables() {
    let v4: IpAddr = "198.51.100.7".parse().unwrap();
    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    let mock = MockTor::builder()
        .name("www.example.com", v4)
        .name("six.example.com", v6)
        .ptr("192.0.2.9".parse().unwrap(), "ptr.example.org")
        .start()
        .unwrap();
    assert_eq!(
        run(&mock, Auth::NoAuth, resolve("WWW.example.com"))
            .1
            .unwrap(),
        Reply::Resolved(v4)
    );
    assert_eq!(
        run(&mock, Auth::NoAuth, resolve("six.example.com"))
            .1
            .unwrap(),
        Reply::Resolved(v6)
    );
    let missing = run(&mock, Auth::NoAuth, resolve("nx.example.com"))
        .1
        .unwrap_err();
    assert_eq!(missing.lookup_error(), LookupError::NotFound);
    let ptr = Request::ResolvePtr {
        addr: "192.0.2.9".parse().unwrap(),
    };
    assert_eq!(
        run(&mock, Auth::NoAuth, ptr).1.unwrap(),
        Reply::ResolvedName(b"ptr.example.org".to_vec())
    );
    let recs = mock.wait_for_requests(4, Duration::from_secs(5));
    assert_eq!(
        recs[0].raw[3..],
        *b"\x05\xf0\x00\x03\x0fWWW.example.com\x00\x2a"
    );
    assert_eq!(recs[3].command, Some(0xf1));
    assert_eq!(recs[3].atyp, Some(1));
    assert_eq!(recs[3].host.as_deref(), Some("192.0.2.9"));
    assert_eq!(mock.connections(), 4);
}

// spec C-21: username/password is recorded; wrong credentials fail with EINVAL.
#[test]
fn username_password() {
    let mock = MockTor::builder()
        .require_auth()
        .credentials(b"alice", b"secret")
        .name("a.test", "127.0.0.1".parse().unwrap())
        .start()
        .unwrap();
    let good = Auth::UserPass {
        username: b"alice".to_vec(),
        password: b"secret".to_vec(),
    };
    assert!(run(&mock, good, resolve("a.test")).1.is_ok());
    let bad = Auth::UserPass {
        username: b"alice".to_vec(),
        password: b"nope".to_vec(),
    };
    assert_eq!(
        run(&mock, bad, resolve("a.test")).1.unwrap_err().errno(),
        libc::EINVAL
    );
    // No-auth is refused when auth is required: method FF.
    assert_eq!(
        run(&mock, Auth::NoAuth, resolve("a.test"))
            .1
            .unwrap_err()
            .errno(),
        libc::ECONNABORTED
    );
    let recs = mock.wait_for_requests(3, Duration::from_secs(5));
    let with_creds: Vec<_> = recs.iter().filter(|r| r.username.is_some()).collect();
    assert_eq!(with_creds.len(), 2);
    assert!(with_creds
        .iter()
        .all(|r| r.username.as_deref() == Some(&b"alice"[..])));
    assert!(recs
        .iter()
        .any(|r| r.password.as_deref() == Some(&b"nope"[..])));
}

// spec C-19: every failure code on demand.
#[test]
fn connect_failure_codes_on_demand() {
    for (code, errno) in [
        (1, libc::ECONNREFUSED),
        (4, libc::EHOSTUNREACH),
        (6, libc::ETIMEDOUT),
        (0xf1, libc::ECONNABORTED),
    ] {
        let mock = MockTor::builder()
            .connect(Connect::Fail(code))
            .start()
            .unwrap();
        let (_, r) = run(
            &mock,
            Auth::NoAuth,
            Request::connect_ip("192.0.2.1:80".parse().unwrap()),
        );
        assert_eq!(r.unwrap_err().errno(), errno, "REP {code}");
    }
}

// spec C-9: success replies with every ATYP, payload right after the reply.
#[test]
fn success_with_any_atyp_and_payload() {
    for atyp in [1, 3, 4] {
        let mock = MockTor::builder()
            .connect(Connect::Succeed {
                atyp,
                payload: b"PAYLOAD".to_vec(),
            })
            .start()
            .unwrap();
        let (mut s, r) = run(
            &mock,
            Auth::NoAuth,
            Request::connect_ip("192.0.2.1:80".parse().unwrap()),
        );
        r.unwrap();
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"PAYLOAD", "ATYP {atyp}");
        s.write_all(b"echo").unwrap();
        let mut back = [0u8; 4];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"echo");
    }
}

// Close and stall mid-handshake, garbage replies.
#[test]
fn misbehaviour_on_demand() {
    let mock = MockTor::builder()
        .greeting(Greeting::Close)
        .start()
        .unwrap();
    let (_, r) = run(&mock, Auth::NoAuth, resolve("x.test"));
    assert!(matches!(r.unwrap_err(), ExchangeError::Eof));

    let mock = MockTor::builder()
        .greeting(Greeting::Raw(vec![4, 0]))
        .start()
        .unwrap();
    assert_eq!(
        run(&mock, Auth::NoAuth, resolve("x.test"))
            .1
            .unwrap_err()
            .lookup_error(),
        LookupError::NoRecovery
    );

    let mock = MockTor::builder()
        .connect(Connect::Raw(vec![5, 0, 0, 9]))
        .start()
        .unwrap();
    let (_, r) = run(
        &mock,
        Auth::NoAuth,
        Request::connect_ip("192.0.2.1:80".parse().unwrap()),
    );
    assert_eq!(r.unwrap_err().to_string(), "Bad SOCKS5 atyp reply 9");

    let mock = MockTor::builder()
        .greeting(Greeting::Stall)
        .start()
        .unwrap();
    let mut s = connect_to(&mock);
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let r = exchange(
        Handshake::new(Auth::NoAuth, resolve("x.test")).unwrap(),
        &mut s,
    );
    match r.unwrap_err() {
        ExchangeError::Recv(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
        other => panic!("a stalled server must time out the read, got {other}"),
    }
}

// spec C-26: the mock can stand at [::1].
#[test]
fn listens_on_ipv6_loopback() {
    let Ok(mock) = MockTor::builder()
        .bind(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)))
        .name("a.test", IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5)))
        .start()
    else {
        torsocks_testkit::require::skip("no IPv6 loopback on this machine");
        return;
    };
    assert!(mock.addr().is_ipv6());
    assert_eq!(
        run(&mock, Auth::NoAuth, resolve("a.test")).1.unwrap(),
        Reply::Resolved("192.0.2.5".parse().unwrap())
    );
}
