//! Preload mode, name and address resolution (spec §4.7–§4.9, §5.17–§5.20, §6) with
//! real processes against the mock Tor server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::Output;
use std::time::Duration;

use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::probe::{self, value as f};

const HOST_NOT_FOUND: &str = "1";
const TRY_AGAIN: &str = "2";
const NO_RECOVERY: &str = "3";
const NO_DATA: &str = "4";

fn resolve_env(tor: SocketAddr, args: &[&str], vars: &[(&str, &str)]) -> Output {
    probe::run("resolve", tor, args, vars)
}

fn resolve(mock: &MockTor, args: &[&str]) -> Output {
    resolve_env(mock.addr(), args, &[])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn entries(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("entry "))
        .map(str::to_string)
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn mock_with_names() -> MockTor {
    MockTor::builder()
        .name("www.example.com", ip("198.51.100.7"))
        .name("six.example.com", ip("2001:db8::7"))
        .ptr(ip("192.0.2.9"), "ptr.example.org")
        .ptr(ip("2001:db8::9"), "six.example.org")
        .start()
        .unwrap()
}

/// A Tor address where nothing listens.
fn tor_down() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

// spec C-30: local answers, no SOCKS traffic.
#[test]
fn gethostbyname_local_answers() {
    let mock = MockTor::start().unwrap();
    for name in ["localhost", "ip-localhost", "LOCALHOST"] {
        let out = resolve(&mock, &["ghbn", name]);
        assert_eq!(f(&out, "addr"), "127.0.0.1", "{name}");
    }
    let out = resolve(&mock, &["ghbn", "203.0.113.5"]);
    assert_eq!(f(&out, "addr"), "203.0.113.5");
    let out = resolve(&mock, &["ghbn", "::1"]);
    assert_eq!(
        (f(&out, "hostent"), f(&out, "h_errno")),
        ("null".into(), HOST_NOT_FOUND.into())
    );
    let out = resolve(&mock, &["ghbn2", "localhost", "inet6"]);
    assert_eq!(f(&out, "h_errno"), HOST_NOT_FOUND);
    assert_eq!(mock.connections(), 0);
}

// spec C-31: one RESOLVE, exact bytes, and the hostent's shape.
#[test]
fn gethostbyname_through_tor() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["ghbn", "www.example.com"]);
    assert_eq!(f(&out, "hostent"), "ok", "{}", stderr(&out));
    assert_eq!(f(&out, "name"), "www.example.com");
    assert_eq!(f(&out, "addrtype"), "2");
    assert_eq!(f(&out, "length"), "4");
    assert_eq!(f(&out, "addrs"), "1");
    assert_eq!(f(&out, "addr"), "198.51.100.7");
    assert_eq!(f(&out, "aliases"), "0");
    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(recs.len(), 1);
    assert_eq!(
        recs[0].raw,
        b"\x05\x01\x00\x05\xf0\x00\x03\x0fwww.example.com\x00\x2a"
    );
}

// spec C-32: failures set h_errno by outcome.
#[test]
fn gethostbyname_failures() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["ghbn", "nx.example.com"]);
    assert_eq!(f(&out, "h_errno"), HOST_NOT_FOUND);
    assert!(
        stderr(&out).contains("Unable to resolve. Status reply: 4"),
        "{}",
        stderr(&out)
    );
    let out = resolve(&mock, &["ghbn", "six.example.com"]);
    assert_eq!(f(&out, "h_errno"), NO_DATA);
    let out = resolve_env(tor_down(), &["ghbn", "www.example.com"], &[]);
    assert_eq!(f(&out, "h_errno"), TRY_AGAIN);
    let refusing = MockTor::builder().resolve_failure(7).start().unwrap();
    let out = resolve(&refusing, &["ghbn", "www.example.com"]);
    assert_eq!(f(&out, "h_errno"), NO_RECOVERY);
}

// spec C-33: the reentrant form.
#[test]
fn gethostbyname_r() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["ghbn_r", "203.0.113.5", "512"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "addr")),
        ("0".into(), "203.0.113.5".into())
    );
    let out = resolve(&mock, &["ghbn_r", "www.example.com", "16"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "h_errnop")),
        (libc::ERANGE.to_string(), "-1".into())
    );
    assert_eq!(
        mock.connections(),
        0,
        "numeric input and short buffers make no traffic"
    );
    let out = resolve(&mock, &["ghbn_r", "www.example.com", "512"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "addr")),
        ("0".into(), "198.51.100.7".into())
    );
    let out = resolve(&mock, &["ghbn_r", "nx.example.com", "512"]);
    assert_eq!(f(&out, "rc"), libc::ENOENT.to_string());
    assert_eq!(
        (f(&out, "h_errnop"), f(&out, "result")),
        (HOST_NOT_FOUND.into(), "null".into())
    );
    let out = resolve_env(tor_down(), &["ghbn_r", "www.example.com", "512"], &[]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "h_errnop")),
        (libc::EAGAIN.to_string(), TRY_AGAIN.into())
    );
}

