//! The launcher confines itself: it reads everything the sandboxed program sends, so
//! another process of the same user may not read its memory or make it dump core. Shown
//! against a rootless launcher (as `nobody`), beside a plain process of the same user
//! whose memory that user can read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use torsocks_testkit::output::{stdout, text};
use torsocks_testkit::sandbox::{home_of_nobody, nobody_outside, root_run, rootless_run, sh};
use torsocks_testkit::world::World;
use torsocks_testkit::{procfs, require};

/// What `nobody` can read of process `pid`'s environment (its memory, as ptrace sees it).
fn environ_as_nobody(home: &Path, pid: u32) -> String {
    let out = sh(
        nobody_outside(home).unwrap(),
        &format!("head -c 64 /proc/{pid}/environ >/dev/null 2>&1 && echo readable || echo refused"),
    );
    stdout(&out).trim().to_string()
}

/// Starts `cmd` with pipes for stdin and stdout; returns it once it printed its first
/// line, and that line.
fn started(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

/// The world and a home for `nobody`, when the machine has a TUN device.
fn world_and_home() -> Option<(World, std::path::PathBuf)> {
    if !Path::new("/dev/net/tun").exists() {
        require::skip("needs /dev/net/tun");
        return None;
    }
    let w = World::start()?;
    Some((w, home_of_nobody(&[])))
}

/// The control of each test: `probe` (what nobody gets of a process) applied to a plain
/// process of nobody's, running until the probe is done.
fn on_a_plain_process(home: &Path, probe: impl FnOnce(u32) -> String) -> String {
    let mut plain = nobody_outside(home).unwrap();
    plain.args(["sh", "-c", "echo up; read x"]);
    let (mut plain, _) = started(plain);
    let seen = probe(plain.id());
    drop(plain.stdin.take());
    plain.wait().unwrap();
    seen
}

#[test]
fn the_launchers_memory_is_not_the_users_to_read() {
    let Some((w, home)) = world_and_home() else {
        return;
    };
    // The control: a plain process of nobody's is readable by nobody.
    let seen = on_a_plain_process(&home, |pid| environ_as_nobody(&home, pid));
    assert_eq!(seen, "readable");
    // The launcher, started by nobody (setpriv execs it: the same pid), with a soft
    // core-file limit of its caller's that the command keeps.
    let mut launcher = rootless_run(&w.mock, &home).unwrap();
    launcher.args(["--", "sh", "-c", "echo core=$(ulimit -c); read x; true"]);
    let (mut launcher, line) = started(launcher);
    let pid = launcher.id();
    let caller_core = stdout(&sh(nobody_outside(&home).unwrap(), "ulimit -c"));
    assert_eq!(
        line.trim(),
        format!("core={}", caller_core.trim()),
        "the command's limit"
    );
    assert_eq!(environ_as_nobody(&home, pid), "refused", "launcher {pid}");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().nth(4),
        Some("0"),
        "no core file: {core}"
    );
    drop(launcher.stdin.take());
    let out = launcher.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
}

/// What `nobody` gets from PTRACE_ATTACH to `pid`.
fn ptrace_as_nobody(home: &Path, pid: u32) -> String {
    procfs::ptrace_attach(nobody_outside(home).unwrap(), pid)
}

/// Checks a running, confined launcher from outside.
fn assert_confined(home: &Path, pid: u32, who: &str) {
    assert_eq!(
        procfs::status_of_threads(pid, "NoNewPrivs"),
        ["1"],
        "{who}: no new privileges"
    );
    assert_eq!(
        procfs::status(pid, "Seccomp"),
        "2",
        "{who}: a seccomp filter"
    );
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            procfs::status_of_threads(pid, set),
            ["0000000000000000"],
            "{who}: {set}"
        );
    }
    let uid = procfs::status(pid, "Uid");
    assert!(
        uid.split_whitespace().all(|id| id == "65534"),
        "{who}: runs as nobody, never root: {uid}"
    );
    assert!(!holds_stray_fd(pid), "{who}: an inherited fd kept");
    let root: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/root"))
        .unwrap()
        .collect();
    assert!(root.is_empty(), "{who}: an empty root: {root:?}");
    assert!(
        ptrace_as_nobody(home, pid).starts_with("refused"),
        "{who}: ptrace by the same user"
    );
}

/// A socket this test leaves inheritable (as a careless parent would), once.
fn stray_fd() -> &'static std::os::unix::net::UnixStream {
    static STRAY: std::sync::OnceLock<std::os::unix::net::UnixStream> = std::sync::OnceLock::new();
    STRAY.get_or_init(|| {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        fcntl(&ours, FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
        ours
    })
}

/// What /proc shows the stray socket as (`socket:[INODE]`).
fn stray_fd_target() -> std::path::PathBuf {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", stray_fd().as_raw_fd())).unwrap()
}

/// Whether process `pid` holds the stray socket.
fn holds_stray_fd(pid: u32) -> bool {
    let target = stray_fd_target();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .any(|link| link == target)
}

#[test]
fn the_launcher_is_confined_once_the_command_runs_root_run_and_rootless() {
    let Some((w, home)) = world_and_home() else {
        return;
    };
    // Inherited by both launchers below, which must close it; a plain process keeps it.
    let _ = stray_fd();
    let kept = on_a_plain_process(&home, |pid| holds_stray_fd(pid).to_string());
    assert_eq!(kept, "true", "the stray socket is inherited");
    // The control: nobody may attach to a plain process of its own.
    let seen = on_a_plain_process(&home, |pid| ptrace_as_nobody(&home, pid));
    assert_eq!(seen, "attached");
    let script = format!(
        "echo up; read x; exec curl -sS http://{}/hello.txt >&2",
        torsocks_testkit::world::TARGET_NAME
    );
    for (who, mut launcher) in [
        ("root-run", root_run(&w.mock)),
        ("rootless", rootless_run(&w.mock, &home).unwrap()),
    ] {
        launcher
            .args(["--", "sh", "-c", &script])
            .stderr(Stdio::piped());
        let (mut launcher, line) = started(launcher);
        assert_eq!(line.trim(), "up", "{who}");
        assert_confined(&home, launcher.id(), who);
        // Confined, it still carries the command's connections through Tor (the
        // command's stdout was the first line's; the page goes to stderr).
        drop(launcher.stdin.take());
        let out = launcher.wait_with_output().unwrap();
        assert!(out.status.success(), "{who}: {}", text(&out));
        let page = String::from_utf8_lossy(&out.stderr);
        assert!(page.contains("hello from the target host"), "{who}: {page}");
    }
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
}
