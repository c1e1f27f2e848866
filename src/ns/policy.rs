//! The sandbox policy as data: what is hidden, what is let through, what the command's
//! environment keeps. Decided in the launcher from the command line and the host's
//! facts before anything is mounted; no I/O here (the syscalls live in [`super::mounts`]
//! and [`super::harden`]), so every rule is unit-tested.

use std::ffi::{OsStr, OsString};
use std::net::Ipv4Addr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The hostname the command sees (UTS namespace): neutral, and resolvable through
/// `/etc/hosts` on every system, so programs that look up their own name need no DNS.
pub(crate) const HOSTNAME: &str = "localhost";

/// The machine id the command sees (`/etc/machine-id` and D-Bus's copy): one generic
/// value, the same on every machine, as Whonix does, so that it identifies nobody.
pub(crate) const MACHINE_ID: &str = "b08dfa6083e7567a1921a715000001fb\n";

/// The boot id the command sees (`/proc/sys/kernel/random/boot_id`), as generic.
pub(crate) const BOOT_ID: &str = "00000000-0000-4000-8000-000000000000\n";

/// Files that identify the host, each replaced (when it exists) by a generic one.
pub(crate) const IDENTITY_FILES: &[(&str, &str)] = &[
    ("/etc/machine-id", MACHINE_ID),
    ("/var/lib/dbus/machine-id", MACHINE_ID),
    ("/proc/sys/kernel/random/boot_id", BOOT_ID),
];

/// Directories that identify the host's hardware (DMI serial numbers and UUIDs, disk
/// serial numbers in device names), each covered (when it exists) by an empty tmpfs.
pub(crate) const IDENTITY_DIRS: &[&str] = &["/sys/devices/virtual/dmi/id", "/dev/disk"];

/// Directories replaced by an empty tmpfs: where host services keep their sockets
/// (nscd, systemd-resolved, D-Bus, docker, tor's ControlSocket, X11, tmux, screen).
pub(crate) const MASKED_DIRS: &[&str] = &["/tmp", "/run", "/var/run", "/dev/shm"];

/// Variables removed from the command's environment unless kept: they point at host
/// services outside the sandbox, name the host's network, or carry Tor credentials.
pub(crate) const SCRUBBED_ENV: &[&str] = &[
    "DBUS_SESSION_BUS_ADDRESS",
    "DBUS_SYSTEM_BUS_ADDRESS",
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "SSH_CONNECTION",
    "SSH_CLIENT",
    "SSH_TTY",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "SESSION_MANAGER",
    "GPG_AGENT_INFO",
    "TMUX",
    "TMUX_PANE",
    "STY",
    "HOSTNAME",
    "TORSOCKS_USERNAME",
    "TORSOCKS_PASSWORD",
];

/// The variables `--proxy-env` sets, pointing programs at the sandbox's SOCKS port
/// (`socks5h`: names travel to Tor) and keeping loopback direct.
pub(crate) fn point_at_socks_port(env: &mut Vec<(OsString, OsString)>, port: u16) {
    const NAMES: [&str; 4] = ["ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"];
    env.retain(|(k, _)| !NAMES.iter().any(|n| k == *n));
    let proxy = format!("socks5h://127.0.0.1:{port}");
    let direct = "localhost,127.0.0.0/8,::1";
    for (name, value) in NAMES.iter().zip([&proxy[..], &proxy, direct, direct]) {
        env.push((name.into(), value.into()));
    }
}

/// What the user asked to let through.
#[derive(Debug, Default, Clone)]
pub(crate) struct OptIns {
    /// Host Unix sockets (or other files) bound into the sandbox at the same path.
    pub sockets: Vec<PathBuf>,
    /// The X11 display (`DISPLAY`'s socket, `XAUTHORITY`).
    pub x11: bool,
    /// The Wayland compositor (`WAYLAND_DISPLAY`'s socket).
    pub wayland: bool,
    /// The ssh agent (`SSH_AUTH_SOCK`).
    pub ssh_agent: bool,
    /// Variables kept although [`SCRUBBED_ENV`] lists them.
    pub keep_env: Vec<OsString>,
}

/// An opt-in that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OptInError {
    /// The variable the opt-in needs is not set.
    Unset(&'static str, &'static str),
    /// The display is reached over TCP, which the network namespace cannot share.
    TcpDisplay(String),
    /// A socket path must be absolute.
    Relative(PathBuf),
}

impl std::fmt::Display for OptInError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptInError::Unset(option, var) => write!(f, "{option}: {var} is not set"),
            OptInError::TcpDisplay(display) => write!(
                f,
                "--x11: DISPLAY={display} is a TCP display (ssh -X forwarding?); only local displays (:N) can be shared"
            ),
            OptInError::Relative(path) => write!(
                f,
                "--allow-socket {}: give an absolute path",
                path.display()
            ),
        }
    }
}