// spec C-34, C-35, C-36: gethostbyaddr.
#[test]
fn gethostbyaddr_family() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["ghba", "192.0.2.9"]);
    assert_eq!(
        (f(&out, "name"), f(&out, "length")),
        ("ptr.example.org".into(), "4".into())
    );
    assert_eq!(f(&out, "addr"), "192.0.2.9");
    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(
        recs[0].raw[3..],
        [0x05, 0xf1, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x09, 0x00, 0x2a]
    );
    let out = resolve(&mock, &["ghba", "2001:db8::9", "inet6"]);
    assert_eq!(f(&out, "h_errno"), HOST_NOT_FOUND);
    let out = resolve(&mock, &["ghba", "192.0.2.10"]);
    assert_eq!(f(&out, "h_errno"), HOST_NOT_FOUND);
    let out = resolve(&mock, &["ghba_r", "192.0.2.10", "512"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "h_errnop")),
        (libc::ENOENT.to_string(), HOST_NOT_FOUND.into())
    );
    let before = mock.connections();
    let out = resolve(&mock, &["ghba", "127.0.0.1"]);
    assert_eq!(f(&out, "name"), "localhost");
    let out = resolve(&mock, &["gni", "127.0.0.1", "80", "1025", "namereqd"]);
    assert_eq!(f(&out, "host"), "localhost");
    assert_eq!(mock.connections(), before, "C-36: no traffic");
}

// spec C-37: AF_INET / AF_UNSPEC with a port; AI_CANONNAME is the queried name.
#[test]
fn getaddrinfo_through_tor() {
    let mock = mock_with_names();
    for family in ["inet", "unspec"] {
        let out = resolve(
            &mock,
            &["gai", "www.example.com", "80", family, "stream", "canon"],
        );
        assert_eq!(f(&out, "rc"), "0", "{}", stderr(&out));
        let e = entries(&out);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("family=2 addr=198.51.100.7 port=80"), "{e:?}");
        assert!(e[0].contains("canon=www.example.com"), "{e:?}");
    }
    assert_eq!(mock.wait_for_requests(2, Duration::from_secs(5)).len(), 2);
}

// spec C-38: NULL hints go through Tor too, one entry per socket type.
#[test]
fn getaddrinfo_null_hints() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["gai", "www.example.com", "80", "nullhints"]);
    assert_eq!(f(&out, "rc"), "0", "{}", stderr(&out));
    let e = entries(&out);
    assert!(
        e.len() >= 2 && e.iter().all(|l| l.contains("addr=198.51.100.7")),
        "{e:?}"
    );
    assert_eq!(mock.requests().len(), 1);
}

// spec C-39, C-40: numeric literals never reach Tor; bad requests fail locally.
#[test]
fn getaddrinfo_local_rules() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["gai", "203.0.113.5", "80", "unspec", "stream"]);
    assert!(entries(&out)[0].contains("addr=203.0.113.5"));
    let out = resolve(&mock, &["gai", "2001:db8::5", "80", "unspec", "stream"]);
    assert!(entries(&out)[0].contains("family=10 addr=2001:db8::5"));
    let out = resolve(&mock, &["gai", "fe80::1%lo", "80", "unspec", "stream"]);
    assert_eq!(f(&out, "rc"), "0");
    let out = resolve(
        &mock,
        &["gai", "www.example.com", "80", "unspec", "numeric"],
    );
    assert_eq!(f(&out, "rc"), libc::EAI_NONAME.to_string());
    let out = resolve(&mock, &["gai", "www.example.com", "80", "unix"]);
    assert_eq!(f(&out, "rc"), libc::EAI_FAMILY.to_string());
    assert_eq!(mock.connections(), 0);
}

// spec C-41: AF_INET6 with the IPv6 switch off and on.
#[test]
fn getaddrinfo_ipv6() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["gai", "www.example.com", "80", "inet6"]);
    assert_eq!(f(&out, "rc"), libc::EAI_FAIL.to_string());
    assert_eq!(mock.connections(), 0);
    let v6 = [("TORSOCKS_ENABLE_IPV6", "1")];
    let out = resolve_env(
        mock.addr(),
        &["gai", "localhost", "80", "inet6", "stream"],
        &v6,
    );
    assert!(entries(&out)[0].contains("addr=::1"), "{}", stderr(&out));
    let out = resolve_env(mock.addr(), &["gai", "x.onion", "80", "inet6"], &v6);
    assert_eq!(f(&out, "rc"), libc::EAI_NONAME.to_string());
    assert_eq!(mock.connections(), 0);
    let out = resolve_env(
        mock.addr(),
        &["gai", "six.example.com", "80", "inet6", "stream"],
        &v6,
    );
    assert!(
        entries(&out)[0].contains("addr=2001:db8::7"),
        "{}",
        stderr(&out)
    );
    let out = resolve_env(mock.addr(), &["gai", "www.example.com", "80", "inet6"], &v6);
    assert_eq!(f(&out, "rc"), libc::EAI_NONAME.to_string());
}

