//! Differential check: the same probes run under Debian's
//! C torsocks 2.4.0 and under torsocks-rs, against the same mock Tor server. Where the
//! spec keeps the C original's behaviour the results must be identical; where it
//! differs on purpose (spec §8, D-n) they must differ. The table printed by
//! `cargo test --test differential -- --nocapture` shows which is which.
//!
//! Only scenarios that are safe under the C original are run: every destination is
//! either refused locally or answered by the mock, never relayed. Scenarios where the
//! C original leaks are run only where the leak is caught on loopback: a lookup through
//! the system resolver, in a mount namespace whose resolv.conf names a loopback
//! address the test listens on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use torsocks_testkit::install::library;
use torsocks_testkit::mock_tor::{Connect, Greeting, MockTor, MockTorBuilder};
use torsocks_testkit::probe;
use torsocks_testkit::require;

/// Where Debian installs the C original's library.
fn c_library() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("torsocks").join("libtorsocks.so"))
        .find(|p| p.exists())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Same,
    Differs(&'static str),
}

struct Scenario {
    item: &'static str,
    probe: &'static str,
    args: &'static [&'static str],
    vars: &'static [(&'static str, &'static str)],
    mock: fn() -> MockTorBuilder,
    expect: Expect,
}

fn plain() -> MockTorBuilder {
    MockTor::builder()
}

fn payload() -> MockTorBuilder {
    MockTor::builder().connect(Connect::Succeed {
        atyp: 1,
        payload: b"PAYLOAD".to_vec(),
    })
}

fn ipv6_reply() -> MockTorBuilder {
    MockTor::builder().connect(Connect::Succeed {
        atyp: 4,
        payload: b"0123456789AB".to_vec(),
    })
}

fn wrong_method() -> MockTorBuilder {
    MockTor::builder().greeting(Greeting::Raw(vec![5, 2]))
}

fn names() -> MockTorBuilder {
    MockTor::builder()
        .name("www.example.com", "198.51.100.7".parse().unwrap())
        .ptr("192.0.2.9".parse().unwrap(), "ptr.example.org")
}

fn rep(code: u8) -> MockTorBuilder {
    MockTor::builder().connect(Connect::Fail(code))
}

const V6: &[(&str, &str)] = &[("TORSOCKS_ENABLE_IPV6", "1")];

