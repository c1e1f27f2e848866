//! Describing a finished program for assertion messages.

use std::process::Output;

/// Exit status, stdout and stderr of `out`, one per line.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout {}\nstderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The program's stdout, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The program's stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that a run ended with exit `status` and said `message` on stderr (the whole
/// output in the failure's report).
#[track_caller]
pub fn assert_fails(out: &Output, status: i32, message: &str) {
    assert_eq!(out.status.code(), Some(status), "{}", text(out));
    assert!(
        stderr(out).contains(message),
        "wanted {message:?} in:\n{}",
        text(out)
    );
}
