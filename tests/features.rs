//! What users ask of a Tor sandbox beyond "it goes through Tor": isolation modes and a
//! new identity, SOCKS servers without authentication, a command line that fails safe,
//! the sandbox's own SOCKS port, published ports. Credentials and destinations are read
//! where they arrive: in the mock Tor's records, and on the target host.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use torsocks_testkit::install::{bin, torsocks_ns};
use torsocks_testkit::mock_tor::{Connect, MockTor, Recorded};
use torsocks_testkit::output::{stderr, stdout, text};
use torsocks_testkit::require;

fn tun() -> bool {
    require::tun()
}

fn ns(mock: &MockTor, args: &[&str]) -> Command {
    torsocks_ns(mock.addr(), args)
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

/// The requests (CONNECT, RESOLVE, RESOLVE_PTR) the mock has seen once there are `n`
/// of them (or ten seconds passed); the launcher's own probes of the port are left out.
fn requests(mock: &MockTor, n: usize) -> Vec<Recorded> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    loop {
        let recs = mock.wait_for_requests(seen + 1, Duration::from_millis(200));
        seen = recs.len();
        let asked: Vec<Recorded> = recs.into_iter().filter(|r| r.command.is_some()).collect();
        if asked.len() >= n || std::time::Instant::now() > deadline {
            return asked;
        }
    }
}

fn connects(mock: &MockTor, n: usize) -> Vec<Recorded> {
    let recs = requests(mock, n);
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
    let script = connect_each(&[("192.0.2.1", 80), ("192.0.2.1", 80), ("198.51.100.2", 80)]);
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

// ---- The sandbox's SOCKS port ----

use torsocks_testkit::target_host::http_files;
use torsocks_testkit::world::{World, TARGET_NAME};

/// A well-formed v3 onion address (the Tor Project's); only ever sent to the mock Tor.
const ONION: &str = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion";

fn world() -> Option<World> {
    if !tun() {
        return None;
    }
    World::start()
}

#[test]
fn curl_hands_names_to_the_sandboxs_socks_port() {
    let Some(w) = world() else { return };
    let url = format!("http://{TARGET_NAME}/hello.txt");
    for proxy in ["127.0.0.1:9050", "[::1]:9050"] {
        let out = ns(
            &w.mock,
            &[
                "--",
                "curl",
                "-sS",
                "--max-time",
                "20",
                "--socks5-hostname",
                proxy,
                &url,
            ],
        )
        .output()
        .unwrap();
        assert_eq!(
            out.stdout,
            http_files()["/hello.txt"],
            "{proxy}: {}",
            text(&out)
        );
    }
    // The name travelled to Tor in the CONNECT; nothing was resolved first.
    let recs = requests(&w.mock, 2);
    assert!(recs.iter().all(|r| r.command == Some(1)), "{recs:?}");
    assert!(recs.iter().all(|r| r.host.as_deref() == Some(TARGET_NAME)));
    assert!(
        recs.iter().all(|r| r.username.is_some()),
        "isolated: {recs:?}"
    );
    assert_eq!(
        w.host.http_requests().len(),
        2,
        "both reached the target host"
    );

    // SOCKS4a carries the name too; SOCKS4 the address the sandbox's DNS gave.
    let connects_to = |h: &str| {
        requests(&w.mock, 0)
            .iter()
            .filter(|r| r.command == Some(1) && r.host.as_deref() == Some(h))
            .count()
    };
    let ip = w.host.ip().to_string();
    for (flag, host) in [("--socks4a", TARGET_NAME), ("--socks4", &ip[..])] {
        let before = connects_to(host);
        let out = ns(
            &w.mock,
            &[
                "--",
                "curl",
                "-sS",
                "--max-time",
                "20",
                flag,
                "127.0.0.1:9050",
                &url,
            ],
        )
        .output()
        .unwrap();
        assert_eq!(
            out.stdout,
            http_files()["/hello.txt"],
            "{flag}: {}",
            text(&out)
        );
        assert_eq!(
            connects_to(host),
            before + 1,
            "{flag} reached Tor as {host}"
        );
    }

    // A .onion name reaches Tor as it is (curl 8.1 and later refuse it over DNS).
    let out = ns(
        &w.mock,
        &[
            "--",
            "curl",
            "-sS",
            "--max-time",
            "20",
            "--socks5-hostname",
            "127.0.0.1:9050",
            &format!("http://{ONION}/"),
        ],
    )
    .output()
    .unwrap();
    assert!(
        !out.status.success(),
        "the mock knows no onion: {}",
        text(&out)
    );
    assert!(
        requests(&w.mock, 3)
            .iter()
            .any(|r| r.command == Some(1) && r.host.as_deref() == Some(ONION)),
        "the mock saw the onion name"
    );
}

#[test]
fn proxy_env_points_programs_at_the_socks_port() {
    let Some(w) = world() else { return };
    let url = format!("http://{TARGET_NAME}/hello.txt");
    let out = ns(
        &w.mock,
        &["--proxy-env", "--", "curl", "-sS", "--max-time", "20", &url],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, http_files()["/hello.txt"], "{}", text(&out));
    let recs = requests(&w.mock, 1);
    assert_eq!(
        (recs[0].command, recs[0].host.as_deref()),
        (Some(1), Some(TARGET_NAME)),
        "by name through the SOCKS port, not a DNS lookup first: {recs:?}"
    );
    // Without the option the caller's proxy variables stay outside (they name a host
    // service); --keep-env passes one on.
    let echo = ["--", "sh", "-c", "echo ${ALL_PROXY:-unset}"];
    let out = ns(&w.mock, &echo)
        .env("ALL_PROXY", "socks5h://192.0.2.50:1080")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "unset\n", "{}", text(&out));
    let out = ns(&w.mock, &[&["--keep-env", "ALL_PROXY"], &echo[..]].concat())
        .env("ALL_PROXY", "socks5h://192.0.2.50:1080")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "socks5h://192.0.2.50:1080\n",
        "{}",
        text(&out)
    );
}

