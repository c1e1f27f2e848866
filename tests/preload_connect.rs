//! Preload mode, socket creation and connect (spec §5.1–§5.3, §5.7), with real
//! processes against the mock Tor server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::Output;
use std::time::Duration;

use torsocks_testkit::mock_tor::{Connect, Greeting, MockTor};
use torsocks_testkit::probe::{self, call as result, field};

fn sock(mock: &MockTor, args: &[&str]) -> Output {
    sock_env(mock.addr(), args, &[])
}

fn sock_env(tor: SocketAddr, args: &[&str], vars: &[(&str, &str)]) -> Output {
    probe::run("sock", tor, args, vars)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn succeeding_mock(payload: &[u8]) -> MockTor {
    MockTor::builder()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: payload.to_vec(),
        })
        .start()
        .unwrap()
}

// spec C-1, C-2, C-3, C-5
#[test]
fn socket_creation_rules() {
    let mock = MockTor::start().unwrap();
    for ty in [
        "stream",
        "stream+nonblock",
        "stream+cloexec",
        "stream+nonblock+cloexec",
    ] {
        assert!(
            result(&sock(&mock, &["socket", "inet", ty]), "socket").0 >= 0,
            "{ty}"
        );
    }
    for ty in ["dgram", "raw", "seqpacket"] {
        let out = sock(&mock, &["socket", "inet", ty]);
        assert_eq!(result(&out, "socket"), (-1, libc::EPERM), "{ty}");
        assert_eq!(stderr(&out), "", "no log line at level 3 (C-2)");
    }
    for ty in ["stream", "dgram"] {
        assert_eq!(
            result(&sock(&mock, &["socket", "inet6", ty]), "socket"),
            (-1, libc::ENOSYS)
        );
    }
    let out = sock_env(
        mock.addr(),
        &["socket", "inet6", "stream"],
        &[("TORSOCKS_LOG_LEVEL", "5")],
    );
    assert!(
        stderr(&out).contains("[socket] Denying ipv6"),
        "{}",
        stderr(&out)
    );
    for (domain, ty) in [("unix", "stream"), ("unix", "dgram"), ("netlink", "dgram")] {
        assert!(
            result(&sock(&mock, &["socket", domain, ty]), "socket").0 >= 0,
            "{domain} {ty}"
        );
    }
    assert_eq!(mock.connections(), 0);
}

// spec C-4, C-6, C-7
#[test]
fn ipv6_switch_localhost_udp_and_socketpair() {
    let mock = MockTor::start().unwrap();
    let v6 = [("TORSOCKS_ENABLE_IPV6", "1")];
    assert!(
        result(
            &sock_env(mock.addr(), &["socket", "inet6", "stream"], &v6),
            "socket"
        )
        .0 >= 0
    );
    assert_eq!(
        result(
            &sock_env(mock.addr(), &["socket", "inet6", "dgram"], &v6),
            "socket"
        ),
        (-1, libc::EPERM)
    );
    assert_eq!(
        result(&sock(&mock, &["socketpair", "inet"]), "socketpair"),
        (-1, libc::EPERM)
    );
    assert_eq!(
        result(&sock(&mock, &["socketpair", "unix"]), "socketpair"),
        (0, 0)
    );
}

// spec C-8: the exact bytes, and the server's payload is the first thing read.
#[test]
fn connect_sends_exact_bytes_and_payload_comes_first() {
    let mock = succeeding_mock(b"PAYLOAD");
    let out = sock(&mock, &["connect", "192.0.2.1", "80", "read=7"]);
    assert_eq!(result(&out, "connect"), (0, 0), "{}", stderr(&out));
    assert_eq!(field(&out.stdout, "data").as_deref(), Some("PAYLOAD"));
    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(
        recs[0].raw,
        b"\x05\x01\x00\x05\x01\x00\x03\x09192.0.2.1\x00\x50"
    );
}

// spec C-9: whatever ATYP the server chooses, no reply byte leaks and none is lost.
#[test]
fn connect_reply_of_any_atyp() {
    for atyp in [1u8, 3, 4] {
        let mock = MockTor::builder()
            .connect(Connect::Succeed {
                atyp,
                payload: b"0123456789AB".to_vec(),
            })
            .start()
            .unwrap();
        for dest in ["192.0.2.1", "2001:db8::1"] {
            let out = sock_env(
                mock.addr(),
                &["connect", dest, "443", "read=12"],
                &[("TORSOCKS_ENABLE_IPV6", "1")],
            );
            assert_eq!(
                result(&out, "connect").0,
                0,
                "ATYP {atyp} {dest}: {}",
                stderr(&out)
            );
            assert_eq!(field(&out.stdout, "data").as_deref(), Some("0123456789AB"));
        }
    }
}

