//! Isolation as Tor sees it: each --isolate mode, a new identity (SIGUSR1), and a SOCKS
//! server without authentication. Credentials are read where they arrive: in the mock
//! Tor's records.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use torsocks_testkit::inside::connect_each;
use torsocks_testkit::mock_tor::{Connect, MockTor, Recorded};
use torsocks_testkit::output::{stderr, stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::ns;

fn credentials(r: &Recorded) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (r.username.clone(), r.password.clone())
}

#[test]
fn each_isolation_mode_as_tor_sees_it() {
    if !require::tun() {
        return;
    }
    // Two connections to one destination, one to another.
    let script = connect_each(&[("192.0.2.1", 80), ("192.0.2.1", 80), ("198.51.100.2", 80)]);
    for mode in ["session", "destination", "connection", "none"] {
        let mock = MockTor::answering();
        let out = ns(&mock, &["--isolate", mode, "--", "python3", "-c", &script])
            .output()
            .unwrap();
        assert_eq!(stdout(&out), "done\n", "{mode}: {}", text(&out));
        let c = mock.connects(3);
        assert_eq!(c.len(), 3, "{mode}");
        let (a, b, other) = (credentials(&c[0]), credentials(&c[1]), credentials(&c[2]));
        match mode {
            "session" => assert!(a == b && b == other && a.0.is_some(), "{c:?}"),
            "destination" => assert!(a == b && a != other, "{c:?}"),
            "connection" => assert!(a != b && b != other && a != other, "{c:?}"),
            _ => assert!(
                c.iter().all(|r| r.username.is_none() && r.methods == [0]),
                "{c:?}"
            ),
        }
        if mode != "none" {
            // Offered with "no authentication" too, so servers without it work.
            assert!(c.iter().all(|r| r.methods == [0, 2]), "{c:?}");
        }
    }
    // Two runs never share credentials.
    let (m1, m2) = (MockTor::answering(), MockTor::answering());
    for m in [&m1, &m2] {
        let out = ns(
            m,
            &["--", "python3", "-c", &connect_each(&[("192.0.2.1", 80)])],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_ne!(
        credentials(&m1.connects(1)[0]),
        credentials(&m2.connects(1)[0])
    );
}

#[test]
fn sigusr1_gives_new_connections_a_new_identity() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
    // Connect, say so, wait for the test's go on stdin, connect again.
    let script = "import socket, sys\n\
                  def once():\n\
                  \x20   s = socket.create_connection(('192.0.2.1', 80), timeout=10)\n\
                  \x20   assert s.recv(6) == b'hello\\n'\n\
                  \x20   return s\n\
                  first = once()\n\
                  print('connected', flush=True)\n\
                  sys.stdin.readline()\n\
                  once()\n\
                  print('again', flush=True)\n";
    let mut child = ns(&mock, &["--stats", "--", "python3", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "connected");
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    torsocks_testkit::install::ask_new_identity(&child);
    let mut line = String::new();
    errors.read_line(&mut line).unwrap();
    assert!(line.contains("new identity (1)"), "{line}");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "again");
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut errors, &mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("new identities: 1"), "{rest}");
    let c = mock.connects(2);
    assert_eq!(c[0].username, c[1].username, "the same run");
    assert_ne!(c[0].password, c[1].password, "but new credentials: {c:?}");
}

#[test]
fn a_socks_server_without_authentication_is_served() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::builder()
        .no_auth_only()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: b"hello\n".to_vec(),
        })
        .start()
        .unwrap();
    let out = ns(
        &mock,
        &["--", "python3", "-c", &connect_each(&[("192.0.2.1", 80)])],
    )
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "done\n", "{}", text(&out));
    let c = mock.connects(1);
    assert_eq!(
        (c[0].methods.clone(), c[0].username.clone()),
        (vec![0, 2], None)
    );
    // Tor would have taken username/password: the user is told, once, what a server
    // that is not Tor means for names it resolves itself.
    assert_eq!(
        stderr(&out)
            .matches("does not answer as Tor does (it takes no authentication")
            .count(),
        1,
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("cannot be checked"), "{}", text(&out));
}