#[test]
fn tor_resolve_asks_the_socks_port() {
    let Some(w) = world() else { return };
    if require::program("tor-resolve").is_none() {
        return;
    }
    let ip = w.host.ip().to_string();
    let out = ns(
        &w.mock,
        &["--", "tor-resolve", TARGET_NAME, "127.0.0.1:9050"],
    )
    .output()
    .unwrap();
    assert_eq!(stdout(&out).trim(), ip, "{}", text(&out));
    let out = ns(
        &w.mock,
        &["--", "tor-resolve", "no-such.test", "127.0.0.1:9050"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let recs = requests(&w.mock, 2);
    assert!(recs
        .iter()
        .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some(TARGET_NAME)));
}

#[test]
fn the_socks_port_can_be_moved_or_removed() {
    let Some(w) = world() else { return };
    let url = format!("http://{TARGET_NAME}/hello.txt");
    let curl = |extra: &[&str], proxy: &str| {
        let mut args = extra.to_vec();
        args.extend([
            "--",
            "curl",
            "-sS",
            "--max-time",
            "20",
            "--socks5-hostname",
            proxy,
        ]);
        args.push(&url);
        ns(&w.mock, &args).output().unwrap()
    };
    let out = curl(&["--socks-port", "1080"], "127.0.0.1:1080");
    assert_eq!(out.stdout, http_files()["/hello.txt"], "{}", text(&out));
    let out = curl(&["--no-socks-port"], "127.0.0.1:9050");
    assert_eq!(out.status.code(), Some(7), "refused: {}", text(&out));
    assert_eq!(w.host.http_requests().len(), 1);
}

#[test]
fn idle_socks_clients_cannot_starve_the_port() {
    let Some(w) = world() else { return };
    // --max-connections 20 allows 10 SOCKS clients at once. Ten clients that never
    // finish their greeting hold every slot: the eleventh is reset at once, and once the
    // idle ones leave, a real request is served.
    let script = format!(
        "import socket, urllib.request\n\
         idle = [socket.create_connection(('127.0.0.1', 9050)) for _ in range(10)]\n\
         for s in idle: s.send(b'\\x05')\n\
         extra = socket.create_connection(('127.0.0.1', 9050))\n\
         extra.settimeout(10)\n\
         try:\n\
         \x20   extra.send(b'\\x05\\x01\\x00')\n\
         \x20   print('eleventh:', extra.recv(2) or b'closed')\n\
         except (ConnectionResetError, BrokenPipeError):\n\
         \x20   print('eleventh: reset')\n\
         for s in idle: s.close()\n\
         import time\n\
         for attempt in range(50):\n\
         \x20   s = socket.create_connection(('127.0.0.1', 9050))\n\
         \x20   try:\n\
         \x20       s.send(b'\\x05\\x01\\x00')\n\
         \x20       if s.recv(2) == b'\\x05\\x00': break\n\
         \x20   except (ConnectionResetError, BrokenPipeError): pass\n\
         \x20   time.sleep(0.05)\n\
         name = b'{TARGET_NAME}'\n\
         s.send(b'\\x05\\x01\\x00\\x03' + bytes([len(name)]) + name + b'\\x00\\x50')\n\
         assert s.recv(10)[:2] == b'\\x05\\x00'\n\
         s.send(b'GET /hello.txt HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n')\n\
         print('served:', b'200' in s.recv(100))\n"
    );
    let out = ns(
        &w.mock,
        &["--max-connections", "20", "--", "python3", "-c", &script],
    )
    .output()
    .unwrap();
    let s = stdout(&out);
    assert!(
        s.contains("eleventh: reset") || s.contains("eleventh: b'closed'"),
        "{}",
        text(&out)
    );
    assert!(s.contains("served: True"), "{}", text(&out));
    assert_eq!(w.host.http_requests().len(), 1);
}

// ---- Published ports ----

/// A free port on the host's loopback (bound and released: the test's own choice).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// python3 serving `greeting + peer address` on 127.0.0.1:8000 and [::1]:8001 inside
/// the sandbox; prints "ready" once listening and ends when its stdin closes.
const SERVERS: &str = "import socket, sys, threading\n\
    def serve(family, addr, port):\n\
    \x20   s = socket.socket(family)\n\
    \x20   s.bind((addr, port)); s.listen()\n\
    \x20   return s\n\
    def loop(s):\n\
    \x20   while True:\n\
    \x20       c, peer = s.accept()\n\
    \x20       c.sendall(('inside %d from %s\\n' % (s.getsockname()[1], peer[0])).encode())\n\
    \x20       c.close()\n\
    socks = [serve(socket.AF_INET, '127.0.0.1', 8000), serve(socket.AF_INET6, '::1', 8001)]\n\
    for s in socks: threading.Thread(target=loop, args=(s,), daemon=True).start()\n\
    print('ready', flush=True)\n\
    sys.stdin.read()\n";

/// torsocks-ns with `options` running [`SERVERS`]; returns once they listen. The
/// servers end when the child's stdin is closed.
fn with_servers(mock: &MockTor, options: &[&str]) -> std::process::Child {
    let mut args = options.to_vec();
    args.extend(["--", "python3", "-c", SERVERS]);
    let mut child = ns(mock, &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    child
}

fn fetch(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = String::new();
    match std::io::Read::read_to_string(&mut s, &mut got) {
        Ok(_) => got,
        Err(e) => format!("error: {:?}", e.kind()),
    }
}

#[test]
fn published_ports_reach_servers_inside() {
    if !tun() {
        return;
    }
    let mock = answering();
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
    let mock = answering();
    for (spec, why) in [
        ("0.0.0.0:18090:80", "--publish-any"),
        ("192.0.2.1:18090:80", "not a loopback address"),
        ("18090", "expected [HOST_ADDR:]HOST_PORT:SANDBOX_PORT"),
    ] {
        let out = ns(&mock, &["--publish", spec, "true"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{spec}: {}", text(&out));
        assert!(stderr(&out).contains(why), "{spec}: {}", text(&out));
    }
    if !tun() {
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

// ---- Tor's ControlPort: onion services, NEWNYM, bootstrap ----

use torsocks_testkit::mock_control::{ControlAuth, MockControl, SERVICE_ID};

/// The loopback target Tor was told to reach for virtual port `virt`.
fn onion_target(control: &MockControl, virt: u16) -> String {
    let add = control
        .commands()
        .into_iter()
        .find(|c| c.starts_with("ADD_ONION"))
        .expect("ADD_ONION sent");
    let prefix = format!("Port={virt},");
    add.split(' ')
        .find_map(|w| w.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{add}"))
        .to_string()
}

#[test]
fn an_onion_service_for_a_server_inside() {
    if !tun() {
        return;
    }
    let mock = answering();
    let control = MockControl::start(ControlAuth::SafeCookie, vec![100]).unwrap();
    let dir = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("onion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let address_file = dir.join("address");
    // A link planted where the address goes: the launcher replaces it, never writing
    // through it.
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, &address_file).unwrap();
    let mut child = with_servers(
        &mock,
        &[
            "--control",
            &control.addr().to_string(),
            "--control-cookie",
            control.cookie_file().unwrap().to_str().unwrap(),
            "--onion-service",
            "80:8000",
            "--onion-address-file",
            address_file.to_str().unwrap(),
        ],
    );
    let address = format!("{SERVICE_ID}.onion");
    assert_eq!(
        std::fs::read_to_string(&address_file).unwrap(),
        format!("{address}\n")
    );
    assert!(std::fs::symlink_metadata(&address_file).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // Authenticated by SAFECOOKIE (the cookie itself never sent), an ephemeral key.
    let commands = control.commands();
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("AUTHCHALLENGE SAFECOOKIE ")),
        "{commands:?}"
    );
    let add = commands
        .iter()
        .find(|c| c.starts_with("ADD_ONION"))
        .unwrap();
    assert!(
        add.starts_with("ADD_ONION NEW:ED25519-V3 Flags=DiscardPK Port=80,127.0.0.1:"),
        "{add}"
    );
    // Where Tor would connect, the sandbox's server answers.
    assert_eq!(
        fetch(&onion_target(&control, 80)),
        "inside 8000 from 127.0.0.1\n"
    );
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "onion service {address}: port 80 is the sandbox's port 8000"
        )),
        "{}",
        text(&out)
    );
    assert!(
        control
            .commands()
            .contains(&format!("DEL_ONION {SERVICE_ID}")),
        "removed at exit"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_onion_key_keeps_the_address_across_runs() {
    if !tun() {
        return;
    }
    let mock = answering();
    let dir = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("onion-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key");
    let mut adds = Vec::new();
    for _ in 0..2 {
        let control =
            MockControl::start(ControlAuth::Password("s3cret".into()), vec![100]).unwrap();
        let out = ns(
            &mock,
            &[
                "--control",
                &control.addr().to_string(),
                "--control-password",
                "s3cret",
                "--onion-service",
                "8000",
                "--onion-key",
                key.to_str().unwrap(),
                "true",
            ],
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        adds.extend(
            control
                .commands()
                .into_iter()
                .filter(|c| c.starts_with("ADD_ONION")),
        );
    }
    assert!(
        adds[0].starts_with("ADD_ONION NEW:ED25519-V3 Port=8000,"),
        "{adds:?}"
    );
    assert!(
        adds[1].starts_with("ADD_ONION ED25519-V3:bW9jayBrZXk= Port=8000,"),
        "{adds:?}"
    );
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn control_port_errors_name_what_is_missing() {
    let mock = answering();
    let out = ns(&mock, &["--onion-service", "80", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--onion-service needs Tor's ControlPort: give --control"),
        "{}",
        text(&out)
    );
    let control = MockControl::start(ControlAuth::Password("right".into()), vec![100]).unwrap();
    let addr = control.addr().to_string();
    let out = ns(&mock, &["--control", &addr, "true"]).output().unwrap();
    assert!(stderr(&out).contains("needs a password"), "{}", text(&out));
    let out = ns(
        &mock,
        &["--control", &addr, "--control-password", "wrong", "true"],
    )
    .output()
    .unwrap();
    assert!(
        stderr(&out).contains("refused the authentication"),
        "{}",
        text(&out)
    );
    let closed = free_port();
    let out = ns(
        &mock,
        &["--control", &format!("127.0.0.1:{closed}"), "true"],
    )
    .output()
    .unwrap();
    assert!(
        stderr(&out).contains("cannot reach Tor's ControlPort"),
        "{}",
        text(&out)
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bootstrap_progress_is_shown_and_bounded() {
    let mock = answering();
    if tun() {
        let control = MockControl::start(ControlAuth::None, vec![10, 10, 50, 100]).unwrap();
        let out = ns(&mock, &["--control", &control.addr().to_string(), "true"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let e = stderr(&out);
        let phases: Vec<&str> = e
            .lines()
            .filter(|l| l.contains("waiting for Tor to bootstrap"))
            .collect();
        assert_eq!(phases.len(), 2, "one line per phase: {e}");
        assert!(
            phases[0].ends_with("10% Phase 10") && phases[1].ends_with("50% Phase 50"),
            "{e}"
        );
    }
    let stuck = MockControl::start(ControlAuth::None, vec![10]).unwrap();
    let out = ns(
        &mock,
        &[
            "--control",
            &stuck.addr().to_string(),
            "--bootstrap-timeout",
            "1",
            "true",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has not bootstrapped within 1 s: it stopped at 10%"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_new_identity_sends_newnym_with_a_control_port() {
    if !tun() {
        return;
    }
    let mock = answering();
    let control = MockControl::start(ControlAuth::None, vec![100]).unwrap();
    let mut child = ns(
        &mock,
        &[
            "--control",
            &control.addr().to_string(),
            "--",
            "sh",
            "-c",
            "echo ready; read x; exit 0",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    torsocks_testkit::install::ask_new_identity(&child);
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    errors.read_line(&mut line).unwrap();
    assert!(line.contains("Tor was sent NEWNYM"), "{line}");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(control.commands().contains(&"SIGNAL NEWNYM".to_string()));
}

// ---- --check ----

fn check_lines(out: &std::process::Output) -> Vec<String> {
    stdout(out).lines().map(str::to_string).collect()
}

#[test]
fn check_against_the_mock_fails_the_is_tor_line_and_checks_the_sandbox() {
    if !tun() {
        return;
    }
    let mock = answering();
    let out = ns(&mock, &["--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let lines = check_lines(&out);
    let has = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    assert!(has("✓ Tor's SOCKS port at 127.0.0.1:"), "{lines:#?}");
    assert!(has("✗ it is not Tor"), "the mock is not Tor: {lines:#?}");
    for ok in [
        "✓ the sandbox's interfaces: lo, tun0",
        "✓ UDP other than DNS is refused",
        "✓ a DNS lookup is answered through Tor",
        "✓ none of the host's",
        "✓ no file descriptor is inherited",
        "✓ unprivileged user namespaces can be created",
        "✓ /dev/net/tun is usable",
    ] {
        assert!(has(ok), "{ok}: {lines:#?}");
    }
    // The policy in force, as a root-run gets it.
    let policy = stdout(&out);
    for said in [
        "the command runs as nobody (uid 65534), never as host root",
        "home: private",
        "bounds: at most 4096 processes",
    ] {
        assert!(policy.contains(said), "{said}: {policy}");
    }
    // The lookup reached the mock as a RESOLVE: through "Tor", not the host's DNS.
    assert!(requests(&mock, 2)
        .iter()
        .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some("torproject.org")));
    // Nothing running: the SOCKS line fails with what to do.
    let closed = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let out = torsocks_ns(closed, &["--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("✗ cannot reach Tor's SOCKS port"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_names_the_fix_when_namespaces_or_tun_are_missing() {
    if !require::root("change a sysctl inside a user namespace and mount over /dev/net") || !tun() {
        return;
    }
    let mock = answering();
    let ns_bin = bin("torsocks-ns");
    let run = |script: &str| {
        Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
            .arg("check")
            .arg(&ns_bin)
            .arg(mock.addr().port().to_string())
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .output()
            .unwrap()
    };
    // max_user_namespaces is per user namespace: 0 here blocks only this test's children.
    let out = run("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$1\" -P \"$2\" --check");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "✗ unprivileged user namespaces are blocked: sysctl -w user.max_user_namespaces="
        ),
        "{}",
        text(&out)
    );
    let out = run("mount -t tmpfs none /dev/net && exec \"$1\" -P \"$2\" --check");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("✗ /dev/net/tun is not usable"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("modprobe tun"), "{}", text(&out));
}

#[test]
fn socks_clients_own_credentials_keep_them_apart() {
    let Some(w) = world() else { return };
    let url = format!("http://{TARGET_NAME}/hello.txt");
    let mut args = vec!["--"];
    let script = format!(
        "for u in alice:x bob:x alice:x; do curl -sS --max-time 20 --socks5-hostname \
         127.0.0.1:9050 --proxy-user $u {url} || exit 1; done; curl -sS --max-time 20 \
         --socks5-hostname 127.0.0.1:9050 {url}"
    );
    args.extend(["sh", "-c", &script]);
    let out = ns(&w.mock, &args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let c = connects(&w.mock, 4);
    assert_eq!(c.len(), 4, "{c:?}");
    let pw: Vec<_> = c.iter().map(|r| r.password.clone()).collect();
    assert_eq!(pw[0], pw[2], "alice twice: the same circuits");
    assert!(pw[0] != pw[1] && pw[1] != pw[3] && pw[0] != pw[3], "{c:?}");
    // All of them within this run's isolation, none of them the client's own pair.
    assert!(c.iter().all(|r| r.username == c[0].username));
    assert!(c
        .iter()
        .all(|r| r.username.as_deref() != Some(&b"alice"[..])));
}

#[test]
fn preload_mode_inside_the_sandbox_finds_tor_at_the_usual_port() {
    let Some(w) = world() else { return };
    let url = format!("http://{TARGET_NAME}/hello.txt");
    let torsocks = bin("torsocks");
    // The installation (wrapper and library) is shared by name: it may lie where the
    // sandbox shows nothing (under /var/tmp when the checkout is in a private home).
    let prefix = torsocks_testkit::install::prefix();
    let out = ns(
        &w.mock,
        &[
            "--ro-bind",
            prefix.to_str().unwrap(),
            "--",
            torsocks.to_str().unwrap(),
            "curl",
            "-sS",
            "--max-time",
            "20",
            &url,
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, http_files()["/hello.txt"], "{}", text(&out));
    // The library asked the sandbox's SOCKS port to resolve the name, which the
    // launcher passed on to Tor.
    assert!(requests(&w.mock, 2)
        .iter()
        .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some(TARGET_NAME)));
}

#[test]
fn a_server_inside_may_listen_on_a_low_port() {
    if !tun() {
        return;
    }
    let mock = answering();
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

#[test]
fn a_socks_client_that_leaves_during_the_dial_frees_its_slot() {
    if !tun() {
        return;
    }
    // Tor never answers a CONNECT. --max-connections 2 leaves one SOCKS slot: the
    // first client asks, then leaves; the next one must get the slot.
    let mock = MockTor::builder().connect(Connect::Stall).start().unwrap();
    let script = "import socket, time\n\
                  def greet():\n\
                  \x20   s = socket.create_connection(('127.0.0.1', 9050), timeout=10)\n\
                  \x20   s.sendall(b'\\x05\\x01\\x00')\n\
                  \x20   return s, s.recv(2)\n\
                  a, r = greet(); assert r == b'\\x05\\x00', r\n\
                  a.sendall(b'\\x05\\x01\\x00\\x01\\xc0\\x00\\x02\\x01\\x00\\x50')\n\
                  a.close()\n\
                  for attempt in range(100):\n\
                  \x20   try:\n\
                  \x20       b, r = greet()\n\
                  \x20       if r == b'\\x05\\x00': print('served'); break\n\
                  \x20   except (ConnectionResetError, BrokenPipeError): pass\n\
                  \x20   time.sleep(0.05)\n\
                  else:\n\
                  \x20   print('starved')\n";
    let out = ns(
        &mock,
        &["--max-connections", "2", "--", "python3", "-c", script],
    )
    .output()
    .unwrap();
    // Without giving the dial up, the first client would hold the slot for the whole
    // connect deadline (120 s) and the second would starve.
    assert_eq!(stdout(&out), "served\n", "{}", text(&out));
}

#[test]
fn the_control_port_can_come_from_torsocks_conf() {
    if !tun() {
        return;
    }
    let mock = answering();
    let control =
        MockControl::start(ControlAuth::Password("fr\"om\\file".into()), vec![100]).unwrap();
    let conf = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("control-{}.conf", std::process::id()));
    std::fs::write(
        &conf,
        format!(
            "TorControlPort {}\nTorControlPassword fr\"om\\file\n",
            control.addr()
        ),
    )
    .unwrap();
    let out = ns(&mock, &["--onion-service", "80:8000", "true"])
        .env("TORSOCKS_CONF_FILE", &conf)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&conf);
    assert!(out.status.success(), "{}", text(&out));
    let commands = control.commands();
    assert!(
        commands.contains(&"AUTHENTICATE \"fr\\\"om\\\\file\"".to_string()),
        "the password quoted: {commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.starts_with("ADD_ONION")),
        "{commands:?}"
    );
}

#[test]
fn a_new_identity_asked_for_during_the_bootstrap_is_kept() {
    if !tun() {
        return;
    }
    let mock = answering();
    // Bootstrapping for a few status queries, long enough to be signalled meanwhile.
    let control = MockControl::start(ControlAuth::None, vec![10, 10, 10, 10, 10, 10, 100]).unwrap();
    let mut child = ns(
        &mock,
        &[
            "--control",
            &control.addr().to_string(),
            "--",
            "python3",
            "-c",
            &connect_each(&[("192.0.2.1", 80)]),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    errors.read_line(&mut line).unwrap();
    assert!(line.contains("waiting for Tor to bootstrap"), "{line}");
    torsocks_testkit::install::ask_new_identity(&child);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut errors, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "it survived the signal: {rest}");
    assert!(rest.contains("new identity (1)"), "{rest}");
    let c = connects(&mock, 1);
    assert_eq!(c[0].password.as_deref(), Some(&b"g1"[..]), "{c:?}");
}
