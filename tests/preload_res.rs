//! Preload mode, the res_* family (spec §5.21): answers synthesized from RESOLVE and
//! RESOLVE_PTR, other types refused, and never a DNS packet.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Output};
use std::time::Duration;

use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::probe::{self, value as f};
use torsocks_testkit::require;

const NO_RECOVERY: &str = "3";
const NO_DATA: &str = "4";
const HOST_NOT_FOUND: &str = "1";

fn res_env(tor: SocketAddr, args: &[&str], vars: &[(&str, &str)]) -> Output {
    probe::run("res", tor, args, vars)
}

fn res(mock: &MockTor, args: &[&str]) -> Output {
    res_env(mock.addr(), args, &[])
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn mock() -> MockTor {
    MockTor::builder()
        .name("www.example.com", ip("198.51.100.7"))
        .name("six.example.com", ip("2001:db8::7"))
        .ptr(ip("192.0.2.9"), "ptr.example.org")
        .start()
        .unwrap()
}

// spec C-46, P-78: an A query, parsed by the C library's own parser.
#[test]
fn a_query() {
    let mock = mock();
    for func in [
        "res_query",
        "__res_query",
        "res_search",
        "res_nquery",
        "res_nsearch",
    ] {
        let out = res(&mock, &["query", func, "www.example.com", "A"]);
        assert_eq!(f(&out, "parse"), "ok", "{func}");
        assert_eq!(
            (f(&out, "ancount"), f(&out, "rcode")),
            ("1".into(), "0".into()),
            "{func}"
        );
        assert_eq!(
            (f(&out, "answer_type"), f(&out, "ttl")),
            ("1".into(), "60".into())
        );
        assert_eq!(f(&out, "rdata"), "198.51.100.7");
        assert_eq!(f(&out, "owner"), "www.example.com");
    }
    let out = res(&mock, &["query", "res_querydomain", "www,example.com", "A"]);
    assert_eq!(f(&out, "rdata"), "198.51.100.7");
    let recs = mock.wait_for_requests(6, Duration::from_secs(5));
    assert_eq!(recs.len(), 6, "one RESOLVE per call");
    assert_eq!(
        recs[0].raw[3..],
        *b"\x05\xf0\x00\x03\x0fwww.example.com\x00\x2a"
    );
}

// spec C-47: AAAA, PTR, other types.
#[test]
fn aaaa_ptr_and_refused_types() {
    let mock = mock();
    let out = res(&mock, &["query", "res_nquery", "six.example.com", "AAAA"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "h_errno")),
        ("-1".into(), NO_DATA.into())
    );
    assert_eq!(f(&out, "res_h_errno"), NO_DATA, "P-77: the state's copy");
    assert_eq!(mock.connections(), 0);
    let out = res_env(
        mock.addr(),
        &["query", "res_query", "six.example.com", "AAAA"],
        &[("TORSOCKS_ENABLE_IPV6", "1")],
    );
    assert_eq!(
        (f(&out, "answer_type"), f(&out, "rdata")),
        ("28".into(), "2001:db8::7".into())
    );
    let out = res(
        &mock,
        &["query", "res_query", "9.2.0.192.in-addr.arpa", "PTR"],
    );
    assert_eq!(
        (f(&out, "answer_type"), f(&out, "rdata")),
        ("12".into(), "ptr.example.org".into())
    );
    let last = mock.requests().pop().unwrap();
    assert_eq!(
        last.raw[3..],
        [0x05, 0xf1, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x09, 0x00, 0x2a]
    );
    let before = mock.connections();
    let out = res(&mock, &["query", "res_query", "not.a.reverse.name", "PTR"]);
    assert_eq!(f(&out, "h_errno"), HOST_NOT_FOUND);
    for kind in ["MX", "TXT", "SRV"] {
        let out = res(&mock, &["query", "res_query", "www.example.com", kind]);
        assert_eq!(
            (f(&out, "rc"), f(&out, "h_errno")),
            ("-1".into(), NO_RECOVERY.into()),
            "{kind}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("[res_query] DNS query type")
                && stderr.contains("cannot be resolved through Tor"),
            "{stderr}"
        );
    }
    let out = res(&mock, &["query", "res_query", "www.example.com", "A", "3"]);
    assert_eq!(f(&out, "h_errno"), NO_RECOVERY, "class CH");
    assert_eq!(mock.connections(), before);
}

// spec C-48: res_send keeps the ID and maps outcomes to RCODEs.
#[test]
fn res_send_rcodes() {
    let mock = mock();
    let out = res(&mock, &["send", "res_send", "www.example.com", "A"]);
    assert_eq!(
        (f(&out, "id"), f(&out, "rcode"), f(&out, "ancount")),
        ("16962".into(), "0".into(), "1".into())
    );
    assert_eq!(f(&out, "rdata"), "198.51.100.7");
    let out = res(&mock, &["send", "res_nsend", "nx.example.com", "A"]);
    assert_eq!(
        (f(&out, "rcode"), f(&out, "ancount")),
        ("3".into(), "0".into())
    );
    let down = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = res_env(down, &["send", "res_send", "www.example.com", "A"], &[]);
    assert_eq!(f(&out, "rcode"), "2");
    let out = res(&mock, &["send", "res_send", "www.example.com", "A", "20"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "errno")),
        ("-1".into(), libc::EMSGSIZE.to_string())
    );
    let out = res(&mock, &["garbage"]);
    assert_eq!(
        (f(&out, "rc"), f(&out, "errno")),
        ("-1".into(), libc::EINVAL.to_string())
    );
}

// spec C-47, P-69: no res_* call sends a packet to the resolv.conf nameserver. The
// probe runs in a private mount namespace whose resolv.conf names a local listener;
// without torsocks the same probe does reach it, so the check can fail.
#[test]
fn no_dns_packet_leaves() {
    if !require::root("bind-mount a private resolv.conf") || require::program("unshare").is_none() {
        return;
    }
    let mock = mock();
    // glibc reads only "nameserver ADDR" (port 53): use a loopback address of our own.
    let Ok(udp53) = UdpSocket::bind("127.0.0.77:53") else {
        require::skip("127.0.0.77:53 is busy");
        return;
    };
    udp53
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let conf = std::env::temp_dir().join(format!("tsrs-resolv-{}.conf", std::process::id()));
    std::fs::write(
        &conf,
        "nameserver 127.0.0.77\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let script = |preload: bool| {
        // Only the probe is preloaded: mount and unshare must run unhindered.
        let env = if preload {
            format!(
                "env LD_PRELOAD={} TORSOCKS_CONF_FILE=/dev/null TORSOCKS_TOR_PORT={}",
                torsocks_testkit::install::library().display(),
                mock.addr().port()
            )
        } else {
            "env -u LD_PRELOAD".to_string()
        };
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount --bind {} /etc/resolv.conf && exec {env} {} query res_query www.example.com A",
                conf.display(),
                probe::build("res").display()
            ))
            .output()
            .unwrap()
    };
    let mut buf = [0u8; 512];
    let out = script(true);
    assert_eq!(
        f(&out, "rdata"),
        "198.51.100.7",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        udp53.recv_from(&mut buf).is_err(),
        "torsocks sent a DNS packet"
    );
    let _control = script(false);
    assert!(
        udp53.recv_from(&mut buf).is_ok(),
        "control: without torsocks the query does reach the listener"
    );
    std::fs::remove_file(conf).unwrap();
}
