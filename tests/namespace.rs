//! Namespace mode with real programs: `torsocks-ns` runs them in its sandbox against
//! the mock Tor server, which relays only to the test's target host. Static binaries
//! are held too; UDP never leaves; exit codes and signals behave as in a shell.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::process::Command;
use std::time::Duration;

use torsocks_testkit::install::bin;
use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::output::text;
use torsocks_testkit::require;
use torsocks_testkit::target_host::http_files;
use torsocks_testkit::wait::{eventually, until};
use torsocks_testkit::world::{World, TARGET_NAME};

const NAME: &str = TARGET_NAME;

/// A well-formed v3 onion address (the Tor Project's); only ever sent to the mock Tor.
const ONION: &str = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion";

fn world() -> Option<World> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        require::skip("needs /dev/net/tun");
        return None;
    }
    World::start()
}

fn ns(world: &World, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("torsocks-ns"));
    cmd.args(["-P", &world.mock.addr().port().to_string()])
        .args(args)
        .env("TORSOCKS_CONF_FILE", "/dev/null");
    cmd
}

#[test]
fn curl_by_address_and_name_and_stats() {
    let Some(w) = world() else { return };
    let url = format!("http://{}/big.bin", w.host.ip());
    let out = ns(&w, &["--", "curl", "-sS", "--max-time", "20", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout == http_files()["/big.bin"], "1 MiB intact");
    let out = ns(
        &w,
        &[
            "--stats",
            "--",
            "curl",
            "-sS",
            "--max-time",
            "20",
            &format!("http://{NAME}/hello.txt"),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, http_files()["/hello.txt"], "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connections: 1 opened"), "{stderr}");
    assert!(stderr.contains("A Answered: 1"), "{stderr}");
    let recs = w.mock.wait_for_requests(3, Duration::from_secs(5));
    assert!(recs
        .iter()
        .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some(NAME)));
    let connects: Vec<_> = recs.iter().filter(|r| r.command == Some(1)).collect();
    assert!(connects
        .iter()
        .all(|r| r.host.as_deref() == Some(&w.host.ip().to_string()[..])));
    // Each run is isolated: its own SOCKS credentials.
    assert!(connects.iter().all(|r| r
        .username
        .as_deref()
        .is_some_and(|u| u.starts_with(b"torsocks-ns-"))));
    assert_eq!(w.host.http_requests().len(), 2);
}

#[test]
fn static_busybox_goes_through_tor_too() {
    let Some(w) = world() else { return };
    if !std::path::Path::new("/bin/busybox").exists() {
        require::skip("needs busybox-static");
        return;
    }
    let url = format!("http://{NAME}/hello.txt");
    let out = ns(&w, &["--", "/bin/busybox", "wget", "-q", "-O", "-", &url])
        .output()
        .unwrap();
    assert_eq!(out.stdout, http_files()["/hello.txt"], "{}", text(&out));
    assert!(
        w.mock.connections() >= 2,
        "resolved and connected through the mock"
    );
}

#[test]
fn udp_never_leaves_and_fails_fast() {
    let Some(w) = world() else { return };
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.connect(('{ip}', 9999))\n\
         start = time.time()\n\
         s.send(b'leak?')\n\
         try:\n    s.settimeout(5); s.recv(10); print('answered')\n\
         except ConnectionRefusedError:\n    print('refused', round(time.time() - start, 1))\n",
        ip = w.host.ip()
    );
    let out = ns(&w, &["--stats", "--", "python3", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("refused 0."),
        "ICMP unreachable makes it fail fast: {}",
        text(&out)
    );
    assert!(
        w.host.received().0.is_empty(),
        "nothing reached the target host"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("UDP to port 9999: 1"));
}

#[test]
fn dns_names_onion_and_nxdomain() {
    let Some(w) = world() else { return };
    let script = format!(
        "getent hosts target.test; getent hosts {ONION}; getent hosts nx.test; echo nx=$?; \
         getent hosts made-up.onion; echo malformed=$?"
    );
    let out = ns(&w, &["--", "sh", "-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{} ", w.host.ip())),
        "{}",
        text(&out)
    );
    assert!(
        lines[1].starts_with("10.192.0.0 "),
        "a virtual address: {}",
        text(&out)
    );
    assert_eq!(lines[2], "nx=2", "NXDOMAIN: {}", text(&out));
    assert_eq!(lines[3], "malformed=2", "not a v3 address: {}", text(&out));
    // Connecting to the onion's virtual address sends its name to Tor.
    let out = ns(
        &w,
        &[
            "--",
            "curl",
            "-sS",
            "--max-time",
            "10",
            &format!("http://{ONION}/"),
        ],
    )
    .output()
    .unwrap();
    assert!(
        !out.status.success(),
        "the mock cannot reach the onion service"
    );
    let recs = w.mock.requests();
    assert!(
        recs.iter()
            .any(|r| r.command == Some(1) && r.host.as_deref() == Some(ONION)),
        "{recs:?}"
    );
    assert!(
        !recs
            .iter()
            .any(|r| r.host.as_deref() == Some(ONION) && r.command == Some(0xf0)),
        "no RESOLVE of an onion name"
    );
}

