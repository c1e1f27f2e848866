//! Small C programs that make one libc call each way the spec describes and print what
//! came back (`tests/probes/*.c`). Built once per test run with the system C compiler.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;

use crate::install::workspace_root;

/// Compiles `tests/probes/<name>.c` (if newer than the binary) and returns its path.
pub fn build(name: &str) -> PathBuf {
    let root = workspace_root();
    let source = root.join("tests").join("probes").join(format!("{name}.c"));
    let dir = root.join("target").join("probes");
    std::fs::create_dir_all(&dir).expect("probe dir");
    let binary = dir.join(name);
    let lock = File::create(dir.join(format!("{name}.lock"))).expect("probe lock");
    #[allow(unsafe_code)]
    // SAFETY: flock on a valid fd; released when `lock` is dropped.
    unsafe {
        libc::flock(lock.as_raw_fd(), libc::LOCK_EX)
    };
    let fresh = match (std::fs::metadata(&source), std::fs::metadata(&binary)) {
        (Ok(s), Ok(b)) => b.modified().ok() >= s.modified().ok(),
        _ => false,
    };
    if !fresh {
        let status = Command::new("cc")
            .args(["-O0", "-g", "-Wall", "-Werror", "-o"])
            .arg(&binary)
            .arg(&source)
            .args(["-lresolv", "-pthread"])
            .status()
            .expect("run the C compiler (cc)");
        assert!(status.success(), "compiling {} failed", source.display());
    }
    binary
}

/// `key=value` pairs of a probe's output, in order (later keys repeat).
pub fn fields(stdout: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(stdout)
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The first value of `key`.
pub fn field(stdout: &[u8], key: &str) -> Option<String> {
    fields(stdout)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Runs probe `name` with the installed library preloaded, Tor at `tor`, and `vars`.
pub fn run(
    name: &str,
    tor: std::net::SocketAddr,
    args: &[&str],
    vars: &[(&str, &str)],
) -> std::process::Output {
    crate::install::preloaded(build(name), tor)
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .expect("run probe")
}

/// A probe's stdout and stderr, for assertion messages.
pub fn describe(out: &std::process::Output) -> String {
    format!(
        "stdout {:?} stderr {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The first value of `key`; panics with the whole output when it is missing.
pub fn value(out: &std::process::Output, key: &str) -> String {
    field(&out.stdout, key).unwrap_or_else(|| panic!("no {key}: {}", describe(out)))
}

/// The return value and errno a probe printed as `KEY=RC errno=E`.
pub fn call(out: &std::process::Output, key: &str) -> (i64, i32) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}: {}", describe(out)));
    let rc = field(line.as_bytes(), key).and_then(|v| v.parse().ok());
    let errno = field(line.as_bytes(), "errno").and_then(|v| v.parse().ok());
    match (rc, errno) {
        (Some(rc), Some(errno)) => (rc, errno),
        _ => panic!("malformed {key} line {line:?}"),
    }
}
