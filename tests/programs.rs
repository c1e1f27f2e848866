//! Real programs under `torsocks` against the mock Tor server, reaching the target
//! host only through the mock's relay: curl (by address and by name), python3, nc,
//! and a static busybox wget that the wrapper must warn about.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use torsocks_testkit::install::bin;
use torsocks_testkit::require;
use torsocks_testkit::target_host::http_files;
use torsocks_testkit::world::{World, TARGET_NAME};

const NAME: &str = TARGET_NAME;

fn world() -> Option<World> {
    World::start()
}

fn torsocks(world: &World, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("torsocks"));
    cmd.args(["-P", &world.mock.addr().port().to_string()])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("TORSOCKS_CONF_FILE", "/dev/null");
    cmd
}

fn check(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout {}\nstderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_by_address_and_by_name() {
    let Some(w) = world() else { return };
    if require::program("curl").is_none() {
        return;
    }
    let url = format!("http://{}/hello.txt", w.host.ip());
    let out = torsocks(
        &w,
        &["curl", "--silent", "--show-error", "--max-time", "20", &url],
    )
    .output()
    .unwrap();
    assert_eq!(check(&out).as_bytes(), http_files()["/hello.txt"]);
    let recs = w.mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(
        (recs[0].command, recs[0].host.clone()),
        (Some(1), Some(w.host.ip().to_string()))
    );

    let url = format!("http://{NAME}/big.bin");
    let out = torsocks(
        &w,
        &["curl", "--silent", "--show-error", "--max-time", "20", &url],
    )
    .output()
    .unwrap();
    assert!(
        out.stdout == http_files()["/big.bin"],
        "1 MiB body intact; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = w.mock.wait_for_requests(3, Duration::from_secs(5));
    assert!(
        recs.iter()
            .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some(NAME)),
        "{recs:?}"
    );
    assert_eq!(w.host.http_requests().len(), 2);
}

#[test]
fn python_socket_urllib_and_getaddrinfo() {
    let Some(w) = world() else { return };
    if require::program("python3").is_none() {
        return;
    }
    let script = format!(
        "import socket, urllib.request\n\
         print(socket.gethostbyname('{NAME}'))\n\
         print(sorted({{ai[4][0] for ai in socket.getaddrinfo('{NAME}', 80)}}))\n\
         print(urllib.request.urlopen('http://{NAME}/hello.txt', timeout=20).read().decode(), end='')\n\
         s = socket.create_connection(('{ip}', 7), timeout=20)\n\
         s.sendall(b'ping'); print(s.recv(4).decode()); print(s.getpeername()[0])\n\
         try:\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    print('udp allowed')\n\
         except PermissionError:\n    print('udp denied')\n",
        ip = w.host.ip()
    );
    let out = torsocks(&w, &["python3", "-c", &script]).output().unwrap();
    let text = check(&out);
    let lines: Vec<&str> = text.lines().collect();
    let ip = w.host.ip().to_string();
    assert_eq!(lines[0], ip);
    assert_eq!(lines[1], format!("['{ip}']"));
    assert_eq!(lines[2], "hello from the target host");
    assert_eq!(lines[3], "ping");
    assert_eq!(lines[4], ip, "getpeername shows the destination, not Tor");
    assert_eq!(lines[5], "udp denied");
}

#[test]
fn nc_tcp_through_tor_and_udp_refused() {
    let Some(w) = world() else { return };
    if require::program("nc").is_none() {
        return;
    }
    let ip = w.host.ip().to_string();
    // No -N: Tor ends a stream at its client's half-close, and preload mode passes the
    // half-close on (torsocks(8)), so the echo is read before stdin closes.
    let mut nc = torsocks(&w, &["nc", "-w", "10", &ip, "7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = nc.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"hello nc\n").unwrap();
    let mut echo = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(nc.stdout.take().unwrap()),
        &mut echo,
    )
    .unwrap();
    let _ = nc.kill();
    let out = nc.wait_with_output().unwrap();
    assert_eq!(
        echo,
        "hello nc\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = torsocks(&w, &["nc", "-u", "-w", "1", &ip, "9999"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "UDP must fail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        w.host.received().0.is_empty(),
        "nothing reached the target over UDP"
    );
}

#[test]
fn static_busybox_wget_is_warned_about() {
    let Some(w) = world() else { return };
    if !std::path::Path::new("/bin/busybox").exists() {
        require::skip("needs busybox-static");
        return;
    }
    let url = format!("http://{}/hello.txt", w.host.ip());
    let out = torsocks(&w, &["/bin/busybox", "wget", "-q", "-O", "-", &url])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("WARNING: /bin/busybox is statically linked;"),
        "{stderr}"
    );
    // The static binary bypassed the library: the mock saw nothing. This is the leak
    // that namespace mode exists to close.
    assert_eq!(w.mock.connections(), 0);
}