// spec C-42: failures by outcome.
#[test]
fn getaddrinfo_failures() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["gai", "nx.example.com", "80", "inet"]);
    assert_eq!(f(&out, "rc"), libc::EAI_NONAME.to_string());
    let out = resolve_env(tor_down(), &["gai", "www.example.com", "80", "inet"], &[]);
    assert_eq!(f(&out, "rc"), libc::EAI_AGAIN.to_string());
    let refusing = MockTor::builder().resolve_failure(7).start().unwrap();
    let out = resolve(&refusing, &["gai", "www.example.com", "80", "inet"]);
    assert_eq!(f(&out, "rc"), libc::EAI_FAIL.to_string());
    let out = resolve(&mock, &["gai", "six.example.com", "80", "inet"]);
    assert_eq!(f(&out, "rc"), libc::EAI_NONAME.to_string());
}

// spec C-43: names over 255 bytes never reach Tor.
#[test]
fn long_names() {
    let mock = mock_with_names();
    let long = format!("{}.com", "a".repeat(252));
    let out = resolve(&mock, &["gai", &long, "80", "inet"]);
    assert_eq!(f(&out, "rc"), libc::EAI_FAIL.to_string());
    let out = resolve(&mock, &["ghbn", &long]);
    assert_eq!(f(&out, "h_errno"), NO_RECOVERY);
    assert_eq!(mock.connections(), 0);
}

// spec C-44
#[test]
fn getaddrinfo_a_is_denied() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["gaia", "www.example.com"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "errno")),
        (libc::EAI_SYSTEM.to_string(), libc::ENOSYS.to_string())
    );
    assert!(
        stderr(&out).contains("[getaddrinfo_a] Asynchronous name resolution cannot go through Tor")
    );
    assert_eq!(mock.connections(), 0);
}

// spec C-45: getnameinfo.
#[test]
fn getnameinfo_rules() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["gni", "192.0.2.9", "80", "1025", "numerichost"]);
    assert_eq!(
        (f(&out, "host"), f(&out, "serv")),
        ("192.0.2.9".into(), "80".into())
    );
    assert_eq!(mock.connections(), 0);
    let out = resolve(&mock, &["gni", "192.0.2.9", "80", "1025"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "host")),
        ("0".into(), "ptr.example.org".into())
    );
    let out = resolve(&mock, &["gni", "192.0.2.10", "80", "1025", "namereqd"]);
    assert_eq!(f(&out, "rc"), libc::EAI_NONAME.to_string());
    let out = resolve(&mock, &["gni", "192.0.2.10", "80", "1025"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "host")),
        ("0".into(), "192.0.2.10".into())
    );
    let out = resolve(&mock, &["gni", "192.0.2.9", "80", "4"]);
    assert_eq!(f(&out, "rc"), libc::EAI_OVERFLOW.to_string());
    let out = resolve_env(mock.addr(), &["gni", "2001:db8::9", "80", "1025"], &[]);
    assert_eq!(f(&out, "host"), "six.example.org");
    let last = mock.requests().pop().unwrap();
    assert_eq!(last.atyp, Some(4));
}

// spec C-49, C-51: onion names get cookies without traffic; a full pool falls back.
#[test]
fn onion_cookies() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["ghbn", "abc.onion"]);
    assert_eq!(f(&out, "addr"), "127.42.42.0");
    let out = resolve(&mock, &["gai", "X.ONION", "80", "inet", "stream"]);
    assert!(entries(&out)[0].contains("addr=127.42.42.0"));
    assert_eq!(mock.connections(), 0);
    let conf = std::env::temp_dir().join(format!("tsrs-onion-{}.conf", std::process::id()));
    std::fs::write(&conf, "OnionAddrRange 127.42.42.0/32\n").unwrap();
    let out = resolve_env(
        mock.addr(),
        &["ghbn", "full.onion"],
        &[("TORSOCKS_CONF_FILE", conf.to_str().unwrap())],
    );
    assert!(
        stderr(&out).contains("Maximum reached (0)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        mock.wait_for_requests(1, Duration::from_secs(5))[0]
            .host
            .as_deref(),
        Some("full.onion")
    );
    std::fs::remove_file(conf).unwrap();
}

// spec C-36: reverse lookups of an allocated cookie give its onion name, locally.
#[test]
fn cookie_reverse_lookup() {
    let mock = mock_with_names();
    let out = resolve(&mock, &["cookie", "Some.Onion"]);
    assert_eq!(f(&out, "ghba"), "some.onion");
    assert_eq!(
        (f(&out, "gni_rc"), f(&out, "gni")),
        ("0".into(), "some.onion".into())
    );
    assert_eq!(mock.connections(), 0);
}
