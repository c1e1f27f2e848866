//! `torsocks-ns --check`: is this machine ready, and does the sandbox hold? A checklist
//! with ✓ or ✗ per line, and the facts a bug report needs. The host-side checks run
//! here; the sandbox's are made by a sandbox of the same configuration running this
//! program again ([`inside`]), which looks at itself from within.
// fork for the user-namespace probe and an fd without close-on-exec for the leak probe.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, ExitCode, Stdio};

use crate::ns::policy;
use crate::tor::preflight;
use crate::tor::stream::TorAddr;

/// Names the host's sockets for the check inside (the sandbox cannot read them).
pub(crate) const SOCKETS_VAR: &str = "TORSOCKS_NS_CHECK_SOCKETS";
/// The most host sockets tried from inside.
const MAX_SOCKETS: usize = 256;

/// One line of the checklist.
struct Line {
    ok: bool,
    text: String,
}

fn line(ok: bool, text: impl Into<String>) -> Line {
    Line {
        ok,
        text: text.into(),
    }
}

fn print(lines: &[Line]) {
    for l in lines {
        println!("{} {}", if l.ok { "✓" } else { "✗" }, l.text);
    }
    let _ = std::io::stdout().flush();
}

/// The facts a bug report needs, and the policy a run gets.
fn header(endpoint: &TorAddr, tor_version: Option<String>, policy: &[String]) {
    println!("torsocks-ns {} --check", env!("CARGO_PKG_VERSION"));
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    println!("  kernel {kernel}; smoltcp 0.14; Tor SOCKS port {endpoint}");
    if let Some(v) = tor_version {
        println!("  Tor {v} (from its ControlPort)");
    }
    println!("  the sandbox's policy:");
    for line in policy {
        println!("    {line}");
    }
}

/// Runs every check; exit status 0 only when all pass. `tor_args` are the options that
/// point at Tor, passed on to the test sandbox.
pub(crate) fn run(
    endpoint: &TorAddr,
    tor_args: &[OsString],
    tor_version: Option<String>,
    policy: &[String],
) -> ExitCode {
    header(endpoint, tor_version, policy);
    let mut lines = Vec::new();
    let answers = preflight::socks_port_answers(endpoint);
    lines.push(match &answers {
        Ok(_) => line(
            true,
            format!("Tor's SOCKS port at {endpoint} answers SOCKS5"),
        ),
        Err(e) => line(false, e.to_string()),
    });
    if answers.is_ok() {
        lines.push(match preflight::is_tor(endpoint) {
            Ok(how) => line(true, format!("it is Tor: {how}")),
            Err(why) => line(
                false,
                format!("it is not Tor, or not one we recognise: {why}"),
            ),
        });
    }
    let userns = userns();
    let can_sandbox = answers.is_ok() && userns.ok;
    lines.push(userns);
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun");
    let can_sandbox = can_sandbox && tun.is_ok();
    lines.push(match tun {
        Ok(_) => line(true, "/dev/net/tun is usable"),
        Err(e) => line(
            false,
            format!("/dev/net/tun is not usable ({e}): load the tun module (modprobe tun) and make it mode 0666"),
        ),
    });
    print(&lines);
    let mut ok = lines.iter().all(|l| l.ok);
    if can_sandbox {
        ok &= sandbox(tor_args);
    } else {
        println!("  (the sandbox itself is checked once a SOCKS port, user namespaces and TUN are there)");
    }
    if ok {
        println!("all checks passed");
        ExitCode::SUCCESS
    } else {
        println!("some checks failed: see the ✗ lines (include this output in a bug report)");
        ExitCode::from(1)
    }
}

/// Can an unprivileged user create a user namespace? Tried in a child (as nobody when
/// run as root); when not, the setting that blocks it and the fix.
fn userns() -> Line {
    // SAFETY: the child only calls async-signal-safe functions (setgid, setuid, unshare,
    // _exit) before exiting.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: as above; nothing is shared with the parent after fork.
        unsafe {
            if libc::getuid() == 0 && (libc::setgid(65534) != 0 || libc::setuid(65534) != 0) {
                libc::_exit(2);
            }
            let rc = libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET);
            libc::_exit(if rc == 0 { 0 } else { 1 });
        }
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    let waited = child > 0 && unsafe { libc::waitpid(child, &mut status, 0) } == child;
    if waited && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        return line(
            true,
            "unprivileged user namespaces can be created (rootless sandbox)",
        );
    }
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let mut fixes = Vec::new();
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        fixes.push("sysctl -w kernel.unprivileged_userns_clone=1".to_string());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        fixes.push("sysctl -w user.max_user_namespaces=15000".to_string());
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        fixes.push(
            "load the AppArmor profile that allows it (Ubuntu 24.04 and later): sudo \
             apparmor_parser -r /etc/apparmor.d/torsocks-ns (shipped by the package, and in \
             packaging/apparmor/), or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
                .to_string(),
        );
    }
    if fixes.is_empty() {
        fixes.push("check the kernel's user namespace support (CONFIG_USER_NS)".into());
    }
    line(
        false,
        format!(
            "unprivileged user namespaces are blocked: {}",
            fixes.join("; ")
        ),
    )
}

