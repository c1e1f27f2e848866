//! libtorsocks.so initialisation in real processes: configuration and logging errors
//! end the process with status 1 before `main`, warnings are logged, and a good
//! configuration lets the program run (spec §2, §3).
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use torsocks_testkit::install;
use torsocks_testkit::output::assert_fails;

struct Conf(PathBuf);

impl Conf {
    fn new(name: &str, contents: &str) -> Conf {
        let path = std::env::temp_dir().join(format!("tsrs-{}-{name}.conf", std::process::id()));
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(contents.as_bytes()))
            .unwrap();
        Conf(path)
    }
}

impl Drop for Conf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `sh -c 'echo ran'` with the library preloaded and only the given variables.
fn run_preloaded(conf: Option<&Conf>, vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "echo ran"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LD_PRELOAD", install::library());
    let path = conf.map_or_else(
        || PathBuf::from("/nonexistent/torsocks.conf"),
        |c| c.0.clone(),
    );
    cmd.env("TORSOCKS_CONF_FILE", path);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run sh")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ran(out: &Output) -> bool {
    out.status.success() && out.stdout == b"ran\n"
}

/// spec L-5, C-74: `^([0-9]+ )?(ERROR|WARNING|DEBUG|PERROR) torsocks\[[0-9]+\]: .* \(in `
fn is_log_line(line: &str) -> bool {
    let rest = match line.split_once(' ') {
        Some((secs, rest)) if !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => line,
    };
    let Some((level, rest)) = rest.split_once(' ') else {
        return false;
    };
    let Some(rest) = rest.strip_prefix("torsocks[") else {
        return false;
    };
    let Some((pid, rest)) = rest.split_once("]: ") else {
        return false;
    };
    ["ERROR", "WARNING", "DEBUG", "PERROR"].contains(&level)
        && !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && rest.contains(" (in ")
}

// spec C-63: a missing file warns and the program runs with the defaults.
#[test]
fn missing_config_file_warns_and_runs() {
    let out = run_preloaded(None, &[]);
    assert!(ran(&out), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("WARNING torsocks[")
            && err.contains(
                "Config file not found: /nonexistent/torsocks.conf. Using default for Tor"
            ),
        "{err}"
    );
    assert!(err.lines().all(is_log_line), "{err}");
}

// spec C-63: an empty or comment-only file gives no message.
#[test]
fn empty_config_file_is_silent() {
    for (name, text) in [("empty", ""), ("comments", "# only\n   # comments\n")] {
        let conf = Conf::new(name, text);
        let out = run_preloaded(Some(&conf), &[]);
        assert!(ran(&out));
        assert_eq!(stderr(&out), "", "{name}");
    }
}

// spec C-66, CF-3: a directive without a value: ERROR and exit 1, not a signal.
#[test]
fn missing_value_exits_1() {
    let conf = Conf::new("novalue", "TorAddress 127.0.0.1\nTorPort\n");
    let out = run_preloaded(Some(&conf), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "the program must not run");
    let err = stderr(&out);
    assert!(err.contains("ERROR torsocks["), "{err}");
    assert!(
        err.contains("Config file line 2: TorPort needs a value"),
        "{err}"
    );
}

// spec C-67, C-68, C-70: invalid values from file or environment are fatal.
#[test]
fn invalid_values_exit_1() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("TorPort 65536\n", &[], "Config file invalid port: 65536"),
        (
            "",
            &[("TORSOCKS_TOR_PORT", "0")],
            "Config file invalid port: 0",
        ),
        (
            "TorAddress localhost\n",
            &[],
            "Config file unknown tor address: localhost",
        ),
        (
            "",
            &[("TORSOCKS_TOR_ADDRESS", "1.2.3")],
            "Config file unknown tor address: 1.2.3",
        ),
        (
            "AllowInbound 2\n",
            &[],
            "[config] Invalid 2 value for AllowInbound",
        ),
        (
            "OnionAddrRange 127.42.42.0/280\n",
            &[],
            "[config] Invalid mask 280 for OnionAddrRange",
        ),
        (
            "SOCKS5Username alice\n",
            &[],
            "(only SOCKS5Username is set)",
        ),
        // A SOCKS port on a Unix socket serves torsocks-ns only.
        (
            "TorSocket /run/tor/socks\n",
            &[],
            "serves torsocks-ns only: torsocks needs Tor's TCP SocksPort",
        ),
        (
            "",
            &[("TORSOCKS_TOR_ADDRESS", "unix:/run/tor/socks")],
            "(TorSocket unix:/run/tor/socks) serves torsocks-ns only",
        ),
    ];
    for (i, (file, vars, message)) in cases.iter().enumerate() {
        let conf = Conf::new(&format!("invalid{i}"), file);
        let out = run_preloaded(Some(&conf), vars);
        assert_eq!(out.status.code(), Some(1), "case {i}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "case {i}: {}", stderr(&out));
    }
}

// spec C-73, CF-3, D-28: level 1 silences warnings but never a fatal error.
#[test]
fn quiet_level_still_reports_fatal_errors() {
    let out = run_preloaded(None, &[("TORSOCKS_LOG_LEVEL", "1")]);
    assert!(ran(&out));
    assert_eq!(stderr(&out), "");
    let conf = Conf::new("quietfatal", "TorPort 0\n");
    let out = run_preloaded(Some(&conf), &[("TORSOCKS_LOG_LEVEL", "1")]);
    assert_fails(&out, 1, "Config file invalid port: 0");
}

// spec C-73, L-2: an unknown level is announced and disables logging.
#[test]
fn unknown_log_level() {
    for (value, n) in [("0", "0"), ("9", "9"), ("x", "0")] {
        let out = run_preloaded(None, &[("TORSOCKS_LOG_LEVEL", value)]);
        assert!(ran(&out));
        assert_eq!(stderr(&out), format!("[tsocks] Unknown loglevel {n}\n"));
    }
}

// spec C-74, L-3, L-4: TORSOCKS_LOG_TIME=0 drops the number; the file is appended to.
#[test]
fn log_time_and_file() {
    let out = run_preloaded(None, &[("TORSOCKS_LOG_TIME", "0")]);
    assert!(
        stderr(&out).starts_with("WARNING torsocks["),
        "{}",
        stderr(&out)
    );
    let log = std::env::temp_dir().join(format!("tsrs-{}-log.txt", std::process::id()));
    std::fs::write(&log, "previous line\n").unwrap();
    let path = log.to_str().unwrap();
    let out = run_preloaded(None, &[("TORSOCKS_LOG_FILE_PATH", path)]);
    assert!(ran(&out));
    assert_eq!(stderr(&out), "");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("previous line"));
    let line = lines.next().unwrap();
    assert!(
        is_log_line(line) && line.contains("Config file not found"),
        "{line}"
    );
    let out = run_preloaded(
        None,
        &[("TORSOCKS_LOG_FILE_PATH", "/nonexistent/dir/x.log")],
    );
    assert!(ran(&out));
    assert_eq!(
        stderr(&out),
        "[tsocks] Unable to open log file /nonexistent/dir/x.log\n"
    );
}

// spec C-73: level 5 adds DEBUG lines.
#[test]
fn debug_level() {
    let conf = Conf::new("debug", "EnableIPv6 1\n");
    let out = run_preloaded(Some(&conf), &[("TORSOCKS_LOG_LEVEL", "5")]);
    assert!(ran(&out));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.contains("DEBUG torsocks[") && l.contains("IPv6 enabled")),
        "{err}"
    );
}
