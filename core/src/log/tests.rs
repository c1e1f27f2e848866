//! Logging tests. The process-wide sink is exercised in the preload's integration
//! tests (a real process per configuration); here the pure parts are checked.

use std::collections::HashMap;
use std::ffi::OsString;

use super::*;

fn env(vars: &[(&str, &str)]) -> HashMap<String, OsString> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect()
}

const HERE: Location = Location {
    function: "connect",
    file: "preload/src/connect.rs",
    line: 42,
};

fn line(time: Option<u64>, level: Level, msg: &str, strerror: Option<&str>) -> String {
    let mut buf = LineBuf::new();
    format_line(
        &mut buf,
        time,
        level,
        4242,
        format_args!("{msg}"),
        strerror,
        &HERE,
    );
    String::from_utf8(buf.finish().to_vec()).unwrap()
}

// spec L-5, C-74
#[test]
fn line_shape() {
    assert_eq!(
        line(Some(1_700_000_000), Level::Warning, "hello", None),
        "1700000000 WARNING torsocks[4242]: hello (in connect() at preload/src/connect.rs:42)\n"
    );
    assert_eq!(
        line(None, Level::Debug, "x", None),
        "DEBUG torsocks[4242]: x (in connect() at preload/src/connect.rs:42)\n"
    );
}

// spec L-6
#[test]
fn perror_appends_strerror() {
    let text = sink::test_strerror(libc::ECONNREFUSED);
    assert_eq!(text, "Connection refused");
    assert!(
        line(None, Level::PError, "socks5 libc connect", Some(&text))
            .starts_with("PERROR torsocks[4242]: socks5 libc connect: Connection refused (in ")
    );
}

// spec L-7: at most 4096 bytes, LF included, still LF-terminated
#[test]
fn long_lines_are_truncated() {
    let long = "x".repeat(10_000);
    let l = line(Some(1), Level::Error, &long, None);
    assert_eq!(l.len(), MAX_LINE);
    assert!(l.ends_with("xx\n"));
}

// spec L-1: thresholds
#[test]
fn level_thresholds() {
    let at = |n| LogSettings {
        level: Some(n),
        ..LogSettings::default()
    };
    assert!(!at(1).shows(Level::Error));
    assert!(at(2).shows(Level::Error) && at(2).shows(Level::PError));
    assert!(!at(2).shows(Level::Warning));
    assert!(at(3).shows(Level::Warning) && !at(3).shows(Level::Debug));
    assert!(at(4).shows(Level::Warning) && !at(4).shows(Level::Debug));
    assert!(at(5).shows(Level::Debug));
}

// spec L-1..L-4, C-73, C-74
#[test]
fn settings_from_environment() {
    assert_eq!(
        LogSettings::from_env(&env(&[])),
        (LogSettings::default(), None)
    );
    let (s, p) = LogSettings::from_env(&env(&[
        ("TORSOCKS_LOG_LEVEL", "5"),
        ("TORSOCKS_LOG_TIME", "0"),
        ("TORSOCKS_LOG_FILE_PATH", "/tmp/x.log"),
    ]));
    assert_eq!(p, None);
    assert_eq!(
        s,
        LogSettings {
            level: Some(5),
            time: false,
            destination: Destination::File("/tmp/x.log".into())
        }
    );
    for (value, n) in [("0", 0), ("9", 9), ("abc", 0), ("", 0), ("-3", -3)] {
        let (s, p) = LogSettings::from_env(&env(&[("TORSOCKS_LOG_LEVEL", value)]));
        assert_eq!(s.level, None);
        let p = p.unwrap();
        assert_eq!(p.to_string(), format!("[tsocks] Unknown loglevel {n}"));
    }
    let (s, _) = LogSettings::from_env(&env(&[("TORSOCKS_LOG_TIME", "yes")]));
    assert!(!s.time, "atoi(\"yes\") is 0");
}

#[test]
fn function_name_macro() {
    fn inner() -> &'static str {
        crate::__function_name!()
    }
    assert_eq!(inner(), "inner");
}
