//! `torsocks-ns` started the ways the sandbox must hold against: root-run (the command
//! is then `nobody`), and rootless as an unprivileged user with a home of its own. And
//! the same user's shell outside the sandbox, to show an attack working first.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::install::bin;
use crate::mock_tor::MockTor;
use crate::require;

/// The system's directories only: programs inside are the system's, not a shim in
/// root's home that the sandbox does not show.
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The unprivileged user of rootless runs.
pub const NOBODY: u32 = 65534;

/// A fresh directory under /var/tmp (every user may traverse it), mode 0777.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new("/var/tmp").join(format!(
        "tsrs-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o777)).unwrap();
    dir
}

/// A home directory of `nobody`'s (0700, its own) under /var/tmp, with `files`
/// (relative path, contents) in it, owned by nobody too.
pub fn home_of_nobody(files: &[(&str, &str)]) -> PathBuf {
    let home = scratch("home").join("nobody");
    std::fs::create_dir_all(&home).unwrap();
    for (path, contents) in files {
        let path = home.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
    }
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&home)
        .status()
        .unwrap();
    assert!(status.success(), "chown");
    std::fs::set_permissions(&home, PermissionsExt::from_mode(0o700)).unwrap();
    home
}

/// `torsocks-ns` run by root, from `/`, with no Tor named yet (`-P` or `-a` next).
pub fn root_launcher() -> Command {
    let mut cmd = Command::new(bin("torsocks-ns"));
    cmd.env("TORSOCKS_CONF_FILE", "/dev/null")
        .env("PATH", SYSTEM_PATH)
        .current_dir("/");
    cmd
}

/// `torsocks-ns` run by `nobody` (rootless) with `home` as its home, no Tor named yet.
pub fn rootless_launcher(home: &Path) -> Option<Command> {
    // The usual mode of the TUN device on Debian and Fedora (some images make it 0600).
    std::fs::set_permissions("/dev/net/tun", PermissionsExt::from_mode(0o666)).unwrap();
    let mut cmd = nobody_outside(home)?;
    cmd.arg(bin("torsocks-ns"))
        .env("TORSOCKS_CONF_FILE", "/dev/null");
    Some(cmd)
}

/// [`rootless_launcher`] when `rootless`, else [`root_launcher`].
pub fn launcher(rootless: bool, home: &Path) -> Option<Command> {
    match rootless {
        true => rootless_launcher(home),
        false => Some(root_launcher()),
    }
}

/// Ends a `torsocks-ns` the test started as a user would: SIGTERM (the session ends,
/// and the sandbox with it), then waits for it.
pub fn terminate(mut launcher: std::process::Child) {
    #[allow(unsafe_code)]
    // SAFETY: kill has no memory-safety preconditions; the pid is the test's own child.
    let _ = unsafe { libc::kill(launcher.id() as i32, libc::SIGTERM) };
    let _ = launcher.wait();
}

/// `torsocks-ns` run by root against `mock`, from `/`.
pub fn root_run(mock: &MockTor) -> Command {
    let mut cmd = root_launcher();
    cmd.args(["-P", &mock.addr().port().to_string()]);
    cmd
}

/// `nobody`'s shell, outside any sandbox, with `home` as its home.
pub fn nobody_outside(home: &Path) -> Option<Command> {
    let mut cmd = Command::new(require::program("setpriv")?);
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .env_clear()
        .env("PATH", SYSTEM_PATH)
        .env("HOME", home)
        .env("USER", "nobody")
        .current_dir(home);
    Some(cmd)
}

/// `torsocks-ns` run by `nobody` (rootless) with `home` as its home, against `mock`.
pub fn rootless_run(mock: &MockTor, home: &Path) -> Option<Command> {
    let mut cmd = rootless_launcher(home)?;
    cmd.args(["-P", &mock.addr().port().to_string()]);
    Some(cmd)
}

/// Runs `script` with `sh -c` through `cmd` (which ends before the command).
pub fn sh(mut cmd: Command, script: &str) -> Output {
    cmd.args(["sh", "-c", script]).output().unwrap()
}

/// `torsocks-ns args` (from the installed tree) with `mock` as Tor.
pub fn ns(mock: &MockTor, args: &[&str]) -> Command {
    crate::install::torsocks_ns(mock.addr(), args)
}

/// `cmd -- python3 -c script`, run to the end.
pub fn python(mut cmd: Command, script: &str) -> Output {
    cmd.args(["--", "python3", "-c", script]).output().unwrap()
}