/// Runs the checks inside a sandbox of this configuration; prints its lines.
fn sandbox(tor_args: &[OsString]) -> bool {
    let Ok(exe) = std::env::current_exe() else {
        println!("✗ cannot find this program to start a test sandbox");
        return false;
    };
    let sockets: Vec<String> = std::fs::read("/proc/net/unix")
        .map(|t| policy::unix_socket_paths(&t))
        .unwrap_or_default()
        .into_iter()
        .take(MAX_SOCKETS)
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    // An fd the sandbox must not inherit: a pipe without close-on-exec.
    let Ok((leak, _write)) = nix::unistd::pipe() else {
        println!("✗ pipe");
        return false;
    };
    // SAFETY: F_DUPFD on an fd this function owns; the copy (no close-on-exec, at 100
    // or above, clear of the fds the sandbox's own check opens) lives until we return.
    let leaked = unsafe { libc::fcntl(leak.as_raw_fd(), libc::F_DUPFD, 100) };
    if leaked < 0 {
        println!("✗ fcntl");
        return false;
    }
    // SAFETY: the kernel just made this fd for us; nobody else owns it.
    let _leaked = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(leaked) };
    let out = Command::new(&exe)
        .args(tor_args)
        .arg("--")
        .arg(&exe)
        .arg("--check-inside")
        .arg(leaked.to_string())
        .env(SOCKETS_VAR, sockets.join("\n"))
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) => {
            print!("{}", String::from_utf8_lossy(&out.stdout));
            let err = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() && !err.trim().is_empty() {
                println!("  the test sandbox said: {}", err.trim());
            }
            out.status.success()
        }
        Err(e) => {
            println!("✗ starting a test sandbox: {e}");
            false
        }
    }
}

pub(crate) mod inside {
    //! The checks a test sandbox makes of itself.

    use std::net::{ToSocketAddrs, UdpSocket};
    use std::os::unix::net::UnixStream;
    use std::process::ExitCode;
    use std::time::Duration;

    use super::{line, print, Line, SOCKETS_VAR};

    /// Runs them; `leaked` is the fd number the caller left open.
    pub(crate) fn run(leaked: &str) -> ExitCode {
        let lines = vec![
            interfaces(),
            udp_refused(),
            dns(),
            host_sockets(),
            inherited_fds(leaked),
        ];
        print(&lines);
        if lines.iter().all(|l| l.ok) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }

    /// The names in directory `path` (none when it cannot be read).
    fn names_in(path: &str) -> Vec<String> {
        std::fs::read_dir(path)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn interfaces() -> Line {
        let mut names = names_in("/sys/class/net");
        names.sort();
        let ok = names == ["lo", "tun0"];
        line(
            ok,
            format!("the sandbox's interfaces: {}", names.join(", ")),
        )
    }

    /// A datagram to a documentation address (RFC 5737): the stack refuses it with
    /// ICMP, and it goes nowhere.
    fn udp_refused() -> Line {
        let result = (|| -> std::io::Result<bool> {
            let s = UdpSocket::bind("0.0.0.0:0")?;
            s.connect("192.0.2.1:9")?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.send(b"torsocks-ns --check")?;
            let mut buf = [0u8; 16];
            Ok(
                matches!(s.recv(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
            )
        })();
        match result {
            Ok(true) => line(true, "UDP other than DNS is refused"),
            Ok(false) => line(false, "UDP was not refused"),
            Err(e) => line(false, format!("UDP: {e}")),
        }
    }

    fn dns() -> Line {
        let name = "torproject.org";
        match (name, 80).to_socket_addrs() {
            Ok(mut addrs) => line(
                true,
                format!(
                    "a DNS lookup is answered through Tor ({name} → {})",
                    addrs.next().map(|a| a.ip().to_string()).unwrap_or_default()
                ),
            ),
            Err(e)
                if e.to_string().contains("not known") || e.to_string().contains("No address") =>
            {
                line(
                    true,
                    format!("a DNS lookup is answered through Tor ({name}: not found)"),
                )
            }
            Err(e) => line(false, format!("a DNS lookup through Tor failed: {e}")),
        }
    }

    fn host_sockets() -> Line {
        let list = std::env::var(SOCKETS_VAR).unwrap_or_default();
        let paths: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
        let reached: Vec<&str> = paths
            .iter()
            .copied()
            .filter(|p| UnixStream::connect(p).is_ok())
            .collect();
        if reached.is_empty() {
            line(
                true,
                format!(
                    "none of the host's {} Unix sockets is reachable",
                    paths.len()
                ),
            )
        } else {
            line(
                false,
                format!("host Unix sockets reachable: {}", reached.join(", ")),
            )
        }
    }

    fn inherited_fds(leaked: &str) -> Line {
        let fds = names_in("/proc/self/fd");
        // 0-2, and the directory being read.
        let extra: Vec<&String> = fds
            .iter()
            .filter(|f| f.parse::<i32>().is_ok_and(|n| n > 2))
            .collect();
        let leaked_open = fds.iter().any(|f| f == leaked);
        let ok = !leaked_open && extra.len() <= 1;
        line(
            ok,
            if ok {
                "no file descriptor is inherited from outside".to_string()
            } else {
                format!("inherited file descriptors: {extra:?}")
            },
        )
    }
}
