//! The embedded Tor client's failures, on loopback only: a network that never answers
//! gives a clear error within the bootstrap timeout, and bad options are refused
//! before anything starts. (It carrying traffic is shown end to end, against the
//! private Tor network, in tests/tornet.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::process::Command;
use std::time::{Duration, Instant};

use torsocks_testkit::install::bin;
use torsocks_testkit::output::{assert_fails, stderr, text};
use torsocks_testkit::require;
use torsocks_testkit::wait::{eventually, until};

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An Arti configuration whose only authority and fallback cache are a closed port on
/// loopback: the client can reach nothing, and would contact nothing else.
fn unreachable_network(dir: &std::path::Path) -> std::path::PathBuf {
    let port = closed_port();
    let path = dir.join("arti.toml");
    std::fs::write(
        &path,
        format!(
            "[tor_network]\n\
             authorities = {{ v3idents = [\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"], \
             uploads = [[\"127.0.0.1:{port}\"]], downloads = [[\"127.0.0.1:{port}\"]], \
             votes = [[\"127.0.0.1:{port}\"]] }}\n\
             fallback_caches = [{{ rsa_identity = \"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\", \
             ed_identity = \"7TfQHXZP7SvdtxnMXQh1CCxvqSnU/9wJ4O7JupzdOXY\", \
             orports = [\"127.0.0.1:{port}\"] }}]\n\
             [address_filter]\nallow_local_addrs = true\n\
             [storage.permissions]\ndangerously_trust_everyone = true\n"
        ),
    )
    .unwrap();
    path
}

/// The arguments that point the embedded client at the unreachable network of `dir`,
/// with a bootstrap deadline of `seconds`.
fn unreachable_client(dir: &std::path::Path, seconds: u32) -> Vec<std::ffi::OsString> {
    let config = unreachable_network(dir);
    vec![
        "--bootstrap-timeout".into(),
        seconds.to_string().into(),
        "--tor-state".into(),
        dir.join("state").into(),
        "--arti-config".into(),
        config.into(),
    ]
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("embedded-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn built_in() -> bool {
    let out = Command::new(bin("torsocks-ns"))
        .arg("--version")
        .output()
        .unwrap();
    let built = String::from_utf8_lossy(&out.stdout).contains("embedded Tor client: Arti");
    if !built {
        eprintln!("skipped: torsocks-ns was built without the embedded client");
    }
    built
}

#[test]
fn an_unreachable_network_is_a_clear_error_within_the_timeout() {
    if !require::tun() || !built_in() {
        return;
    }
    let dir = scratch("unreachable");
    let started = Instant::now();
    let out = Command::new(bin("torsocks-ns"))
        .args(["--tor", "embedded"])
        .args(unreachable_client(&dir, 5))
        .args(["--", "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_fails(&out, 1, "has not bootstrapped within 5 s: it reached");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// A SOCKS5 server on loopback that is not Tor (as `ssh -D` is not): it takes every
/// greeting, refuses every request, and closes on anything else. It serves at most
/// `connections` connections.
fn socks_server_not_tor(connections: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut greeting = [0u8; 2];
            if stream.read_exact(&mut greeting).is_err() || greeting[0] != 5 {
                continue; // not SOCKS5 (Tor's HTTP answer is what this server lacks)
            }
            let mut methods = vec![0u8; usize::from(greeting[1])];
            let _ = stream.read_exact(&mut methods);
            let _ = stream.write_all(&[5, 0]);
            let mut request = [0u8; 512];
            if stream.read(&mut request).is_ok_and(|n| n > 0) {
                // REP 1, general failure, for CONNECT, RESOLVE and the rest alike.
                let _ = stream.write_all(&[5, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
            }
        }
    });
    port
}

#[test]
fn auto_does_not_take_a_socks_server_that_is_not_tor() {
    if !built_in() {
        return;
    }
    let dir = scratch("not-tor");
    let port = socks_server_not_tor(10);
    let out = Command::new(bin("torsocks-ns"))
        .args(["--tor", "auto", "-d", "-P", &port.to_string()])
        .args(unreachable_client(&dir, 5))
        .args(["--", "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("answers but is not Tor") && err.contains("using the embedded Tor client"),
        "auto says why it passes over the SOCKS server: {err}"
    );
    // The embedded client was taken (and, on this closed network, reports it cannot
    // bootstrap); the SOCKS server carried nothing.
    assert!(err.contains("has not bootstrapped within 5 s"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Named as the daemon, the same server is used: the user asked for it.
    let out = Command::new(bin("torsocks-ns"))
        .args(["--tor", "daemon", "-P", &port.to_string(), "--", "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_client_process_ignores_the_terminal_and_ends_with_the_launcher() {
    if !built_in() {
        return;
    }
    let dir = scratch("lifetime");
    let mut launcher = Command::new(bin("torsocks-ns"))
        .args(["--tor", "embedded"])
        .args(unreachable_client(&dir, 20))
        .args(["--", "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bootstrapping (it cannot finish on this network): torsocks-arti is running, and
    // has taken its signals over (a process just exec'd has not yet: wait for it).
    let arti = eventually(Duration::from_secs(10), || {
        torsocks_testkit::procfs::children(launcher.id())
            .into_iter()
            .find(|&pid| torsocks_testkit::procfs::is_named(pid, "torsocks-arti"))
    })
    .expect("torsocks-arti never started");
    // Ignored or caught: either way not the default action (the end of the process).
    let taken = |signal: i32| {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{arti}/status")) else {
            return false;
        };
        let mask = |field: &str| {
            (status.lines())
                .find_map(|l| l.strip_prefix(field))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                .unwrap_or(0)
        };
        (mask("SigIgn:") | mask("SigCgt:")) & (1 << (signal - 1)) != 0
    };
    assert!(
        until(Duration::from_secs(10), || taken(libc::SIGINT)
            && taken(libc::SIGQUIT)),
        "torsocks-arti does not take SIGINT and SIGQUIT over"
    );
    let alive = || std::path::Path::new(&format!("/proc/{arti}")).exists();
    // A Ctrl-C or Ctrl-\ at the terminal is for the program, not for its Tor.
    for signal in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: kill(2) on the PID of a process this test started (a child of its child).
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(arti as libc::pid_t, signal) };
        assert_eq!(rc, 0);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(), "torsocks-arti died of SIGINT or SIGQUIT");
    // The launcher killed outright: the client goes with it (its stdin closes).
    launcher.kill().unwrap();
    launcher.wait().unwrap();
    let gone = || {
        !alive()
            || std::fs::read_to_string(format!("/proc/{arti}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    };
    assert!(
        until(Duration::from_secs(10), gone),
        "torsocks-arti outlived its launcher's SIGKILL"
    );
}

#[test]
fn the_helper_reports_the_same_error() {
    if !built_in() {
        return;
    }
    let dir = scratch("helper");
    let started = Instant::now();
    let out = Command::new(bin("torsocks-ns"))
        .arg("--preload")
        .arg(torsocks_testkit::install::library())
        .args(["--tor", "auto", "-d", "-P"])
        .arg(closed_port().to_string())
        .args(unreachable_client(&dir, 5))
        .args(["--", "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("no tor daemon"), "auto says why: {err}");
    assert!(err.contains("has not bootstrapped within 5 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn bad_embedded_options_are_refused_before_anything_starts() {
    if !built_in() {
        return;
    }
    let dir = scratch("options");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[tor_network\n").unwrap();
    let run = |args: &[&str]| {
        Command::new(bin("torsocks-ns"))
            .args(args)
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .env("HOME", &dir)
            .output()
            .unwrap()
    };
    let out = run(&[
        "--tor",
        "embedded",
        "--arti-config",
        bad.to_str().unwrap(),
        "true",
    ]);
    assert_fails(&out, 1, "--arti-config");
    let out = run(&["--tor", "embedded", "--onion-service", "80", "true"]);
    assert_fails(&out, 1, "need a tor daemon");
    let out = run(&["--tor", "arti", "true"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown kind");
    // The wrapper checks its own options.
    let out = Command::new(bin("torsocks"))
        .args(["--tor", "arti", "true"])
        .output()
        .unwrap();
    assert_fails(&out, 1, "expected auto, daemon or embedded");
}