fn scenarios() -> Vec<Scenario> {
    let s = |item, probe, args, vars, mock, expect| Scenario {
        item,
        probe,
        args,
        vars,
        mock,
        expect,
    };
    vec![
        s(
            "C-1",
            "sock",
            &["socket", "inet", "stream+nonblock"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-2",
            "sock",
            &["socket", "inet", "dgram"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-3",
            "sock",
            &["socket", "inet6", "stream"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-5",
            "sock",
            &["socket", "unix", "stream"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-7",
            "sock",
            &["socketpair", "inet"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-8",
            "sock",
            &["connect", "192.0.2.1", "80", "read=7"],
            &[],
            payload,
            Expect::Same,
        ),
        s(
            "C-9",
            "sock",
            &["connect", "192.0.2.1", "80", "read=12"],
            &[],
            ipv6_reply,
            Expect::Differs("D-1"),
        ),
        s(
            "C-10",
            "sock",
            &["connect", "192.0.2.1", "80", "nonblock"],
            &[],
            payload,
            Expect::Same,
        ),
        s(
            "C-11",
            "sock",
            &["connect", "192.0.2.1", "80", "again"],
            &[],
            payload,
            Expect::Same,
        ),
        s(
            "C-12",
            "sock",
            &["connect", "127.0.0.1", "80"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-13",
            "sock",
            &["connect", "::ffff:127.0.0.1", "80"],
            V6,
            payload,
            Expect::Differs("D-4"),
        ),
        s(
            "C-14",
            "sock",
            &["connect", "0.0.0.0", "80"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-17",
            "sock",
            &["connect", "192.0.2.1", "80", "badfd"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-19",
            "sock",
            &["connect", "192.0.2.1", "80"],
            &[],
            || rep(1),
            Expect::Same,
        ),
        s(
            "C-19",
            "sock",
            &["connect", "192.0.2.1", "80"],
            &[],
            || rep(4),
            Expect::Same,
        ),
        s(
            "C-19",
            "sock",
            &["connect", "192.0.2.1", "80"],
            &[],
            || rep(6),
            Expect::Same,
        ),
        s(
            "C-20",
            "sock",
            &["connect", "192.0.2.1", "80"],
            &[],
            wrong_method,
            Expect::Differs("D-2"),
        ),
        s(
            "C-30",
            "resolve",
            &["ghbn", "localhost"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-30",
            "resolve",
            &["ghbn", "LOCALHOST"],
            &[],
            plain,
            Expect::Differs("D-11"),
        ),
        s(
            "C-31",
            "resolve",
            &["ghbn", "www.example.com"],
            &[],
            names,
            Expect::Same,
        ),
        s(
            "C-32",
            "resolve",
            &["ghbn", "nx.example.com"],
            &[],
            names,
            Expect::Differs("D-7"),
        ),
        s(
            "C-34",
            "resolve",
            &["ghba", "192.0.2.9"],
            &[],
            names,
            Expect::Differs("D-8"),
        ),
        s(
            "C-49",
            "resolve",
            &["ghbn", "abc.onion"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-53",
            "misc",
            &["listen", "127.0.0.1"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-53",
            "misc",
            &["listen", "0.0.0.0"],
            &[],
            plain,
            Expect::Same,
        ),
        s(
            "C-28",
            "misc",
            &["dups", "198.51.100.7", "80"],
            &[],
            payload,
            Expect::Differs("D-20"),
        ),
    ]
}

/// A configuration file holding only a comment: the defaults for both libraries (the
/// C original exits on an empty file, D-18).
fn comment_only_conf() -> PathBuf {
    let path = std::env::temp_dir().join(format!("tsrs-diff-{}.conf", std::process::id()));
    if !path.exists() {
        std::fs::write(&path, "# defaults\n").unwrap();
    }
    path
}

/// What a run shows: the probe's stdout and the bytes the mock received.
fn observe(lib: &std::path::Path, sc: &Scenario) -> String {
    let mock = (sc.mock)().start().unwrap();
    run_with(lib, sc, mock.addr(), &mock)
}

fn run_with(lib: &std::path::Path, sc: &Scenario, tor: SocketAddr, mock: &MockTor) -> String {
    let out = Command::new(probe::build(sc.probe))
        .args(sc.args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LD_PRELOAD", lib)
        .env("TORSOCKS_CONF_FILE", comment_only_conf())
        .env("TORSOCKS_TOR_ADDRESS", tor.ip().to_string())
        .env("TORSOCKS_TOR_PORT", tor.port().to_string())
        .envs(sc.vars.iter().copied())
        .output()
        .expect("run probe");
    let requests = if mock.connections() > 0 {
        mock.wait_for_requests(1, Duration::from_secs(2))
    } else {
        Vec::new()
    };
    let raw: Vec<String> = requests.iter().map(|r| format!("{:02x?}", r.raw)).collect();
    format!(
        "{} | sent {}",
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .replace('\n', "; "),
        raw.join(", ")
    )
}

#[test]
fn c_original_and_torsocks_rs_side_by_side() {
    let Some(c_lib) = c_library() else {
        require::skip("needs Debian's torsocks package (the C original)");
        return;
    };
    let ours = library();
    let mut table = vec![format!(
        "| item | probe | expected | C torsocks 2.4.0 | torsocks-rs |\n|---|---|---|---|---|"
    )];
    let mut failures = Vec::new();
    for sc in scenarios() {
        let c = observe(&c_lib, &sc);
        let rs = observe(&ours, &sc);
        let verdict = match (sc.expect, c == rs) {
            (Expect::Same, true) => "same".to_string(),
            (Expect::Differs(d), false) => format!("differs ({d})"),
            (Expect::Same, false) => {
                failures.push(format!(
                    "{} {:?}: expected the same\n  C:  {c}\n  rs: {rs}",
                    sc.item, sc.args
                ));
                "UNEXPECTED DIFFERENCE".into()
            }
            (Expect::Differs(d), true) => {
                failures.push(format!(
                    "{} {:?}: expected to differ ({d}) but both gave {c}",
                    sc.item, sc.args
                ));
                "UNEXPECTEDLY SAME".into()
            }
        };
        table.push(format!(
            "| {} | {} {} | {verdict} | {c} | {rs} |",
            sc.item,
            sc.probe,
            sc.args.join(" ")
        ));
    }
    // Tor not listening (C-18): same errno from both.
    let down = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let idle = MockTor::start().unwrap();
    let sc = Scenario {
        item: "C-18",
        probe: "sock",
        args: &["connect", "192.0.2.1", "80"],
        vars: &[],
        mock: plain,
        expect: Expect::Same,
    };
    let (c, rs) = (
        run_with(&c_lib, &sc, down, &idle),
        run_with(&ours, &sc, down, &idle),
    );
    if c != rs {
        failures.push(format!("C-18: C {c} / rs {rs}"));
    }
    table.push(format!(
        "| C-18 | sock connect (Tor down) | {} | {c} | {rs} |",
        if c == rs {
            "same"
        } else {
            "UNEXPECTED DIFFERENCE"
        }
    ));
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `probe args` with `lib` preloaded, in a mount namespace of its own whose
/// /etc/resolv.conf names only `nameserver` (a loopback address the test listens on)
/// and whose nsswitch.conf has only files and DNS, so a lookup that bypasses Tor is
/// caught on loopback and goes nowhere else.
fn run_caught(
    lib: &std::path::Path,
    probe_name: &str,
    args: &[&str],
    nameserver: std::net::Ipv4Addr,
    vars: &[(&str, String)],
) -> std::process::Output {
    let conf = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("diff-resolv-{}.conf", std::process::id()));
    std::fs::write(
        &conf,
        format!("nameserver {nameserver}\noptions attempts:1 timeout:1\n"),
    )
    .unwrap();
    // Only files and DNS: no nss module (resolve, mdns) may pass the name elsewhere.
    let nsswitch = conf.with_extension("nsswitch");
    std::fs::write(&nsswitch, "hosts: files dns\n").unwrap();
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount --bind \"$0\" /etc/resolv.conf && mount --bind \"$TS_NSS\" /etc/nsswitch.conf \
             && exec env LD_PRELOAD=\"$TS_LIB\" \"$@\"",
        )
        .arg(&conf)
        .arg(probe::build(probe_name))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        // Preloaded into the probe only, not into unshare and mount.
        .env("TS_LIB", lib)
        .env("TS_NSS", &nsswitch)
        .env("TORSOCKS_CONF_FILE", comment_only_conf())
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run probe")
}

// torsocks 2.5.0 changed two behaviours that spec §8 lists as fixed (D-9, D-18): with
// NULL hints getaddrinfo now resolves through Tor, and a TorAddress of no recognised
// address type is rejected, from TORSOCKS_TOR_ADDRESS (and so --address) too. Debian 12
// ships only 2.4.0: it is run here and must show the old behaviour; 2.5.0's expected
// result is the one torsocks-rs must give, and does.
#[test]
fn what_torsocks_2_5_0_changed() {
    let Some(c_lib) = c_library() else {
        require::skip("needs Debian's torsocks package (the C original)");
        return;
    };
    if !require::root("bind a loopback DNS catcher on port 53 and mount over resolv.conf") {
        return;
    }
    let ours = library();
    let nameserver = std::net::Ipv4Addr::new(127, 0, 0, 77);
    let catcher =
        std::net::UdpSocket::bind((nameserver, 53)).expect("a DNS catcher on 127.0.0.77:53");
    catcher.set_nonblocking(true).unwrap();
    let caught = || {
        let mut names = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok((n, _)) = catcher.recv_from(&mut buf) {
            names.push(String::from_utf8_lossy(&buf[12..n]).into_owned());
        }
        names
    };
    // D-9: getaddrinfo("www.example.com", "80", NULL hints).
    let mut rows = Vec::new();
    for (who, lib) in [("C 2.4.0", &c_lib), ("torsocks-rs", &ours)] {
        let mock = names().start().unwrap();
        let tor = mock.addr();
        let out = run_caught(
            lib,
            "resolve",
            &["gai", "www.example.com", "80", "nullhints"],
            nameserver,
            &[
                ("TORSOCKS_TOR_ADDRESS", tor.ip().to_string()),
                ("TORSOCKS_TOR_PORT", tor.port().to_string()),
            ],
        );
        let to_tor = mock
            .requests()
            .iter()
            .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some("www.example.com"));
        let to_dns = caught().iter().any(|q| q.contains("example"));
        rows.push((
            who,
            to_tor,
            to_dns,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
    }
    println!("| D-9 getaddrinfo, NULL hints | through Tor | system resolver |");
    for (who, to_tor, to_dns, out) in &rows {
        println!(
            "| {who} | {to_tor} | {to_dns} | {}",
            out.trim().replace('\n', "; ")
        );
    }
    println!("| 2.5.0 (expected) | true | false |");
    assert_eq!(
        (rows[0].1, rows[0].2),
        (false, true),
        "2.4.0 leaks to the system resolver"
    );
    assert_eq!(
        (rows[1].1, rows[1].2),
        (true, false),
        "torsocks-rs asks Tor only (as 2.5.0)"
    );

    // D-18: TORSOCKS_TOR_ADDRESS of no recognised type.
    let mock = plain().start().unwrap();
    let vars = [
        ("TORSOCKS_TOR_ADDRESS", "localhost".to_string()),
        ("TORSOCKS_TOR_PORT", mock.addr().port().to_string()),
    ];
    let c = run_caught(
        &c_lib,
        "sock",
        &["socket", "inet", "stream"],
        nameserver,
        &vars,
    );
    let rs = run_caught(
        &ours,
        "sock",
        &["socket", "inet", "stream"],
        nameserver,
        &vars,
    );
    println!(
        "| D-18 TORSOCKS_TOR_ADDRESS=localhost | C 2.4.0: status {:?} (ignored) | torsocks-rs: status {:?} | 2.5.0 (expected): rejected |",
        c.status.code(),
        rs.status.code()
    );
    assert_eq!(
        c.status.code(),
        Some(0),
        "2.4.0 ignores it: {}",
        String::from_utf8_lossy(&c.stderr)
    );
    assert_eq!(
        rs.status.code(),
        Some(1),
        "torsocks-rs rejects it (as 2.5.0)"
    );
    assert!(String::from_utf8_lossy(&rs.stderr).contains("unknown tor address"));
}