// spec C-10, C-11, C-27: non-blocking connect completes, a second one is EISCONN, and
// getpeername shows the destination.
#[test]
fn nonblocking_again_and_peer() {
    let mock = succeeding_mock(b"");
    let out = sock(
        &mock,
        &["connect", "198.51.100.7", "8080", "nonblock", "again"],
    );
    assert_eq!(result(&out, "connect"), (0, 0), "{}", stderr(&out));
    assert_eq!(field(&out.stdout, "nonblock").as_deref(), Some("1"));
    assert_eq!(result(&out, "again"), (-1, libc::EISCONN));
    assert_eq!(field(&out.stdout, "peer").as_deref(), Some("198.51.100.7"));
    assert_eq!(field(&out.stdout, "port").as_deref(), Some("8080"));
    assert_eq!(field(&out.stdout, "len").as_deref(), Some("16"));
    assert_eq!(mock.wait_for_requests(1, Duration::from_secs(5)).len(), 1);
}

// spec C-12, C-14, C-16, C-17: refused without any SOCKS traffic.
#[test]
fn refusals_without_tor_traffic() {
    let mock = MockTor::start().unwrap();
    let out = sock(&mock, &["connect", "127.0.0.1", "80"]);
    assert_eq!(result(&out, "connect"), (-1, libc::EPERM));
    assert!(stderr(&out).contains("WARNING") && stderr(&out).contains("local address"));
    for any in ["0.0.0.0", "::", "::ffff:0.0.0.0"] {
        let out = sock_env(
            mock.addr(),
            &["connect", any, "80"],
            &[("TORSOCKS_ENABLE_IPV6", "1")],
        );
        assert_eq!(result(&out, "connect"), (-1, libc::EPERM), "{any}");
    }
    let out = sock(&mock, &["connect", "192.0.2.1", "80", "badfd"]);
    assert_eq!(result(&out, "connect"), (-1, libc::EBADF));
    let out = sock(&mock, &["connect", "192.0.2.1", "80", "len=8"]);
    assert_eq!(result(&out, "connect"), (-1, libc::EINVAL));
    // C-16: AF_UNIX and NULL addresses behave exactly as without torsocks.
    for args in [
        &["connect-unix", "/nonexistent/socket"][..],
        &["connect-null"][..],
    ] {
        let plain = std::process::Command::new(probe::build("sock"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            result(&sock(&mock, args), "connect"),
            result(&plain, "connect"),
            "{args:?}"
        );
    }
    assert_eq!(mock.connections(), 0);
}

// spec C-13: IPv4-mapped addresses are classified and sent as IPv4.
#[test]
fn ipv4_mapped_destinations() {
    let mock = succeeding_mock(b"");
    let v6 = [("TORSOCKS_ENABLE_IPV6", "1")];
    let out = sock_env(mock.addr(), &["connect", "::ffff:127.0.0.1", "80"], &v6);
    assert_eq!(result(&out, "connect"), (-1, libc::EPERM));
    assert_eq!(mock.connections(), 0);
    let out = sock_env(mock.addr(), &["connect", "::ffff:192.0.2.1", "80"], &v6);
    assert_eq!(result(&out, "connect"), (0, 0), "{}", stderr(&out));
    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(recs[0].host.as_deref(), Some("192.0.2.1"));
}

// spec C-15: AllowOutboundLocalhost 1 goes direct; UDP elsewhere is refused.
#[test]
fn allow_outbound_localhost() {
    let mock = MockTor::start().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let conf = std::env::temp_dir().join(format!("tsrs-aol-{}.conf", std::process::id()));
    std::fs::write(&conf, "AllowOutboundLocalhost 1\n").unwrap();
    let conf_s = conf.to_str().unwrap();
    let out = sock_env(
        mock.addr(),
        &["connect", "127.0.0.1", &port],
        &[("TORSOCKS_CONF_FILE", conf_s)],
    );
    assert_eq!(result(&out, "connect"), (0, 0), "{}", stderr(&out));
    assert!(listener.accept().is_ok());
    assert_eq!(mock.connections(), 0);
    std::fs::write(&conf, "AllowOutboundLocalhost 2\n").unwrap();
    let out = sock_env(
        mock.addr(),
        &["connect", "127.0.0.1", "53", "udp"],
        &[("TORSOCKS_CONF_FILE", conf_s)],
    );
    assert_eq!(result(&out, "connect"), (0, 0));
    let out = sock_env(
        mock.addr(),
        &["connect", "192.0.2.1", "53", "udp"],
        &[("TORSOCKS_CONF_FILE", conf_s)],
    );
    assert_eq!(result(&out, "connect"), (-1, libc::EPERM));
    std::fs::remove_file(&conf).unwrap();
}

// spec C-18: nothing on the Tor port.
#[test]
fn tor_not_listening() {
    let unused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = sock_env(unused, &["connect", "192.0.2.1", "80"], &[]);
    assert_eq!(result(&out, "connect"), (-1, libc::ECONNREFUSED));
    assert!(
        stderr(&out).contains("PERROR torsocks["),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("socks5 libc connect: Connection refused"),
        "{}",
        stderr(&out)
    );
}

// spec C-19, C-20: reply codes and method errors.
#[test]
fn reply_codes_and_method_errors() {
    let codes = [
        (1, libc::ECONNREFUSED, "General SOCKS server failure"),
        (2, libc::ECONNREFUSED, "Connection not allowed by ruleset"),
        (3, libc::ENETUNREACH, "Network unreachable"),
        (4, libc::EHOSTUNREACH, "Host unreachable"),
        (5, libc::ECONNREFUSED, "Connection refused to Tor SOCKS"),
        (6, libc::ETIMEDOUT, "Connection timed out"),
        (7, libc::ECONNREFUSED, "Command not supported"),
        (8, libc::ECONNREFUSED, "Address type not supported"),
        (
            0xf1,
            libc::ECONNABORTED,
            "Socks5 server replied an unknown code 241",
        ),
    ];
    for (code, errno, text) in codes {
        let mock = MockTor::builder()
            .connect(Connect::Fail(code))
            .start()
            .unwrap();
        let out = sock(&mock, &["connect", "192.0.2.1", "80"]);
        assert_eq!(result(&out, "connect"), (-1, errno), "REP {code}");
        assert!(
            stderr(&out).contains("ERROR torsocks[") && stderr(&out).contains(text),
            "{}",
            stderr(&out)
        );
    }
    for reply in [vec![4, 0], vec![5, 0xff], vec![5, 2]] {
        let mock = MockTor::builder()
            .greeting(Greeting::Raw(reply.clone()))
            .start()
            .unwrap();
        let out = sock(&mock, &["connect", "192.0.2.1", "80"]);
        assert_eq!(
            result(&out, "connect"),
            (-1, libc::ECONNABORTED),
            "{reply:?}"
        );
    }
}

// spec C-21: credentials from the environment; a refused login is EINVAL.
#[test]
fn credentials() {
    let mock = MockTor::builder()
        .require_auth()
        .credentials(b"user", b"pass")
        .connect(Connect::Succeed {
            atyp: 1,
            payload: vec![],
        })
        .start()
        .unwrap();
    let ok = [("TORSOCKS_USERNAME", "user"), ("TORSOCKS_PASSWORD", "pass")];
    let out = sock_env(mock.addr(), &["connect", "192.0.2.1", "80"], &ok);
    assert_eq!(result(&out, "connect"), (0, 0), "{}", stderr(&out));
    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert!(recs[0].raw.starts_with(b"\x05\x01\x02\x01\x04user\x04pass"));
    let bad = [("TORSOCKS_USERNAME", "user"), ("TORSOCKS_PASSWORD", "nope")];
    let out = sock_env(mock.addr(), &["connect", "192.0.2.1", "80"], &bad);
    assert_eq!(result(&out, "connect"), (-1, libc::EINVAL));
}

// spec C-25: an AF_INET6 socket reaches an IPv4 Tor endpoint through H-3; flags kept.
#[test]
fn ipv6_socket_through_ipv4_tor() {
    let mock = succeeding_mock(b"hi");
    let out = sock_env(
        mock.addr(),
        &[
            "connect",
            "2001:db8::1",
            "443",
            "nonblock",
            "cloexec",
            "read=2",
        ],
        &[("TORSOCKS_ENABLE_IPV6", "1")],
    );
    assert_eq!(result(&out, "connect"), (0, 0), "{}", stderr(&out));
    assert_eq!(field(&out.stdout, "nonblock").as_deref(), Some("1"));
    assert_eq!(field(&out.stdout, "cloexec").as_deref(), Some("1"));
    assert_eq!(field(&out.stdout, "peer").as_deref(), Some("2001:db8::1"));
    assert_eq!(field(&out.stdout, "len").as_deref(), Some("28"));
    assert_eq!(field(&out.stdout, "data").as_deref(), Some("hi"));
    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(recs[0].host.as_deref(), Some("2001:db8::1"));
}

// spec C-26: Tor at [::1] serves IPv4 applications.
#[test]
fn ipv4_socket_through_ipv6_tor() {
    let Ok(mock) = MockTor::builder()
        .bind(SocketAddr::new(
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            0,
        ))
        .connect(Connect::Succeed {
            atyp: 1,
            payload: b"ok".to_vec(),
        })
        .start()
    else {
        torsocks_testkit::require::skip("no IPv6 loopback");
        return;
    };
    let out = sock(&mock, &["connect", "192.0.2.1", "80", "read=2"]);
    assert_eq!(result(&out, "connect"), (0, 0), "{}", stderr(&out));
    assert_eq!(field(&out.stdout, "data").as_deref(), Some("ok"));
    assert_eq!(field(&out.stdout, "peer").as_deref(), Some("192.0.2.1"));
}

// spec C-27: getpeername's other cases.
#[test]
fn getpeername_cases() {
    let mock = succeeding_mock(b"");
    let out = sock(&mock, &["connect", "192.0.2.1", "80", "peerchecks"]);
    assert_eq!(result(&out, "connect"), (0, 0), "{}", stderr(&out));
    assert_eq!(result(&out, "peer_null_addr"), (-1, libc::EFAULT));
    assert_eq!(result(&out, "peer_null_len"), (-1, libc::EFAULT));
    assert_eq!(
        result(&sock(&mock, &["peer-pipe"]), "peer"),
        (-1, libc::ENOTSOCK)
    );
    assert_eq!(
        result(&sock(&mock, &["peer-unconnected"]), "peer"),
        (-1, libc::ENOTCONN)
    );
}