/// The opt-ins resolved against the environment: files to bind and variables to keep.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Shares {
    /// Host paths bound into the sandbox at the same path.
    pub binds: Vec<PathBuf>,
    /// Variables the command keeps.
    pub keep_env: Vec<OsString>,
}

/// Resolves `opt_ins` with the launcher's environment (`var`).
pub(crate) fn shares(
    opt_ins: &OptIns,
    var: impl Fn(&str) -> Option<OsString>,
) -> Result<Shares, OptInError> {
    let mut shares = Shares {
        keep_env: opt_ins.keep_env.clone(),
        ..Shares::default()
    };
    for path in &opt_ins.sockets {
        if !path.is_absolute() {
            return Err(OptInError::Relative(path.clone()));
        }
        shares.binds.push(path.clone());
    }
    if opt_ins.x11 {
        let display = var("DISPLAY").ok_or(OptInError::Unset("--x11", "DISPLAY"))?;
        let display = display.to_string_lossy().into_owned();
        let socket = x11_socket(&display).ok_or(OptInError::TcpDisplay(display))?;
        shares.binds.push(socket);
        shares.keep_env.push("DISPLAY".into());
        if let Some(auth) = var("XAUTHORITY") {
            shares.binds.push(PathBuf::from(auth));
            shares.keep_env.push("XAUTHORITY".into());
        }
    }
    if opt_ins.wayland {
        let display = var("WAYLAND_DISPLAY").unwrap_or_else(|| "wayland-0".into());
        let socket = PathBuf::from(&display);
        let socket = if socket.is_absolute() {
            socket
        } else {
            let runtime =
                var("XDG_RUNTIME_DIR").ok_or(OptInError::Unset("--wayland", "XDG_RUNTIME_DIR"))?;
            PathBuf::from(runtime).join(socket)
        };
        shares.binds.push(socket);
        shares.keep_env.push("WAYLAND_DISPLAY".into());
    }
    if opt_ins.ssh_agent {
        let socket =
            var("SSH_AUTH_SOCK").ok_or(OptInError::Unset("--ssh-agent", "SSH_AUTH_SOCK"))?;
        shares.binds.push(PathBuf::from(socket));
        shares.keep_env.push("SSH_AUTH_SOCK".into());
    }
    Ok(shares)
}

/// Files and directories the command line names that lie under a masked directory:
/// the program itself (looked up on `path_env` when it has no `/`) and every absolute
/// path among its arguments, so that `torsocks-ns /tmp/build/prog /tmp/data` works.
/// Only what `shareable` accepts (regular files and directories, never sockets) is
/// kept; the sockets inside a shared directory are masked like any other.
pub(crate) fn named_paths(
    argv: &[OsString],
    path_env: Option<&OsStr>,
    masked: &[PathBuf],
    shareable: impl Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(program) = argv.first() {
        let program = Path::new(program);
        if program.is_absolute() {
            candidates.push(program.to_path_buf());
        } else if program.components().count() == 1 {
            if let Some(dirs) = path_env {
                let found = std::env::split_paths(dirs)
                    .map(|dir| dir.join(program))
                    .find(|candidate| shareable(candidate));
                candidates.extend(found);
            }
        }
    }
    candidates.extend(
        argv.iter()
            .skip(1)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute()),
    );
    let mut paths: Vec<PathBuf> = Vec::new();
    for path in candidates {
        if is_under(&path, masked) && shareable(&path) && !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// The Unix socket of a local X11 display (`:0`, `:0.0`, `unix:1`), or None for a
/// display reached over TCP (`host:10`, `localhost:10.0`).
pub(crate) fn x11_socket(display: &str) -> Option<PathBuf> {
    let (host, rest) = display.rsplit_once(':')?;
    if !(host.is_empty() || host == "unix") {
        return None;
    }
    let number = rest.split('.').next()?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(PathBuf::from(format!("/tmp/.X11-unix/X{number}")))
}

/// The command's environment: `vars` without [`SCRUBBED_ENV`], except those in `keep`.
pub(crate) fn scrub_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    keep: &[OsString],
) -> Vec<(OsString, OsString)> {
    vars.into_iter()
        .filter(|(name, _)| {
            keep.iter().any(|k| k == name) || !SCRUBBED_ENV.iter().any(|s| OsStr::new(s) == name)
        })
        .collect()
}

