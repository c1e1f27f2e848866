//! An installed torsocks-rs tree for tests that run the programs as users do.
//!
//! The first test that asks builds it with `packaging/install.sh --debug --prefix
//! <target>/test-install`; a lock file serialises concurrent test processes, and later
//! calls reuse the tree (the script rebuilds only what changed).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Whether every user may reach `path` (each directory on the way has o+x).
fn reachable_by_all(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors()
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// The install prefix used by tests: `<target>/test-install`, or where the checkout
/// lies in a directory other users cannot enter (a 0700 home), a directory of its own
/// under /var/tmp, so that tests can run the programs as an unprivileged user.
pub fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let root = workspace_root();
        let prefix = if reachable_by_all(&root) {
            root.join("target").join("test-install")
        } else {
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            let id = BuildHasherDefault::<DefaultHasher>::default().hash_one(&root);
            let dir = PathBuf::from(format!("/var/tmp/torsocks-rs-test-install-{id:016x}"));
            std::fs::create_dir_all(&dir).expect("test install dir");
            dir
        };
        std::fs::create_dir_all(root.join("target")).expect("target dir");
        let lock = File::create(root.join("target").join("test-install.lock")).expect("lock");
        #[allow(unsafe_code)]
        // SAFETY: flock on a valid fd; the lock is released when `lock` is dropped.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock");
        let status = Command::new("bash")
            .arg(root.join("packaging").join("install.sh"))
            .args(["--debug", "--prefix"])
            .arg(&prefix)
            .current_dir(&root)
            .status()
            .expect("run packaging/install.sh");
        assert!(status.success(), "packaging/install.sh failed");
        prefix
    })
}

/// `<prefix>/bin/<name>`.
pub fn bin(name: &str) -> PathBuf {
    prefix().join("bin").join(name)
}

/// `<prefix>/lib/torsocks/libtorsocks.so`.
pub fn library() -> PathBuf {
    prefix().join("lib").join("torsocks").join("libtorsocks.so")
}

/// A command that runs `program` with the installed `libtorsocks.so` preloaded, a clean
/// environment (PATH only), the default configuration (an empty configuration file),
/// and Tor at `tor`.
pub fn preloaded(program: impl AsRef<std::ffi::OsStr>, tor: std::net::SocketAddr) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LD_PRELOAD", library())
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env("TORSOCKS_TOR_ADDRESS", tor.ip().to_string())
        .env("TORSOCKS_TOR_PORT", tor.port().to_string());
    cmd
}

/// The installed `torsocks-ns` with `args`, pointed at the SOCKS port `socks` and
/// reading no configuration file (so the machine's torsocks.conf cannot interfere).
pub fn torsocks_ns(socks: std::net::SocketAddr, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin("torsocks-ns"));
    cmd.args(["-P", &socks.port().to_string()])
        .args(args)
        .env("TORSOCKS_CONF_FILE", "/dev/null");
    cmd
}

/// Asks a `torsocks-ns` the test started for a new identity (SIGUSR1, by its pid).
pub fn ask_new_identity(launcher: &std::process::Child) {
    #[allow(unsafe_code)]
    // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
    let rc = unsafe { libc::kill(launcher.id() as i32, libc::SIGUSR1) };
    assert_eq!(rc, 0, "SIGUSR1 to torsocks-ns");
}
