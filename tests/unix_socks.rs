//! Tor's SOCKS port on a Unix socket (torrc's `SocksPort unix:PATH`; `-a unix:PATH`,
//! `TorSocket`): every connection and lookup of the sandbox comes through the socket,
//! root-run and rootless; a socket of a group (Debian's `debian-tor`) is reached by a
//! root-run whose command's user is not in it; what cannot be reached says why.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use torsocks_testkit::inside::connect_each;
use torsocks_testkit::mock_tor::{Connect, MockTor};
use torsocks_testkit::output::{assert_fails, stdout, text};
use torsocks_testkit::sandbox::{home_of_nobody, root_launcher, rootless_launcher, scratch};
use torsocks_testkit::unix_front::UnixFront;
use torsocks_testkit::{require, wait};

/// The destinations the program inside connects to: an address, and a name (looked up
/// through Tor, then connected to).
const TARGETS: &[(&str, u16)] = &[("192.0.2.7", 80), ("www.example.com", 80)];

/// `torsocks-ns -a unix:PATH`, root-run, from `/`.
fn root_run(socket: &str) -> Command {
    let mut cmd = root_launcher();
    cmd.args(["-a", socket]);
    cmd
}

/// The same, run by `nobody` (rootless).
fn rootless_run(socket: &str, home: &Path) -> Option<Command> {
    let mut cmd = rootless_launcher(home)?;
    cmd.args(["-a", socket]);
    Some(cmd)
}

fn connect_to_targets(mut cmd: Command) -> Output {
    cmd.args(["--", "python3", "-c", &connect_each(TARGETS)])
        .output()
        .unwrap()
}

/// A mock Tor that knows the name and answers every CONNECT itself.
fn mock() -> MockTor {
    MockTor::builder()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: b"hello\n".to_vec(),
        })
        .name("www.example.com", "192.0.2.8".parse().unwrap())
        .start()
        .unwrap()
}

/// Every connection the mock Tor took came through the socket (the launcher was told
/// of no TCP port), and the program's lookup and two CONNECTs reached it.
fn came_through(front: &UnixFront, mock: &MockTor) {
    let asked: Vec<(u8, String)> = mock
        .asked(3)
        .iter()
        .map(|r| (r.command.unwrap_or(0), r.host.clone().unwrap_or_default()))
        .collect();
    for wanted in [
        (0xf0, "www.example.com"),
        (1, "192.0.2.7"),
        (1, "192.0.2.8"),
    ] {
        assert!(
            asked.iter().any(|(c, h)| (*c, h.as_str()) == wanted),
            "{wanted:?} in {asked:?}"
        );
    }
    let same = wait::until(Duration::from_secs(10), || {
        front.connections() == mock.connections()
    });
    assert!(
        same && front.connections() >= 2,
        "through the socket {}, at the mock {}",
        front.connections(),
        mock.connections()
    );
}

#[test]
fn a_socks_port_on_a_unix_socket_root_run_and_rootless() {
    if !require::tun() {
        return;
    }
    let dir = scratch("unix-socks");
    for rootless in [false, true] {
        let mock = mock();
        let front = UnixFront::start(&dir.join("socks"), mock.addr()).unwrap();
        let home = home_of_nobody(&[]);
        let mut cmd = match rootless {
            false => root_run(&front.address()),
            true => match rootless_run(&front.address(), &home) {
                Some(cmd) => cmd,
                None => return,
            },
        };
        cmd.arg("-d");
        let out = connect_to_targets(cmd);
        assert!(
            out.status.success() && stdout(&out).contains("done"),
            "rootless {rootless}: {}",
            text(&out)
        );
        came_through(&front, &mock);
        for confined in [
            "a root with Tor's socket alone",
            "Landlock: no file system, no TCP connection, no bind",
        ] {
            assert!(text(&out).contains(confined), "{confined}: {}", text(&out));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Debian's tor: `SocksPort unix:/run/tor/socks GroupWritable` in a directory of the
/// `debian-tor` group (0750 and 0660 here, a group of the test's own).
fn group_socket(dir: &Path, gid: u32) -> PathBuf {
    let tor_dir = dir.join("tor");
    std::fs::create_dir_all(&tor_dir).unwrap();
    let path = tor_dir.join("socks");
    let chown = |p: &Path, mode: u32| {
        let status = Command::new("chown")
            .arg(format!("0:{gid}"))
            .arg(p)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::set_permissions(p, PermissionsExt::from_mode(mode)).unwrap();
    };
    chown(&tor_dir, 0o750);
    path
}

#[test]
fn a_group_s_socket_is_reached_root_run_and_refused_to_a_user_outside_the_group() {
    if !require::tun() {
        return;
    }
    let dir = scratch("unix-group");
    let path = group_socket(&dir, 4711);
    let mock = mock();
    let front = UnixFront::start(&path, mock.addr()).unwrap();
    let status = Command::new("chown")
        .arg("0:4711")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::set_permissions(&path, PermissionsExt::from_mode(0o660)).unwrap();
    // Root-run, the launcher becomes the command's user (nobody) and keeps the
    // socket's group alone, as with Debian's debian-tor.
    let out = connect_to_targets(root_run(&front.address()));
    assert!(
        out.status.success() && stdout(&out).contains("done"),
        "{}",
        text(&out)
    );
    came_through(&front, &mock);
    // A directory for its owner alone: the launcher (nobody, the socket's group) cannot
    // reach the socket that root's preflight did, and says so before the command runs.
    let tor_dir = path.parent().unwrap();
    std::fs::set_permissions(tor_dir, PermissionsExt::from_mode(0o700)).unwrap();
    let out = connect_to_targets(root_run(&front.address()));
    assert_fails(&out, 1, "the launcher runs as the command's user");
    assert!(!stdout(&out).contains("done"), "{}", text(&out));
    std::fs::set_permissions(tor_dir, PermissionsExt::from_mode(0o750)).unwrap();
    // nobody itself is not in the group: refused before anything starts, with the fix.
    let home = home_of_nobody(&[]);
    let Some(cmd) = rootless_run(&front.address(), &home) else {
        return;
    };
    let out = connect_to_targets(cmd);
    assert_fails(&out, 1, "Permission denied");
    assert_fails(&out, 1, "debian-tor");
    drop(front);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_socket_is_a_clear_error_and_check_names_the_socket() {
    if !require::tun() {
        return;
    }
    let out = connect_to_targets(root_run("unix:/nonexistent/tor/socks"));
    assert_fails(
        &out,
        1,
        "cannot reach Tor's SOCKS port at unix:/nonexistent/tor/socks",
    );
    assert_fails(&out, 1, "Is tor running?");
    let bad = root_run("unix:relative/socks")
        .arg("true")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("relative/socks"), "{}", text(&bad));
    // --check goes through the socket, the sandbox's checks included.
    let dir = scratch("unix-check");
    let mock = mock();
    let front = UnixFront::start(&dir.join("socks"), mock.addr()).unwrap();
    let out = root_run(&front.address()).arg("--check").output().unwrap();
    let lines = stdout(&out);
    for wanted in [
        format!("✓ Tor's SOCKS port at {} answers SOCKS5", front.address()),
        "✓ a DNS lookup is answered through Tor".to_string(),
        "✓ the sandbox's interfaces: lo, tun0".to_string(),
    ] {
        assert!(lines.contains(&wanted), "{wanted}: {}", text(&out));
    }
    drop(front);
    let _ = std::fs::remove_dir_all(&dir);
}
