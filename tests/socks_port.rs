//! The sandbox's own SOCKS port, for Tor-aware programs: names handed to Tor, RESOLVE,
//! the port moved or removed, clients that idle or leave, clients' own credentials, and
//! preload mode inside the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use torsocks_testkit::install::bin;
use torsocks_testkit::mock_tor::{Connect, MockTor};
use torsocks_testkit::output::{stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::ns;
// ---- The sandbox's SOCKS port ----

use torsocks_testkit::target_host::http_files;
use torsocks_testkit::world::{World, TARGET_NAME};

/// A well-formed v3 onion address (the Tor Project's); only ever sent to the mock Tor.
const ONION: &str = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion";

#[test]
fn curl_hands_names_to_the_sandboxs_socks_port() {
    let Some(w) = World::with_tun() else { return };
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
    let recs = w.mock.asked(2);
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
        w.mock
            .asked(0)
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
        w.mock
            .asked(3)
            .iter()
            .any(|r| r.command == Some(1) && r.host.as_deref() == Some(ONION)),
        "the mock saw the onion name"
    );
}

#[test]
fn proxy_env_points_programs_at_the_socks_port() {
    let Some(w) = World::with_tun() else { return };
    let url = format!("http://{TARGET_NAME}/hello.txt");
    let out = ns(
        &w.mock,
        &["--proxy-env", "--", "curl", "-sS", "--max-time", "20", &url],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, http_files()["/hello.txt"], "{}", text(&out));
    let recs = w.mock.asked(1);
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
    let Some(w) = World::with_tun() else { return };
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
    let recs = w.mock.asked(2);
    assert!(recs
        .iter()
        .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some(TARGET_NAME)));
}

#[test]
fn the_socks_port_can_be_moved_or_removed() {
    let Some(w) = World::with_tun() else { return };
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
    let Some(w) = World::with_tun() else { return };
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

#[test]
fn socks_clients_own_credentials_keep_them_apart() {
    let Some(w) = World::with_tun() else { return };
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
    let c = w.mock.connects(4);
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
    let Some(w) = World::with_tun() else { return };
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
    assert!(w
        .mock
        .asked(2)
        .iter()
        .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some(TARGET_NAME)));
}

#[test]
fn a_socks_client_that_leaves_during_the_dial_frees_its_slot() {
    if !require::tun() {
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
