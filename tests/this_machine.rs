//! Destinations that name this machine are refused before they reach Tor: through the
//! sandbox's SOCKS port and for automapped names. The host's services are never reached.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{Read, Write};
use std::time::Duration;
use torsocks_testkit::output::{stderr, stdout, text};
use torsocks_testkit::sandbox::python;
use torsocks_testkit::wait::until;
use torsocks_testkit::world::World;

// The sandbox's own SOCKS port cannot be turned back on the host: a CONNECT naming this
// machine (loopback by address or name, the unspecified address) is refused there with
// REP 02, as Tor refuses it; the world's mock Tor, which would relay it to the host's
// loopback, never sees it, and the host service is never reached.
#[test]
fn the_socks_port_cannot_reach_the_hosts_own_services() {
    let Some(w) = World::with_tun() else { return };
    // A host service on every address: loopback, and the host's own interfaces.
    let service = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    service.set_nonblocking(true).unwrap();
    let port = service.local_addr().unwrap().port();
    // The attack works without the sandbox's refusal: straight to the mock, it relays,
    // to loopback and to the host's own interface address alike.
    for ip in [[127, 0, 0, 1], w.host.host_ip().octets()] {
        let direct = std::net::TcpStream::connect(w.mock.addr()).and_then(|mut s| {
            s.write_all(&[5, 1, 0])?;
            let mut r = [0u8; 2];
            s.read_exact(&mut r)?;
            let mut req = vec![5, 1, 0, 1];
            req.extend_from_slice(&ip);
            req.extend_from_slice(&port.to_be_bytes());
            s.write_all(&req)?;
            let mut reply = [0u8; 10];
            s.read_exact(&mut reply)?;
            Ok(reply[1])
        });
        assert_eq!(direct.unwrap(), 0, "the mock relays to {ip:?}");
        assert!(
            until(Duration::from_secs(5), || service.accept().is_ok()),
            "the positive control reached nothing"
        );
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host_ip = w.host.host_ip().octets();
    let before = w.mock.requests().len();
    let script = format!(
        "import socket, struct\n\
         def ask(atyp, addr):\n\
         \x20   s = socket.create_connection(('127.0.0.1', 9050), timeout=10)\n\
         \x20   s.sendall(b'\\x05\\x01\\x00'); assert s.recv(2) == b'\\x05\\x00'\n\
         \x20   s.sendall(b'\\x05\\x01\\x00' + bytes([atyp]) + addr + struct.pack('>H', {port}))\n\
         \x20   return s.recv(10)[1]\n\
         name = lambda n: bytes([len(n)]) + n\n\
         print([ask(1, bytes([127, 0, 0, 1])), ask(1, bytes([127, 1, 2, 3])), ask(1, bytes(4)),\n\
         \x20      ask(4, bytes(15) + b'\\x01'), ask(3, name(b'localhost')),\n\
         \x20      ask(3, name(b'LocalHost.')), ask(3, name(b'x.localhost')),\n\
         \x20      ask(3, name(b'127.0.0.1')), ask(3, name(b'2130706433')),\n\
         \x20      ask(3, name(b'0x7f.1')), ask(3, name(b'localhost\\x00.example')),\n\
         \x20      ask(3, name(b'127.0.0.1 x')), ask(3, name(b'::ffff:0.0.0.0')),\n\
         \x20      ask(4, bytes(10) + b'\\xff\\xff' + bytes(4)), ask(1, bytes({host_ip:?})),\n\
         \x20      ask(3, name(b'{host_dotted}')), ask(3, name(b'{hostname}'))])\n",
        host_dotted = std::net::Ipv4Addr::from(host_ip),
        hostname = hostname.trim()
    );
    let out = python(w.ns(), &script);
    assert_eq!(
        stdout(&out).trim(),
        "[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]",
        "{}",
        text(&out)
    );
    assert!(service.accept().is_err(), "a host service was reached");
    // The mock chooses SOCKS authentication as Tor does: no notice that it is not Tor
    // (one that does not is `a_socks_server_without_authentication_is_served`).
    assert!(
        !stderr(&out).contains("does not answer as Tor does"),
        "{}",
        text(&out)
    );
    let asked: Vec<_> = w.mock.requests()[before..]
        .iter()
        .filter(|r| r.command == Some(1))
        .cloned()
        .collect();
    assert!(asked.is_empty(), "refused before Tor: {asked:?}");
}

// The same refusal for the sandbox's own connections: with --automap a name such as
// `db.localhost` (which some resolvers take for loopback) travels to Tor as a name, and
// is refused before Tor instead.
#[test]
fn names_of_this_machine_are_refused_for_automapped_connections() {
    let Some(w) = World::with_tun() else { return };
    let script = "import socket\n\
                  for name in ['db.localhost', 'target.test']:\n\
                  \x20   try:\n\
                  \x20       socket.create_connection((name, 80), timeout=10).close(); print(name, 'open')\n\
                  \x20   except ConnectionRefusedError:\n\
                  \x20       print(name, 'refused')\n";
    let mut cmd = w.ns();
    cmd.arg("--automap");
    let out = python(cmd, script);
    assert_eq!(
        stdout(&out),
        "db.localhost refused\ntarget.test open\n",
        "{}",
        text(&out)
    );
    let connects: Vec<_> = w
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.command == Some(1))
        .collect();
    assert!(
        connects
            .iter()
            .all(|r| r.host.as_deref() != Some("db.localhost"))
            && connects
                .iter()
                .any(|r| r.host.as_deref() == Some("target.test")),
        "{connects:?}"
    );
}
