//! Waiting for an event a test cannot be told of directly (a process gone, a record
//! arrived, a line on a terminal): the condition is checked until it holds or the
//! deadline passes, with short pauses that grow to 50 ms. One helper, so that every such
//! wait is bounded and says what it waited for.

use std::time::{Duration, Instant};

/// The first `Some` that `check` returns within `within`, or `None` once it has passed
/// (`check` runs at least once, and once more at the deadline).
pub fn eventually<T>(within: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Whether `condition` holds within `within`.
pub fn until(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    eventually(within, || condition().then_some(())).is_some()
}

/// `cmd` started with its stdout piped (stdin and stderr as the caller set them),
/// returned once its first line is `ready`: the event a test's own program announces
/// when it listens or has set itself up. Any other first line (or none) fails the test.
pub fn until_ready(cmd: &mut std::process::Command) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the program");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read its first line");
    assert_eq!(line, "ready\n", "the program's first line");
    child
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_value_and_gives_up_at_the_deadline() {
        let mut calls = 0;
        let got = eventually(Duration::from_secs(5), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got, Some(3));
        let started = Instant::now();
        assert!(!until(Duration::from_millis(30), || false));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
