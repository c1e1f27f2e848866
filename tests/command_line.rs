//! The command line fails safe: options are parsed strictly, before anything of the command
//! runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::output::{assert_fails, stderr, stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::ns;

#[test]
fn options_are_parsed_strictly_before_the_command() {
    let mock = MockTor::answering();
    let marker = std::env::temp_dir().join(format!("ts-typo-{}", std::process::id()));
    let marker = marker.to_str().unwrap();
    // A misspelt option is an error with a suggestion, never a command to run.
    let out = ns(&mock, &["--stat", "touch", marker]).output().unwrap();
    assert_fails(&out, 2, "'--stat'");
    assert!(
        stderr(&out).contains("--stats"),
        "a suggestion: {}",
        text(&out)
    );
    assert!(!std::path::Path::new(marker).exists(), "nothing ran");
    // The command's own options are its own, with or without `--`.
    if !require::tun() {
        return;
    }
    for args in [
        &["sh", "-c", "echo -n ok"][..],
        &["--", "sh", "-c", "echo -n ok"][..],
    ] {
        let out = ns(&mock, args).output().unwrap();
        assert_eq!(stdout(&out), "ok", "{}", text(&out));
    }
    let out = ns(&mock, &["--isolate", "sometimes", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
