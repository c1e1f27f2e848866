//! Published ports: a server inside the sandbox reached from the host, on loopback unless
//! asked otherwise, on any port.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use torsocks_testkit::inside::{fetch, free_port, with_servers};
use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::output::{stderr, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::ns;

#[test]
fn published_ports_reach_servers_inside() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
    let (p4, p6, none) = (free_port(), free_port(), free_port());
    let mut child = with_servers(
        &mock,
        &[
            "--publish",
            &format!("{p4}:8000"),
            "--publish",
            &format!("[::1]:{p6}:8001"),
            "--publish",
            &format!("{none}:8002"),
        ],
    );
    // Servers that listen on the sandbox's loopback only are reached, by IPv4 and IPv6.
    assert_eq!(
        fetch(&format!("127.0.0.1:{p4}")),
        "inside 8000 from 127.0.0.1\n"
    );
    assert_eq!(fetch(&format!("[::1]:{p6}")), "inside 8001 from ::1\n");
    assert_eq!(
        fetch(&format!("127.0.0.1:{p4}")),
        "inside 8000 from 127.0.0.1\n"
    );
    // Nothing listening inside: the host's client sees a reset, not an empty answer.
    assert_eq!(
        fetch(&format!("127.0.0.1:{none}")),
        "error: ConnectionReset"
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(mock.connections(), 1, "only the start-up probe reached Tor");
}

#[test]
fn publishing_beyond_loopback_must_be_asked_for() {
    let mock = MockTor::answering();
    for (spec, why) in [
        ("0.0.0.0:18090:80", "--publish-any"),
        ("192.0.2.1:18090:80", "not a loopback address"),
        ("18090", "expected [HOST_ADDR:]HOST_PORT:SANDBOX_PORT"),
    ] {
        let out = ns(&mock, &["--publish", spec, "true"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{spec}: {}", text(&out));
        assert!(stderr(&out).contains(why), "{spec}: {}", text(&out));
    }
    if !require::tun() {
        return;
    }
    // With --publish-any the port listens on every address (reached here on loopback).
    let port = free_port();
    let mut child = with_servers(
        &mock,
        &[
            "--publish-any",
            "--publish",
            &format!("0.0.0.0:{port}:8000"),
        ],
    );
    assert_eq!(
        fetch(&format!("127.0.0.1:{port}")),
        "inside 8000 from 127.0.0.1\n"
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_server_inside_may_listen_on_a_low_port() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
    let port = free_port();
    let server = "import socket, sys\n\
                  s = socket.socket(); s.bind(('127.0.0.1', 80)); s.listen()\n\
                  print('ready', flush=True)\n\
                  c, _ = s.accept(); c.sendall(b'port 80 inside\\n'); c.close()\n";
    let mut child = ns(
        &mock,
        &[
            "--publish",
            &format!("{port}:80"),
            "--",
            "python3",
            "-c",
            server,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line != "ready\n" {
        let out = child.wait_with_output().unwrap();
        panic!("the server could not listen on port 80: {}", text(&out));
    }
    assert_eq!(fetch(&format!("127.0.0.1:{port}")), "port 80 inside\n");
    assert!(child.wait().unwrap().success());
}
