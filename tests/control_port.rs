//! Tor's ControlPort: onion services for servers inside (their keys kept across runs),
//! bootstrap progress, NEWNYM with a new identity, and errors that name what is missing.
//! Against the suite's mock ControlPort.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;
use torsocks_testkit::inside::{connect_each, fetch, free_port, with_servers};
use torsocks_testkit::mock_control::{ControlAuth, MockControl, SERVICE_ID};
use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::output::{assert_fails, stderr, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::ns;
use torsocks_testkit::wait::until;

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
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
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
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
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
    let mock = MockTor::answering();
    let out = ns(&mock, &["--onion-service", "80", "true"])
        .output()
        .unwrap();
    assert_fails(
        &out,
        1,
        "--onion-service needs Tor's ControlPort: give --control",
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
    let mock = MockTor::answering();
    if require::tun() {
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
    assert_fails(
        &out,
        1,
        "has not bootstrapped within 1 s: it stopped at 10%",
    );
}

#[test]
fn a_new_identity_sends_newnym_with_a_control_port() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
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

/// NEWNYM waits for Tor's answer outside the session's loop: while Tor has not answered,
/// a new connection of the program is still served (it would wait for Tor's answer, up to
/// the ControlPort's deadline, were the exchange in the loop).
#[test]
fn a_slow_newnym_does_not_stall_the_connections() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
    let control = MockControl::start(ControlAuth::None, vec![100]).unwrap();
    control.hold_newnym();
    let script = "import socket, sys\n\
                  print('ready', flush=True)\n\
                  sys.stdin.readline()\n\
                  s = socket.create_connection(('192.0.2.1', 80), timeout=5)\n\
                  assert s.recv(6) == b'hello\\n'\n\
                  print('connected', flush=True)\n\
                  sys.stdin.readline()\n";
    let mut child = ns(
        &mock,
        &[
            "--control",
            &control.addr().to_string(),
            "--",
            "python3",
            "-c",
            script,
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
    let asked = || control.commands().contains(&"SIGNAL NEWNYM".to_string());
    assert!(until(Duration::from_secs(10), asked), "NEWNYM never sent");
    // Tor holds its answer; the program connects meanwhile.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    let connected = lines.next().map(|l| l.unwrap());
    control.release_newnym();
    assert_eq!(connected.as_deref(), Some("connected"));
    assert_eq!(mock.connects(1).len(), 1);
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    errors.read_line(&mut line).unwrap();
    assert!(line.contains("Tor was sent NEWNYM"), "{line}");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_control_port_can_come_from_torsocks_conf() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
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
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
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
    let c = mock.connects(1);
    assert_eq!(c[0].password.as_deref(), Some(&b"g1"[..]), "{c:?}");
}

/// A directory of the test's own for a Unix socket (short enough for sun_path).
fn socket_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// Debian's tor has its ControlPort on a Unix socket only, with SAFECOOKIE.
#[test]
fn a_unix_control_socket_with_safecookie() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
    let dir = socket_dir("unix-control");
    let path = dir.join("control");
    let control = MockControl::start_unix(&path, ControlAuth::SafeCookie, vec![100]).unwrap();
    let out = ns(
        &mock,
        &["--control", &format!("unix:{}", path.display()), "true"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let commands = control.commands();
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("AUTHCHALLENGE SAFECOOKIE "))
            && commands.contains(&"GETINFO status/bootstrap-phase".to_string()),
        "{commands:?}"
    );
    drop(control);
    let gone = ns(
        &mock,
        &["--control", &format!("unix:{}", path.display()), "true"],
    )
    .output()
    .unwrap();
    assert_fails(
        &gone,
        1,
        &format!("cannot reach Tor's ControlPort at unix:{}", path.display()),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `cmd` run where `/run/tor/control` is `socket`: in a mount namespace of its own with
/// a fresh /run (the host's /run is neither seen nor changed).
fn with_debian_socket(
    cmd: &std::process::Command,
    socket: &std::path::Path,
) -> std::process::Command {
    let mut wrapped = std::process::Command::new("unshare");
    wrapped
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t tmpfs tmpfs /run && mkdir /run/tor && : > /run/tor/control \
             && mount --bind \"$0\" /run/tor/control && exec \"$@\"",
        )
        .arg(socket)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

// With no ControlPort configured, Debian's /run/tor/control is used, but only when its
// Tor is the one whose SOCKS port the run uses.
#[test]
fn debian_s_control_socket_is_used_when_it_serves_the_run_s_tor() {
    if !require::tun() || require::program("unshare").is_none() {
        return;
    }
    let mock = MockTor::answering();
    let dir = socket_dir("debian-control");
    let socket = dir.join("control");
    let control = MockControl::start_unix(&socket, ControlAuth::SafeCookie, vec![100]).unwrap();
    // Another Tor's ControlPort: not used, and an onion service says why.
    let run = ns(&mock, &["-d", "true"]);
    let out = with_debian_socket(&run, &socket).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "not using /run/tor/control: the Tor at unix:/run/tor/control has no SOCKS \
             port at {}",
            mock.addr()
        )),
        "{}",
        text(&out)
    );
    assert!(!control.commands().iter().any(|c| c.contains("bootstrap")));
    let onion = ns(&mock, &["--onion-service", "80", "true"]);
    let out = with_debian_socket(&onion, &socket).output().unwrap();
    assert_fails(&out, 1, "is not the Tor this run uses");
    // The run's own Tor: bootstrap, and the onion service published through it.
    control.serving_socks(mock.addr());
    let onion = ns(&mock, &["-d", "--onion-service", "80", "true"]);
    let out = with_debian_socket(&onion, &socket).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("using Tor's ControlPort at unix:/run/tor/control"),
        "{}",
        text(&out)
    );
    let commands = control.commands();
    assert!(
        commands.contains(&"GETINFO status/bootstrap-phase".to_string())
            && commands.iter().any(|c| c.starts_with("ADD_ONION ")),
        "{commands:?}"
    );
    drop(control);
    let _ = std::fs::remove_dir_all(&dir);
}