#[test]
fn exit_status_like_a_shell() {
    let Some(w) = world() else { return };
    let status = |args: &[&str]| ns(&w, args).output().unwrap().status.code();
    assert_eq!(status(&["--", "sh", "-c", "exit 7"]), Some(7));
    assert_eq!(status(&["--", "sh", "-c", "kill -TERM $$"]), Some(143));
    let out = ns(&w, &["--", "no-such-command-xyz"]).output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("command not found"));
}

#[test]
fn signals_are_forwarded() {
    let Some(w) = world() else { return };
    let mut child = ns(
        &w,
        &[
            "--",
            "sh",
            "-c",
            "trap 'exit 42' TERM; sleep 30 & echo ready; wait",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // The trap is set once the command says so.
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready, "ready\n");
    // SIGTERM to the launcher reaches the command, whose status comes back.
    assert_eq!(kill(child.id(), libc::SIGTERM), 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
}

/// Signals a process this test started, by PID.
#[allow(unsafe_code)]
fn kill(pid: u32, sig: i32) -> i32 {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid as i32, sig) }
}

#[test]
fn rootless_as_an_unprivileged_user() {
    let Some(w) = world() else { return };
    let Some(setpriv) = require::program("setpriv") else {
        return;
    };
    // Common distributions make /dev/net/tun usable by everyone.
    std::fs::set_permissions(
        "/dev/net/tun",
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let url = format!("http://{NAME}/hello.txt");
    let out = Command::new(setpriv)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(bin("torsocks-ns"))
        .args(["-P", &w.mock.addr().port().to_string(), "--", "sh", "-c"])
        .arg(format!("id -u; curl -sS --max-time 20 {url}"))
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env("HOME", "/")
        .current_dir("/")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    let nobody = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("nobody:x:")
                .and_then(|r| r.split(':').next())
                .map(str::to_string)
        })
        .unwrap();
    assert_eq!(
        stdout.lines().next(),
        Some(nobody.as_str()),
        "the program keeps the caller's uid"
    );
    assert!(
        stdout.ends_with("hello from the target host\n"),
        "{}",
        text(&out)
    );
}

#[test]
fn dig_over_udp_tcp_and_ipv6() {
    let Some(w) = world() else { return };
    if require::program("dig").is_none() {
        return;
    }
    let mock = MockTor::builder()
        .name("www.example.com", "198.51.100.7".parse().unwrap())
        .ptr("192.0.2.9".parse().unwrap(), "ptr.example.org")
        .start()
        .unwrap();
    let script = "dig +short www.example.com; dig +tcp +short www.example.com; \
                  dig -6 +short www.example.com @fd74:6f72::1; dig +short -x 192.0.2.9; \
                  dig nx.example.com | grep -o 'status: [A-Z]*'; \
                  dig www.example.com MX | grep -o 'status: [A-Z]*'; \
                  dig +short www.example.com TXT; \
                  host www.example.com && echo host-exit-0";
    let out = Command::new(bin("torsocks-ns"))
        .args([
            "-P",
            &mock.addr().port().to_string(),
            "--",
            "sh",
            "-c",
            script,
        ])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "198.51.100.7",
            "198.51.100.7",
            "198.51.100.7",
            "ptr.example.org.",
            "status: NXDOMAIN",
            "status: NOERROR",
            "www.example.com has address 198.51.100.7",
            "host-exit-0"
        ],
        "{}",
        text(&out)
    );
    let recs = mock.requests();
    assert!(recs
        .iter()
        .any(|r| r.command == Some(0xf1) && r.host.as_deref() == Some("192.0.2.9")));
    drop(w);
}

