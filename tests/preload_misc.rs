//! Preload mode: sends (§5.8, §5.9), descriptor passing (§5.10), inbound sockets
//! (§5.11–§5.13), syscall() (§5.14), execve (§5.15), and the registry across
//! duplication and reuse (RG, §5.6), with real processes against the mock Tor server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::Duration;

use torsocks_testkit::mock_tor::{Connect, MockTor};
use torsocks_testkit::probe::{self, call as result, describe as text, value as f};
use torsocks_testkit::require;

fn misc_env(tor: SocketAddr, args: &[&str], vars: &[(&str, &str)]) -> Output {
    probe::run("misc", tor, args, vars)
}

fn misc(mock: &MockTor, args: &[&str]) -> Output {
    misc_env(mock.addr(), args, &[])
}

fn plain(args: &[&str]) -> Output {
    Command::new(probe::build("misc"))
        .args(args)
        .output()
        .unwrap()
}

/// A configuration file with `text`, removed on drop.
struct Conf(std::path::PathBuf);

impl Conf {
    fn new(tag: &str, text: &str) -> Conf {
        let path =
            std::env::temp_dir().join(format!("tsrs-misc-{tag}-{}.conf", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Conf(path)
    }
    fn var(&self) -> (&'static str, &str) {
        ("TORSOCKS_CONF_FILE", self.0.to_str().unwrap())
    }
}

impl Drop for Conf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn echo_mock() -> MockTor {
    MockTor::builder()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: vec![],
        })
        .start()
        .unwrap()
}

// spec C-58, C-59: MSG_FASTOPEN goes through Tor; UDP elsewhere is refused.
#[test]
fn sends() {
    let mock = echo_mock();
    let out = misc(&mock, &["fastopen", "192.0.2.1", "80", "hello"]);
    assert_eq!(result(&out, "send"), (5, 0), "{}", text(&out));
    assert_eq!(f(&out, "echo"), "hello");
    let out = misc(&mock, &["fastopen-msg", "192.0.2.1", "80", "again"]);
    assert_eq!(f(&out, "echo"), "again", "{}", text(&out));
    let recs = mock.wait_for_requests(2, Duration::from_secs(5));
    assert!(recs.iter().all(|r| r.host.as_deref() == Some("192.0.2.1")));

    // UDP sockets exist only with AllowOutboundLocalhost 2.
    let aol2 = Conf::new("aol2", "AllowOutboundLocalhost 2\n");
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let port = sink.local_addr().unwrap().port().to_string();
    for mode in ["sendto", "sendmsg"] {
        let out = misc_env(
            mock.addr(),
            &["udp", "192.0.2.1", "53", mode],
            &[aol2.var()],
        );
        assert_eq!(
            result(&out, "send"),
            (-1, libc::EPERM),
            "{mode}: {}",
            text(&out)
        );
        let out = misc_env(
            mock.addr(),
            &["udp", "127.0.0.1", &port, mode],
            &[aol2.var()],
        );
        assert_eq!(result(&out, "send"), (8, 0), "{mode} to localhost");
    }
    let out = misc_env(
        mock.addr(),
        &["udp", "127.0.0.1", &port, "sendto-null"],
        &[aol2.var()],
    );
    assert_eq!(result(&out, "send"), (8, 0));
    let mut buf = [0u8; 16];
    let mut received = 0;
    while sink.recv(&mut buf).is_ok() {
        received += 1;
    }
    assert_eq!(received, 3);
    // sendmmsg: one entry to 192.0.2.1 refuses the whole call, nothing is sent.
    let out = misc_env(
        mock.addr(),
        &["udp", "192.0.2.1", &port, "sendmmsg"],
        &[aol2.var()],
    );
    assert_eq!(result(&out, "send"), (-1, libc::EPERM));
    assert!(sink.recv(&mut buf).is_err(), "nothing sent");
}

