//! The target-host fixture: a namespace with a veth pair and a private address, HTTP,
//! echo and a UDP sink, reachable from the host and through the mock Tor server, and
//! gone after the test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

use torsocks_core::socks5::blocking::exchange;
use torsocks_core::socks5::{Auth, Handshake, Request};
use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::require;
use torsocks_testkit::target_host::{http_files, TargetHost};
use torsocks_testkit::wait::until;

fn http_get(stream: &mut TcpStream, path: &str) -> Vec<u8> {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: target\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&response[..split])
    );
    response[split + 4..].to_vec()
}

#[test]
fn serves_http_echo_and_records_udp_then_disappears() {
    if !require::root("create a network namespace and a veth pair") {
        return;
    }
    let host = TargetHost::start().expect("target host");
    let ns = host.namespace();
    assert!(Path::new(&format!("/run/netns/{ns}")).exists());

    let mut s = TcpStream::connect_timeout(&host.http_addr(), Duration::from_secs(5)).unwrap();
    assert_eq!(http_get(&mut s, "/big.bin"), http_files()["/big.bin"]);
    let requests = host.http_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].1, "/big.bin");
    assert_eq!(
        requests[0].0.ip().to_canonical(),
        std::net::IpAddr::V4(host.host_ip())
    );

    let mut echo = TcpStream::connect_timeout(&host.echo_addr(), Duration::from_secs(5)).unwrap();
    echo.write_all(b"ping").unwrap();
    let mut back = [0u8; 4];
    echo.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");

    let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
    udp.send_to(b"datagram", host.udp_addr()).unwrap();
    until(Duration::from_secs(5), || !host.datagrams().is_empty());
    assert_eq!(host.datagrams()[0].payload, b"datagram");

    drop(host);
    assert!(
        !Path::new(&format!("/run/netns/{ns}")).exists(),
        "namespace removed"
    );
}

// The mock relays to the target host once the test allows its subnet, by name too.
#[test]
fn mock_tor_relays_to_the_target_host() {
    if !require::root("create a network namespace and a veth pair") {
        return;
    }
    let host = TargetHost::start().expect("target host");
    let mock = MockTor::builder()
        .allow_net(host.subnet())
        .name("target.test", host.ip().into())
        .start()
        .unwrap();
    let mut s = TcpStream::connect(mock.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = Request::Connect {
        host: b"target.test".to_vec(),
        port: 80,
    };
    exchange(Handshake::new(Auth::NoAuth, request).unwrap(), &mut s).unwrap();
    assert_eq!(http_get(&mut s, "/hello.txt"), http_files()["/hello.txt"]);
    assert_eq!(host.http_requests()[0].1, "/hello.txt");
    assert_eq!(mock.requests()[0].host.as_deref(), Some("target.test"));
}
