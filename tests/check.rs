//! `torsocks-ns --check`: a line per check, the failing ones with their fix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::process::Command;
use torsocks_testkit::inside::free_port;
use torsocks_testkit::install::{bin, torsocks_ns};
use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::output::{stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::ns;

// ---- --check ----

fn check_lines(out: &std::process::Output) -> Vec<String> {
    stdout(out).lines().map(str::to_string).collect()
}

#[test]
fn check_against_the_mock_fails_the_is_tor_line_and_checks_the_sandbox() {
    if !require::tun() {
        return;
    }
    let mock = MockTor::answering();
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
    assert!(mock
        .asked(2)
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
    if !require::root("change a sysctl inside a user namespace and mount over /dev/net")
        || !require::tun()
    {
        return;
    }
    let mock = MockTor::answering();
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