// spec C-53, C-54: listen, accept and accept4.
#[test]
fn inbound() {
    let mock = MockTor::start().unwrap();
    assert_eq!(
        result(&misc(&mock, &["listen", "127.0.0.1"]), "listen"),
        (0, 0)
    );
    assert_eq!(
        result(&misc(&mock, &["listen", "127.3.4.5"]), "listen"),
        (0, 0)
    );
    assert_eq!(result(&misc(&mock, &["listen", "unix"]), "listen"), (0, 0));
    assert_eq!(
        result(&misc(&mock, &["listen", "0.0.0.0"]), "listen"),
        (-1, libc::EPERM)
    );
    assert_eq!(
        result(&misc(&mock, &["listen", "unbound"]), "listen"),
        (-1, libc::EPERM)
    );
    let v6 = [("TORSOCKS_ENABLE_IPV6", "1")];
    for addr in ["::1", "::ffff:127.0.0.1"] {
        let out = misc_env(mock.addr(), &["listen", addr], &v6);
        assert_eq!(result(&out, "listen"), (0, 0), "{addr}: {}", text(&out));
    }
    assert_eq!(
        result(&misc_env(mock.addr(), &["listen", "::"], &v6), "listen"),
        (-1, libc::EPERM)
    );
    let out = misc(&mock, &["accept", "unbound"]);
    assert_eq!(result(&out, "accept"), (-1, libc::EPERM));
    assert_eq!(result(&out, "accept4"), (-1, libc::EPERM));
    let aol1 = Conf::new("aol1", "AllowOutboundLocalhost 1\n");
    let out = misc_env(mock.addr(), &["accept", "localhost4"], &[aol1.var()]);
    assert!(
        result(&out, "accept").0 >= 0 && result(&out, "accept4").0 >= 0,
        "{}",
        text(&out)
    );
    let inbound = [("TORSOCKS_ALLOW_INBOUND", "1")];
    assert_eq!(
        result(
            &misc_env(mock.addr(), &["listen", "0.0.0.0"], &inbound),
            "listen"
        ),
        (0, 0)
    );
    let out = misc_env(mock.addr(), &["accept", "unbound"], &inbound);
    assert_eq!(
        result(&out, "accept").1,
        libc::EINVAL,
        "passed to the C library"
    );
    assert_eq!(mock.connections(), 0);
}

// spec C-55, C-56, C-57: descriptor passing.
#[test]
fn descriptor_passing() {
    let mock = MockTor::start().unwrap();
    let v6 = [("TORSOCKS_ENABLE_IPV6", "1")];
    for what in ["inet", "inet6"] {
        let out = misc_env(mock.addr(), &["recvmsg", what], &v6);
        assert_eq!(
            result(&out, "recvmsg"),
            (-1, libc::EACCES),
            "{what}: {}",
            text(&out)
        );
        assert_eq!(
            f(&out, "lowest_free_before"),
            f(&out, "lowest_free_after"),
            "no fd leaked"
        );
        assert_eq!(f(&out, "still_queued"), "1");
    }
    for what in ["pipe", "unix"] {
        let out = misc(&mock, &["recvmsg", what]);
        assert_eq!(result(&out, "recvmsg"), (1, 0), "{what}: {}", text(&out));
        assert_eq!(f(&out, "valid"), "1");
        assert_eq!(
            f(&out, "received_fd"),
            f(&plain(&["recvmsg", what]), "received_fd"),
            "same fd as without torsocks"
        );
    }
    for what in ["empty", "dontwait"] {
        assert_eq!(
            result(&misc(&mock, &["recvmsg", what]), "recvmsg"),
            (-1, libc::EAGAIN),
            "{what}"
        );
    }
    assert_eq!(
        result(&misc(&mock, &["recvmsg", "notsock"]), "recvmsg"),
        (-1, libc::EBADF)
    );
    assert_eq!(
        result(&misc(&mock, &["recvmsg", "tcp"]), "recvmsg"),
        result(&plain(&["recvmsg", "tcp"]), "recvmsg")
    );
}

