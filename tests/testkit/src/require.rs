//! Preconditions of tests above the unit tier.
//!
//! On a developer's machine a test whose precondition is missing prints why it skips
//! and passes; in CI (`CI` set) a missing precondition is a failure, because CI runs as
//! root with every package installed and must prove everything.

use std::path::PathBuf;

/// True when running in CI.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Skips (returns false) with `reason`, or panics in CI.
pub fn skip(reason: &str) -> bool {
    assert!(!in_ci(), "this test must not skip in CI: {reason}");
    eprintln!("SKIPPED: {reason}");
    false
}

/// True when the process is root; otherwise skips, naming `purpose`.
pub fn root(purpose: &str) -> bool {
    #[allow(unsafe_code)]
    // SAFETY: geteuid cannot fail and has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0 || skip(&format!("needs root to {purpose}"))
}

/// The path of `program` on PATH (or /usr/sbin, /sbin); skips when it is missing.
pub fn program(program: &str) -> Option<PathBuf> {
    let found = find_program(program);
    if found.is_none() {
        skip(&format!(
            "needs `{program}` (install the Debian package listed in .ci/run)"
        ));
    }
    found
}

/// The path of `program` on PATH (or /usr/sbin, /sbin), if any.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// True when /dev/net/tun exists (namespace mode needs it); otherwise skips.
pub fn tun() -> bool {
    std::path::Path::new("/dev/net/tun").exists() || skip("needs /dev/net/tun")
}
