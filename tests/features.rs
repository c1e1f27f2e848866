//! What users ask of a Tor sandbox beyond "it goes through Tor": isolation modes and a
//! new identity, SOCKS servers without authentication, a command line that fails safe,
//! the sandbox's own SOCKS port, published ports. Credentials and destinations are read
//! where they arrive: in the mock Tor's records, and on the target host.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use torsocks_testkit::install::bin;
use torsocks_testkit::mock_tor::{Connect, MockTor, Recorded};
use torsocks_testkit::output::{stderr, stdout, text};
use torsocks_testkit::require;

fn tun() -> bool {
    std::path::Path::new("/dev/net/tun").exists() || require::skip("needs /dev/net/tun")
}

fn ns(mock: &MockTor, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("torsocks-ns"));
    cmd.args(["-P", &mock.addr().port().to_string()])
        .args(args)
        .env("TORSOCKS_CONF_FILE", "/dev/null");
    cmd
}

/// A mock that answers every CONNECT itself (nothing is relayed anywhere).
fn answering() -> MockTor {
    MockTor::builder()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: b"hello\n".to_vec(),
        })
        .start()
        .unwrap()
}

/// Python connecting to each `host:port` in turn and reading the mock's greeting.
fn connect_each(targets: &[(&str, u16)]) -> String {
    let list: Vec<String> = targets
        .iter()
        .map(|(h, p)| format!("('{h}', {p})"))
        .collect();
    format!(
        "import socket\n\
         for t in [{}]:\n\
         \x20   s = socket.create_connection(t, timeout=10)\n\
         \x20   assert s.recv(6) == b'hello\\n'\n\
         \x20   s.close()\n\
         print('done')\n",
        list.join(", ")
    )
}

fn connects(mock: &MockTor, n: usize) -> Vec<Recorded> {
    let recs = mock.wait_for_requests(n, Duration::from_secs(10));
    recs.into_iter().filter(|r| r.command == Some(1)).collect()
}

fn credentials(r: &Recorded) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (r.username.clone(), r.password.clone())
}

#[test]
fn each_isolation_mode_as_tor_sees_it() {
    if !tun() {
        return;
    }
    // Two connections to one destination, one to another.
    let script = connect_each(&[("192.0.2.1", 80), ("192.0.2.1", 80), ("192.0.2.2", 80)]);
    for mode in ["session", "destination", "connection", "none"] {
        let mock = answering();
        let out = ns(&mock, &["--isolate", mode, "--", "python3", "-c", &script])
            .output()
            .unwrap();
        assert_eq!(stdout(&out), "done\n", "{mode}: {}", text(&out));
        let c = connects(&mock, 3);
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
    let (m1, m2) = (answering(), answering());
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
        credentials(&connects(&m1, 1)[0]),
        credentials(&connects(&m2, 1)[0])
    );
}

#[test]
fn sigusr1_gives_new_connections_a_new_identity() {
    if !tun() {
        return;
    }
    let mock = answering();
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
    // SAFETY: signalling our own child by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) }, 0);
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
    let c = connects(&mock, 2);
    assert_eq!(c[0].username, c[1].username, "the same run");
    assert_ne!(c[0].password, c[1].password, "but new credentials: {c:?}");
}

#[test]
fn a_socks_server_without_authentication_is_served() {
    if !tun() {
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
    let c = connects(&mock, 1);
    assert_eq!(
        (c[0].methods.clone(), c[0].username.clone()),
        (vec![0, 2], None)
    );
}

#[test]
fn options_are_parsed_strictly_before_the_command() {
    let mock = answering();
    let marker = std::env::temp_dir().join(format!("ts-typo-{}", std::process::id()));
    let marker = marker.to_str().unwrap();
    // A misspelt option is an error with a suggestion, never a command to run.
    let out = ns(&mock, &["--stat", "touch", marker]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("'--stat'"), "{}", text(&out));
    assert!(
        stderr(&out).contains("--stats"),
        "a suggestion: {}",
        text(&out)
    );
    assert!(!std::path::Path::new(marker).exists(), "nothing ran");
    // The command's own options are its own, with or without `--`.
    if !tun() {
        return;
    }
    for args in [
        &["sh", "-c", "echo -n ok"][..],
        &["--", "sh", "-c", "echo -n ok"][..],
    ] {
        let out = ns(&mock, args).output().unwrap();
        assert_eq!(stdout(&out), "ok", "{}", text(&out));
    }
    let out = ns(&mock, &["--isolate", "sometimes", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