// spec C-60, C-61: syscall() routing.
#[test]
fn syscall_routing() {
    let mock = MockTor::start().unwrap();
    assert_eq!(
        result(&misc(&mock, &["syscall", "socket-dgram"]), "syscall"),
        (-1, libc::EPERM)
    );
    let out = misc(&mock, &["syscall", "connect-localhost"]);
    assert_eq!(result(&out, "syscall"), (-1, libc::EPERM));
    assert!(String::from_utf8_lossy(&out.stderr).contains("local address"));
    let aol2 = Conf::new("sys-aol2", "AllowOutboundLocalhost 2\n");
    let out = misc_env(mock.addr(), &["syscall", "sendto"], &[aol2.var()]);
    assert_eq!(result(&out, "syscall"), (-1, libc::EPERM), "{}", text(&out));
    let aol1 = Conf::new("sys-aol1", "AllowOutboundLocalhost 1\n");
    let out = misc_env(mock.addr(), &["syscall", "accept"], &[aol1.var()]);
    assert!(result(&out, "syscall").0 >= 0, "{}", text(&out));
    assert_eq!(
        (f(&out, "from"), f(&out, "len"), f(&out, "family")),
        ("127.0.0.1".into(), "16".into(), "2".into())
    );
    for what in ["getpid", "bind"] {
        let out = misc_env(
            mock.addr(),
            &["syscall", what],
            &[("TORSOCKS_LOG_LEVEL", "5")],
        );
        let logged: Vec<_> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.contains("Configuration"))
            .map(str::to_string)
            .collect();
        assert!(logged.is_empty(), "{what} logs nothing: {logged:?}");
    }
    assert_eq!(f(&misc(&mock, &["syscall", "getpid"]), "match"), "1");
    assert_eq!(
        result(&misc(&mock, &["syscall", "bind"]), "syscall"),
        (0, 0)
    );
}