/// Every distinct pathname (not abstract) Unix socket in `/proc/net/unix`: bound
/// listeners and datagram receivers alike, since any of them may be a host service.
pub(crate) fn unix_socket_paths(proc_net_unix: &[u8]) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = Vec::new();
    // Num RefCount Protocol Flags Type St Inode Path
    for line in proc_net_unix.split(|&b| b == b'\n').skip(1) {
        let mut rest = line;
        let mut fields = 0;
        while fields < 7 {
            let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
            rest = &rest[start..];
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            rest = &rest[end..];
            fields += 1;
        }
        if fields < 7 {
            continue;
        }
        let path = rest.strip_prefix(b" ").unwrap_or(rest);
        if path.first() == Some(&b'/') {
            let path = PathBuf::from(OsStr::from_bytes(path));
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    paths
}

/// The directories to mask: [`MASKED_DIRS`] and `$XDG_RUNTIME_DIR` when it lies
/// elsewhere.
pub(crate) fn masked_dirs(xdg_runtime_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = MASKED_DIRS.iter().map(PathBuf::from).collect();
    if let Some(runtime) = xdg_runtime_dir.filter(|d| d.is_absolute()) {
        if !is_under(runtime, &dirs) {
            dirs.push(runtime.to_path_buf());
        }
    }
    dirs
}

/// Whether `path` is one of `dirs` or lies beneath one.
pub(crate) fn is_under(path: &Path, dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| path.starts_with(d))
}

/// The sandbox's resolv.conf: the stack's address as the only nameserver.
pub(crate) fn resolv_conf(dns: Ipv4Addr) -> String {
    format!("# written by torsocks-ns\nnameserver {dns}\noptions edns0\n")
}