#[test]
fn ipv6_destination_goes_to_tor_as_ipv6() {
    let Some(w) = world() else { return };
    let started = std::time::Instant::now();
    let url = "http://[2001:db8::1]/";
    let out = ns(&w, &["--", "curl", "-sS", "--max-time", "10", url])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the mock refuses to relay there");
    // A destination Tor refuses is a refused connection (RST), not a timeout.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Couldn't connect"),
        "{}",
        text(&out)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not timed out"
    );
    let recs = w.mock.wait_for_requests(1, Duration::from_secs(5));
    assert!(
        recs.iter()
            .any(|r| r.command == Some(1) && r.host.as_deref() == Some("2001:db8::1")),
        "{recs:?}"
    );
    assert!(w.host.http_requests().is_empty());
}

#[test]
fn the_command_dies_with_the_launcher() {
    use std::io::{BufRead, Read};
    let Some(w) = world() else { return };
    // The command and its child hold the test's pipe: it reaches EOF only once both
    // are gone.
    let mut launcher = ns(&w, &["--", "sh", "-c", "sleep 600 & echo ready; wait"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(launcher.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n", "the command started");
    assert_eq!(kill(launcher.id(), libc::SIGKILL), 0);
    let _ = launcher.wait();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = tx.send(stdout.read_to_end(&mut rest).map(|_| rest));
    });
    let ended = rx.recv_timeout(Duration::from_secs(10));
    assert!(
        matches!(ended, Ok(Ok(ref rest)) if rest.is_empty()),
        "the sandboxed command outlived the launcher: {ended:?}"
    );
}

#[test]
fn automap_sends_names_to_tor() {
    let Some(w) = world() else { return };
    let url = format!("http://{NAME}/hello.txt");
    let out = ns(
        &w,
        &["--automap", "--", "curl", "-sS", "--max-time", "20", &url],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, http_files()["/hello.txt"], "{}", text(&out));
    let recs = w.mock.requests();
    assert!(
        recs.iter()
            .any(|r| r.command == Some(1) && r.host.as_deref() == Some(NAME)),
        "{recs:?}"
    );
    assert!(
        !recs.iter().any(|r| r.command == Some(0xf0)),
        "no RESOLVE with --automap"
    );
}

#[test]
fn shell_session_and_python() {
    let Some(w) = world() else { return };
    use std::io::Write;
    let mut child = ns(&w, &["--shell"])
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!(
        "curl -sS --max-time 20 http://{NAME}/hello.txt\n\
         python3 -c \"import urllib.request; print(urllib.request.urlopen('http://{NAME}/', timeout=20).read().decode(), end='')\"\n\
         exit 5\n"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let mut expected = http_files()["/hello.txt"].clone();
    expected.extend_from_slice(&http_files()["/"]);
    assert_eq!(out.stdout, expected, "{}", text(&out));
}

// An interactive shell on a real terminal (tmux): job control, Ctrl-C to the foreground
// job, and the shell's exit status back from the launcher.
#[test]
fn interactive_shell_with_job_control() {
    let Some(w) = world() else { return };
    let Some(tmux) = require::program("tmux") else {
        return;
    };
    let session = format!("tsrs{}", std::process::id());
    let status_file = std::env::temp_dir().join(format!("{session}.status"));
    let launcher = format!(
        "env SHELL=/bin/bash TORSOCKS_CONF_FILE=/dev/null {} -P {} --shell; echo $? > {}",
        bin("torsocks-ns").display(),
        w.mock.addr().port(),
        status_file.display()
    );
    let run = |args: &[&str]| Command::new(&tmux).args(args).output().unwrap();
    assert!(run(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "120",
        "-y",
        "30",
        &launcher
    ])
    .status
    .success());
    let keys = |k: &[&str]| {
        let mut args = vec!["send-keys", "-t", session.as_str()];
        args.extend_from_slice(k);
        run(&args);
    };
    let screen = || {
        String::from_utf8_lossy(&run(&["capture-pane", "-t", &session, "-p"]).stdout).into_owned()
    };
    // Waits for `what` on the terminal: the output of a command, never its echo.
    let wait_for = |what: &str| until(Duration::from_secs(15), || screen().contains(what));
    keys(&["echo shell-$((6*7))", "Enter"]);
    wait_for("shell-42");
    keys(&["sleep 30 &", "Enter"]);
    keys(&["jobs", "Enter"]);
    wait_for("Running");
    keys(&["echo fore-$((6*7)); sleep 20", "Enter"]);
    wait_for("fore-42");
    keys(&["C-c"]);
    keys(&["echo after=$?", "Enter"]);
    wait_for("after=");
    let screen = screen();
    keys(&["kill %1; exit 3", "Enter"]);
    let status = eventually(Duration::from_secs(15), || {
        std::fs::read_to_string(&status_file)
            .ok()
            .filter(|s| s.ends_with('\n'))
    })
    .unwrap_or_default();
    let _ = run(&["kill-session", "-t", &session]);
    let _ = std::fs::remove_file(&status_file);
    assert!(
        screen.contains("Running") && screen.contains("sleep 30 &"),
        "{screen}"
    );
    assert!(
        screen.contains("after=130"),
        "Ctrl-C reached the foreground job: {screen}"
    );
    assert_eq!(status.trim(), "3", "{screen}");
}

// A systemd-resolved host: /etc/resolv.conf is a relative symlink into /run, which the
// sandbox replaces with an empty tmpfs. The private resolv.conf lands at the link's
// target. (The host's /etc is left alone: a copy is bound over it in a private mount
// namespace.)
#[test]
fn resolv_conf_linked_into_run() {
    let Some(w) = world() else { return };
    let Some(unshare) = require::program("unshare") else {
        return;
    };
    let dir = torsocks_testkit::install::workspace_root()
        .join("target")
        .join(format!("etc-link-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let etc = dir.join("etc");
    assert!(Command::new("cp")
        .arg("-a")
        .arg("/etc")
        .arg(&etc)
        .status()
        .unwrap()
        .success());
    let _ = std::fs::remove_file(etc.join("resolv.conf"));
    std::os::unix::fs::symlink(
        "../run/systemd/resolve/stub-resolv.conf",
        etc.join("resolv.conf"),
    )
    .unwrap();
    let script = format!(
        "mount --bind {etc} /etc && {ns} -P {port} -- sh -c 'grep nameserver /etc/resolv.conf; getent hosts {NAME}'",
        etc = etc.display(),
        ns = bin("torsocks-ns").display(),
        port = w.mock.addr().port()
    );
    let out = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!("nameserver 10.241.0.1\n{} ", w.host.ip())),
        "{}",
        text(&out)
    );
}

// A program and a file named on the command line under /tmp (which the sandbox
// replaces) are shared at the same paths; nothing else of the host's /tmp is.
#[test]
fn paths_named_on_the_command_line_are_shared() {
    let Some(w) = world() else { return };
    let dir = std::env::temp_dir().join(format!("tsrs-named-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prog = dir.join("prog.sh");
    std::fs::write(
        &prog,
        "#!/bin/sh\necho \"$(cat \"$1\")\"; ls -A /tmp; ls -A \"$(dirname \"$1\")\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("data"), "named data\n").unwrap();
    std::fs::write(dir.join("other"), "not named\n").unwrap();
    let out = ns(&w, &["--"])
        .arg(&prog)
        .arg(dir.join("data"))
        .current_dir("/")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("named data\n{name}\ndata\nprog.sh\n"),
        "{}",
        text(&out)
    );
}

/// `nc -N`, `socat` and a Python `shutdown(SHUT_WR)` send a request, half-close, and
/// wait for the reply. Tor (and the mock, which behaves as it does) ends a stream at
/// its client's half-close: passed on at once (`--half-close-wait 0`) the reply is
/// lost; held back until the far side ends, it arrives.
#[test]
fn a_program_that_half_closes_gets_its_reply() {
    let Some(w) = world() else { return };
    if require::program("nc").is_none() || require::program("socat").is_none() {
        return;
    }
    let host = w.host.ip().to_string();
    let request = r"printf 'GET /hello.txt HTTP/1.0\r\n\r\n'";
    let script = format!(
        "{request} | nc -N -w 10 {host} 80 | tail -n 1; echo nc-done; \
         {request} | socat -t 10 - TCP:{host}:80 | tail -n 1; echo socat-done; \
         python3 -c \"import socket; s = socket.create_connection(('{host}', 80), timeout=10); \
         s.sendall(b'GET /hello.txt HTTP/1.0\\r\\n\\r\\n'); s.shutdown(socket.SHUT_WR); \
         print(s.makefile().read().splitlines()[-1])\""
    );
    let passed_on = ns(&w, &["--half-close-wait", "0", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&passed_on.stdout)
            .lines()
            .take(2)
            .collect::<Vec<_>>(),
        ["nc-done", "socat-done"],
        "the half-close ends the stream before the reply: {}",
        text(&passed_on)
    );
    let held = ns(&w, &["--", "sh", "-c", &script]).output().unwrap();
    assert!(held.status.success(), "{}", text(&held));
    assert_eq!(
        String::from_utf8_lossy(&held.stdout)
            .lines()
            .collect::<Vec<_>>(),
        [
            "hello from the target host",
            "nc-done",
            "hello from the target host",
            "socat-done",
            "hello from the target host"
        ],
        "{}",
        text(&held)
    );
}