// spec C-62: privileged programs are not executed.
#[test]
fn execve_refuses_privileged_programs() {
    let mock = MockTor::start().unwrap();
    let dir = std::env::temp_dir().join(format!("tsrs-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("ran");
    let script = format!("#!/bin/sh\ntouch {}\n", marker.display());
    for (name, mode) in [("suid", 0o4755), ("sgid", 0o2755)] {
        let path = dir.join(name);
        std::fs::write(&path, &script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = misc(&mock, &["execve", path.to_str().unwrap()]);
        assert_eq!(result(&out, "execve"), (-1, libc::EPERM), "{name}");
        assert!(String::from_utf8_lossy(&out.stderr)
            .contains("[execve] Refusing to execute privileged binary"));
        assert!(!marker.exists());
    }
    if require::root("set file capabilities") {
        if let Some(setcap) = require::program("setcap") {
            let path = dir.join("capped");
            std::fs::copy("/bin/true", &path).unwrap();
            assert!(Command::new(setcap)
                .arg("cap_net_raw+ep")
                .arg(&path)
                .status()
                .unwrap()
                .success());
            assert_eq!(
                result(&misc(&mock, &["execve", path.to_str().unwrap()]), "execve"),
                (-1, libc::EPERM)
            );
        }
    }
    let path = dir.join("plain");
    std::fs::write(&path, &script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = misc(&mock, &["execve", path.to_str().unwrap()]);
    assert!(out.status.success() && marker.exists(), "{}", text(&out));
    std::fs::remove_dir_all(dir).unwrap();
}

// spec C-28, C-29: the registry follows duplicates and notices reuse.
#[test]
fn registry_duplicates_and_reuse() {
    let mock = echo_mock();
    let out = misc(&mock, &["dups", "198.51.100.7", "80"]);
    assert_eq!(result(&out, "connect"), (0, 0), "{}", text(&out));
    for key in ["dup", "dup2", "dup3", "dupfd", "dupfd_cloexec"] {
        assert_eq!(f(&out, key), "198.51.100.7", "{key}");
    }
    let aol1 = Conf::new("reuse", "AllowOutboundLocalhost 1\n");
    let out = misc_env(mock.addr(), &["reuse", "198.51.100.7", "80"], &[aol1.var()]);
    assert_eq!(f(&out, "same_number"), "1", "{}", text(&out));
    assert_eq!(f(&out, "peer_after_close"), "127.0.0.1");
    assert_eq!(f(&out, "same_number2"), "1");
    assert_eq!(
        result(&out, "connect3"),
        (0, 0),
        "no EISCONN after close_range"
    );
}

// spec C-22: an override replaces the file's value whole (D-5).
#[test]
fn credential_override_is_whole() {
    let mock = MockTor::builder()
        .require_auth()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: vec![],
        })
        .start()
        .unwrap();
    let conf = Conf::new("creds", "SOCKS5Username alice\nSOCKS5Password secret\n");
    let out = misc_env(
        mock.addr(),
        &["isolate", "192.0.2.1", "80"],
        &[conf.var(), ("TORSOCKS_USERNAME", "bo")],
    );
    assert_eq!(result(&out, "parent"), (0, 0), "{}", text(&out));
    let recs = mock.wait_for_requests(2, Duration::from_secs(5));
    assert!(
        recs.iter()
            .all(|r| r.username.as_deref() == Some(&b"bo"[..])),
        "{recs:?}"
    );
    assert!(recs
        .iter()
        .all(|r| r.password.as_deref() == Some(&b"secret"[..])));
    let only_user = Conf::new("half", "SOCKS5Username alice\n");
    let out = misc_env(
        mock.addr(),
        &["isolate", "192.0.2.1", "80"],
        &[only_user.var()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("must be set together (only SOCKS5Username is set)"));
}

// spec C-23, C-24, CF-20, D-19: IsolatePID credentials, regenerated in a fork child.
#[test]
fn isolate_pid_per_process() {
    let mock = MockTor::builder()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: vec![],
        })
        .start()
        .unwrap();
    let out = misc_env(
        mock.addr(),
        &["isolate", "192.0.2.1", "80"],
        &[("TORSOCKS_ISOLATE_PID", "1")],
    );
    assert_eq!(result(&out, "child"), (0, 0), "{}", text(&out));
    let (parent, child) = (f(&out, "parent_pid"), f(&out, "child_pid"));
    let recs = mock.wait_for_requests(2, Duration::from_secs(5));
    let users: Vec<String> = recs
        .iter()
        .map(|r| String::from_utf8_lossy(r.username.as_deref().unwrap_or_default()).into_owned())
        .collect();
    for (user, pid) in users.iter().zip([&parent, &child]) {
        let rest = user
            .strip_prefix(&format!("torsocks-{pid}:"))
            .unwrap_or_else(|| panic!("{user} for {pid}"));
        assert!(
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()),
            "{user}"
        );
    }
    assert_ne!(users[0], users[1]);
    assert!(recs
        .iter()
        .all(|r| r.password.as_deref() == Some(&b"0"[..])));
    let both = Conf::new(
        "iso-auth",
        "IsolatePID 1\nSOCKS5Username a\nSOCKS5Password b\n",
    );
    let out = misc_env(mock.addr(), &["isolate", "192.0.2.1", "80"], &[both.var()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("[config] IsolatePID and SOCKS5 auth both set."));
}

// spec C-50, C-52: connecting to a cookie sends the onion name; other range addresses
// are ordinary addresses.
#[test]
fn onion_cookie_connect() {
    let mock = echo_mock();
    let out = misc(&mock, &["onion", "ExAmPle.ONION", "8080"]);
    assert_eq!(f(&out, "cookie"), "127.42.42.0");
    assert_eq!(result(&out, "connect"), (0, 0), "{}", text(&out));
    assert_eq!(f(&out, "peer"), "127.42.42.0");
    assert_eq!(result(&out, "unallocated"), (-1, libc::EPERM));
    let recs = mock.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (recs[0].atyp, recs[0].host.as_deref(), recs[0].port),
        (Some(3), Some("example.onion"), Some(8080))
    );
    let wide = Conf::new("range", "OnionAddrRange 10.0.0.0/8\n");
    let out = misc_env(mock.addr(), &["onion", "a.onion", "80"], &[wide.var()]);
    assert_eq!(f(&out, "cookie"), "10.0.0.0");
}

// spec G-6: fork while another thread is inside torsocks never leaves a child blocked.
#[test]
fn fork_while_another_thread_works() {
    let mock = echo_mock();
    let out = misc(&mock, &["forkstress", "192.0.2.1", "80"]);
    assert_eq!(result(&out, "connect"), (0, 0), "{}", text(&out));
    assert_eq!(
        f(&out, "forks"),
        "200",
        "every child exited normally: {}",
        text(&out)
    );
}

// spec L-9: once the application closes the log's fd, torsocks never writes to that
// number again, even when the application reuses it for its own file.
#[test]
fn closed_log_fd_is_never_written() {
    let mock = MockTor::start().unwrap();
    let path = std::env::temp_dir().join(format!("tsrs-closelog-{}", std::process::id()));
    let out = misc(&mock, &["closelog", path.to_str().unwrap()]);
    assert_eq!(f(&out, "reused"), "1", "{}", text(&out));
    assert_eq!(result(&out, "connect"), (-1, libc::EPERM));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "mine\n",
        "the file holds only the program's data"
    );
    std::fs::remove_file(&path).unwrap();
}