/// The sandbox's nsswitch.conf: the host's with `hosts: files dns`, so that no lookup
/// goes to nscd, systemd-resolved (nss-resolve), mDNS (avahi) or another NSS module
/// that asks a host service.
pub(crate) fn nsswitch_conf(host: &str) -> String {
    let mut out = String::from("# torsocks-ns: name lookups only from /etc/hosts and DNS\n");
    let mut hosts = false;
    for line in host.lines() {
        let key = line.trim_start().split([':', ' ', '\t']).next();
        if key == Some("hosts") {
            if !hosts {
                out.push_str("hosts: files dns\n");
                hosts = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !hosts {
        out.push_str("hosts: files dns\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn proc_net_unix_pathnames_only_once_each() {
        let table = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
0000000000000000: 00000002 00000000 00010000 0001 01 20419 /run/systemd/private\n\
0000000000000000: 00000002 00000000 00010000 0001 01 20500 @/tmp/.X11-unix/X0\n\
0000000000000000: 00000003 00000000 00000000 0001 03 31337 /run/systemd/private\n\
0000000000000000: 00000002 00000000 00000000 0002 01 11111\n\
0000000000000000: 00000002 00000000 00010000 0001 01 22222 /home/u/dir with space/S.sock\n\
0000000000000000: 00000002 00000000 00000000 0002 01 33333 /run/systemd/journal/dev-log\n";
        assert_eq!(
            unix_socket_paths(table),
            [
                PathBuf::from("/run/systemd/private"),
                PathBuf::from("/home/u/dir with space/S.sock"),
                PathBuf::from("/run/systemd/journal/dev-log"),
            ]
        );
        assert!(unix_socket_paths(b"").is_empty());
        assert!(unix_socket_paths(b"header\ngarbage\n").is_empty());
    }

    #[test]
    fn environment_loses_host_pointers_unless_kept() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus"),
            ("SSH_CONNECTION", "192.0.2.1 5000 192.0.2.2 22"),
            ("DISPLAY", ":0"),
            ("TORSOCKS_PASSWORD", "secret"),
            ("HOME", "/home/u"),
        ]
        .map(|(n, v)| (OsString::from(n), OsString::from(v)));
        let names = |kept: Vec<(OsString, OsString)>| -> Vec<String> {
            kept.into_iter()
                .map(|(n, _)| n.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(scrub_env(vars.clone(), &[])), ["PATH", "HOME"]);
        assert_eq!(
            names(scrub_env(vars, &["DISPLAY".into()])),
            ["PATH", "DISPLAY", "HOME"]
        );
    }

    #[test]
    fn paths_on_the_command_line_under_masked_directories() {
        let masked = masked_dirs(None);
        let exists = |p: &Path| {
            [
                "/tmp/build/prog",
                "/tmp/data",
                "/usr/bin/python3",
                "/tmp/venv/bin/tool",
                "/run/x",
            ]
            .iter()
            .any(|e| Path::new(e) == p)
        };
        let argv = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        let path = Some(OsStr::new("/tmp/venv/bin:/usr/bin"));
        assert_eq!(
            named_paths(
                &argv(&["/tmp/build/prog", "/tmp/data", "/tmp/missing", "-x"]),
                path,
                &masked,
                exists
            ),
            [PathBuf::from("/tmp/build/prog"), PathBuf::from("/tmp/data")]
        );
        assert_eq!(
            named_paths(
                &argv(&["tool", "/usr/bin/python3", "/run/x"]),
                path,
                &masked,
                exists
            ),
            [PathBuf::from("/tmp/venv/bin/tool"), PathBuf::from("/run/x")],
            "found on PATH; /usr is not masked"
        );
        assert!(
            named_paths(&argv(&["python3", "relative/file"]), path, &masked, exists).is_empty()
        );
    }

    #[test]
    fn x11_displays() {
        assert_eq!(x11_socket(":0"), Some("/tmp/.X11-unix/X0".into()));
        assert_eq!(x11_socket(":12.1"), Some("/tmp/.X11-unix/X12".into()));
        assert_eq!(x11_socket("unix:3"), Some("/tmp/.X11-unix/X3".into()));
        assert_eq!(x11_socket("localhost:10.0"), None);
        assert_eq!(x11_socket("host:0"), None);
        assert_eq!(x11_socket(":x"), None);
        assert_eq!(x11_socket("0"), None);
    }

    #[test]
    fn opt_ins_resolve_to_binds_and_kept_variables() {
        let vars = [
            ("DISPLAY", ":1"),
            ("XAUTHORITY", "/run/user/1000/xauth"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ("SSH_AUTH_SOCK", "/tmp/ssh-x/agent.1"),
        ];
        let all = OptIns {
            sockets: vec!["/home/u/app.sock".into()],
            x11: true,
            wayland: true,
            ssh_agent: true,
            keep_env: vec!["SSH_CONNECTION".into()],
        };
        let got = shares(&all, env(&vars)).unwrap();
        assert_eq!(
            got.binds,
            [
                "/home/u/app.sock",
                "/tmp/.X11-unix/X1",
                "/run/user/1000/xauth",
                "/run/user/1000/wayland-0",
                "/tmp/ssh-x/agent.1"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            got.keep_env,
            [
                "SSH_CONNECTION",
                "DISPLAY",
                "XAUTHORITY",
                "WAYLAND_DISPLAY",
                "SSH_AUTH_SOCK"
            ]
            .map(OsString::from)
        );
        assert_eq!(
            shares(&OptIns::default(), env(&vars)).unwrap(),
            Shares::default()
        );
    }

    #[test]
    fn opt_ins_that_cannot_work_say_why() {
        let x11 = OptIns {
            x11: true,
            ..OptIns::default()
        };
        assert_eq!(
            shares(&x11, env(&[])),
            Err(OptInError::Unset("--x11", "DISPLAY"))
        );
        assert!(matches!(
            shares(&x11, env(&[("DISPLAY", "localhost:10.0")])),
            Err(OptInError::TcpDisplay(_))
        ));
        let agent = OptIns {
            ssh_agent: true,
            ..OptIns::default()
        };
        assert_eq!(
            shares(&agent, env(&[])),
            Err(OptInError::Unset("--ssh-agent", "SSH_AUTH_SOCK"))
        );
        let relative = OptIns {
            sockets: vec!["app.sock".into()],
            ..OptIns::default()
        };
        assert!(matches!(
            shares(&relative, env(&[])),
            Err(OptInError::Relative(_))
        ));
    }

    #[test]
    fn runtime_dir_is_masked_wherever_it_lives() {
        let usual = masked_dirs(Some(Path::new("/run/user/1000")));
        assert_eq!(usual.len(), MASKED_DIRS.len(), "already under /run");
        let odd = masked_dirs(Some(Path::new("/var/xdg/1000")));
        assert_eq!(odd.last(), Some(&PathBuf::from("/var/xdg/1000")));
        assert!(is_under(Path::new("/tmp/tmux-0/default"), &usual));
        assert!(is_under(Path::new("/run"), &usual));
        assert!(!is_under(Path::new("/runner/x"), &usual));
        assert!(!is_under(Path::new("/home/u/.gnupg/S.dirmngr"), &usual));
    }

    #[test]
    fn nsswitch_asks_only_files_and_dns() {
        let host = "passwd: files systemd\n\
                    hosts:          files mdns4_minimal [NOTFOUND=return] resolve dns myhostname\n\
                    networks: files\n";
        let ours = nsswitch_conf(host);
        assert!(ours.contains("\nhosts: files dns\n"), "{ours}");
        assert!(
            !ours.contains("mdns") && !ours.contains("resolve"),
            "{ours}"
        );
        assert!(ours.contains("passwd: files systemd\n"));
        assert!(ours.contains("networks: files\n"));
        assert!(nsswitch_conf("").ends_with("hosts: files dns\n"));
        assert_eq!(
            nsswitch_conf("hosts: a\nhosts: b\n")
                .matches("hosts:")
                .count(),
            1
        );
    }

    #[test]
    fn resolv_conf_names_the_stack() {
        assert!(resolv_conf(Ipv4Addr::new(10, 241, 0, 1)).contains("\nnameserver 10.241.0.1\n"));
    }
}
