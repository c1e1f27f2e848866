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

/// The boot command line the command sees (`/proc/cmdline`): the same on every machine.
pub(crate) const CMDLINE: &str = "BOOT_IMAGE=/boot/vmlinuz root=/dev/sda1 ro quiet\n";

/// How many user namespaces a `--allow-userns` command may create (the sandbox's own
/// `user.max_user_namespaces`): enough for a browser's per-process sandboxes.
pub(crate) const MAX_NESTED_USERNS: u32 = 1024;

/// Generated `/proc` files over the kernel's.
pub(crate) const PROC_FILES: &[(&str, &str)] = &[
    ("/proc/sys/kernel/random/boot_id", BOOT_ID),
    ("/proc/cmdline", CMDLINE),
];

/// The host's top-level directories the sandbox sees, read-only: what a program of a
/// Debian, Fedora, Arch, NixOS or Guix system needs to run. Each is bound (or, when it
/// is a link, such as merged-/usr's `/bin`, made as the same link) only when present.
pub(crate) const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix", "/gnu",
];

/// Where `/etc/resolv.conf` is.
pub(crate) const RESOLV_CONF: &str = "/etc/resolv.conf";

/// What `/etc` gives away beyond what programs need: the machine's disks and their
/// UUIDs, its networks and Wi-Fi passwords, VPN keys, host ids, Tor's own
/// configuration. Hidden when present. (`passwd`, `group`, `hostname` and `hosts` are
/// generated; SSH host keys are found on the host, see [`super::plan::HostFacts`].)
pub(crate) const ETC_HIDDEN: &[&str] = &[
    "/etc/fstab",
    "/etc/crypttab",
    "/etc/hostid",
    "/etc/machine-info",
    "/etc/mailname",
    "/etc/subuid",
    "/etc/subgid",
    "/etc/krb5.keytab",
    "/etc/NetworkManager/system-connections",
    "/etc/wpa_supplicant",
    "/etc/iwd",
    "/etc/netplan",
    "/etc/network/interfaces",
    "/etc/network/interfaces.d",
    "/etc/systemd/network",
    "/etc/wireguard",
    "/etc/openvpn",
    "/etc/ppp",
    "/etc/lvm/backup",
    "/etc/lvm/archive",
    "/etc/mdadm",
    "/etc/initramfs-tools/conf.d",
    "/etc/ssl/private",
    "/etc/tor/torrc",
    "/etc/tor/torrc.d",
];

/// The device nodes of the sandbox's `/dev` (bubblewrap's list): nothing else of the
/// host's, so no disk, input device, sound card or console.
pub(crate) const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// `/proc` files that show the kernel's memory, keys or timers (OCI's masked paths).
pub(crate) const PROC_HIDDEN: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/key-users",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/latency_stats",
    "/proc/acpi",
    "/proc/scsi",
];

/// `/proc` paths made read-only (OCI's read-only paths): the sysctls above all.
pub(crate) const PROC_READ_ONLY: &[&str] = &[
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
];

/// sysfs paths that identify the machine: firmware tables (with serial numbers), DMI.
/// Disks' own identifiers are found on the host ([`super::plan::HostFacts`]).
pub(crate) const SYS_HIDDEN: &[&str] = &["/sys/firmware", "/sys/devices/virtual/dmi/id"];

/// Files under a block device's sysfs directory that identify the disk.
pub(crate) const DISK_IDENTIFIERS: &[&str] = &[
    "serial",
    "wwid",
    "device/serial",
    "device/wwid",
    "device/vpd_pg80",
    "device/vpd_pg83",
    "dm/uuid",
    "dm/name",
    "md/uuid",
];

/// Secret stores of a home directory, hidden in the default home policy unless
/// `--show` names them: keys, credentials, password stores and keyrings, browser and
/// mail profiles, wallets, shell and interpreter histories, and torsocks-rs's own
/// state, cache and profiles.
pub(crate) const SECRET_STORES: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".password-store",
    ".local/share/keyrings",
    ".local/share/kwalletd",
    ".pki",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".config/gh",
    ".vault-token",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".terraform.d/credentials.tfrc.json",
    ".mozilla",
    ".thunderbird",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".config/vivaldi",
    ".config/opera",
    ".config/microsoft-edge",
    ".config/Signal",
    ".config/Element",
    ".local/share/torbrowser",
    ".tor-browser",
    "tor-browser",
    ".electrum",
    ".bitcoin",
    ".ethereum",
    ".monero",
    ".local/share/Monero",
    ".config/Exodus",
    ".bash_history",
    ".zsh_history",
    ".histfile",
    ".history",
    ".sh_history",
    ".local/share/fish/fish_history",
    ".python_history",
    ".node_repl_history",
    ".psql_history",
    ".mysql_history",
    ".sqlite_history",
    ".lesshst",
    ".viminfo",
    ".local/state/nvim/shada",
    "Mail",
    ".mail",
    ".maildir",
    "Maildir",
    ".local/share/evolution",
    ".config/evolution",
    ".cache/torsocks-rs",
    ".local/state/torsocks-rs",
    ".local/share/torsocks-rs",
    ".config/torsocks-rs",
];

/// Variables the command gets from the caller's environment (bubblewrap's --clearenv,
/// with what a terminal program needs back); `LC_*` as well. Opt-ins add their own,
/// `--keep-env` and `--setenv` the rest.
pub(crate) const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "TZ",
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
    /// Variables kept although [`KEPT_ENV`] does not list them (`--keep-env`).
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

impl std::error::Error for OptInError {}

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

/// Files and directories the command line names: the program itself (looked up on
/// `path_env` when it has no `/`) and every absolute path among its arguments, so that
/// `torsocks-ns /var/tmp/build/prog /var/tmp/data` works. Only what `shareable` accepts
/// (regular files and directories, never sockets) is kept; the plan binds those not
/// already there ([`super::plan`]).
pub(crate) fn named_paths(
    argv: &[OsString],
    path_env: Option<&OsStr>,
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
        if shareable(&path) && !paths.contains(&path) {
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

/// The command's environment, from an allow-list: of `vars`, those [`KEPT_ENV`] names,
/// `LC_*`, and those in `keep`; then `set` (`--setenv`) over them.
pub(crate) fn sandbox_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    keep: &[OsString],
    set: &[(OsString, OsString)],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = vars
        .into_iter()
        .filter(|(name, _)| {
            KEPT_ENV.iter().any(|k| OsStr::new(k) == name)
                || name.as_bytes().starts_with(b"LC_")
                || keep.iter().any(|k| k == name)
        })
        .collect();
    for (name, value) in set {
        set_var(&mut env, name, value);
    }
    env
}

/// Sets `name` in `env`, replacing any value it had.
pub(crate) fn set_var(
    env: &mut Vec<(OsString, OsString)>,
    name: impl Into<OsString>,
    value: impl Into<OsString>,
) {
    let name = name.into();
    env.retain(|(n, _)| *n != name);
    env.push((name, value.into()));
}

/// `/etc/passwd` or `/etc/group` of the sandbox: the host's entries whose id (the third
/// field) is one of `ids`, and nobody else's, so that the host's accounts stay outside
/// while `id`, `ls -l` and `getpwuid` still name root, nobody and the command's user.
pub(crate) fn id_file(host: &str, ids: &[u32]) -> String {
    host.lines()
        .filter(|line| {
            line.split(':')
                .nth(2)
                .and_then(|id| id.parse::<u32>().ok())
                .is_some_and(|id| ids.contains(&id))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// An account of a `passwd` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub name: String,
    pub gid: u32,
    pub home: PathBuf,
}

/// The account of `uid` in the text of a `passwd` file: read as a file, not through NSS,
/// so that the launcher asks no host service (nscd, sssd) about it.
pub(crate) fn account(passwd: &str, uid: u32) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let (name, id, gid, home) = (
            fields.first()?,
            fields.get(2)?,
            fields.get(3)?,
            fields.get(5)?,
        );
        (id.parse::<u32>().ok()? == uid).then(|| Account {
            name: name.to_string(),
            gid: gid.parse().unwrap_or(uid),
            home: PathBuf::from(home),
        })
    })
}

/// The sandbox's `/etc/hosts`: this machine is `localhost`, as the UTS name says.
pub(crate) fn hosts_file() -> String {
    format!(
        "127.0.0.1\t{HOSTNAME}\n::1\t{HOSTNAME} ip6-localhost ip6-loopback\n\
         ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
    )
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

/// File system types that must not come along when a directory holding one is bound:
/// those served from elsewhere (a network server, or a FUSE program of the host's such
/// as sshfs, rclone or gvfs that may fetch files over the network, outside Tor), and
/// the kernel's own views (a build chroot's /proc, /sys or /dev would show the host's
/// processes, command lines, interfaces and terminals).
const FOREIGN_TYPES: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "ceph",
    "glusterfs",
    "afs",
    "ncpfs",
    "davfs",
    "lustre",
    "fuse",
    "fuseblk",
    "proc",
    "sysfs",
    "devpts",
    "devtmpfs",
    "debugfs",
    "tracefs",
    "securityfs",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "pstore",
    "efivarfs",
    "mqueue",
    "hugetlbfs",
    "binfmt_misc",
    "fusectl",
    "autofs",
    "rpc_pipefs",
    "nsfs",
];

/// The mount points of foreign file systems ([`FOREIGN_TYPES`]) in a
/// `/proc/self/mountinfo`.
pub(crate) fn foreign_mounts(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let point = mount.split(' ').nth(4)?;
            let kind = fs.split(' ').next()?;
            let main = kind.split('.').next()?;
            FOREIGN_TYPES
                .contains(&main)
                .then(|| PathBuf::from(unescape_octal(point)))
        })
        .collect()
}

/// mountinfo's `\040`-style escapes (space, tab, newline, backslash) decoded.
fn unescape_octal(text: &str) -> std::ffi::OsString {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) if d[0] <= b'3' => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    OsStr::from_bytes(&out).to_os_string()
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
    fn environment_is_an_allow_list() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus"),
            ("SSH_CONNECTION", "192.0.2.1 5000 192.0.2.2 22"),
            ("http_proxy", "http://192.0.2.3:3128"),
            ("SUDO_USER", "alice"),
            ("KRB5CCNAME", "FILE:/tmp/krb5cc_1000"),
            ("DISPLAY", ":0"),
            ("TORSOCKS_PASSWORD", "secret"),
            ("LC_TIME", "de_DE.UTF-8"),
            ("HOME", "/home/u"),
        ]
        .map(|(n, v)| (OsString::from(n), OsString::from(v)));
        let names = |kept: Vec<(OsString, OsString)>| -> Vec<String> {
            kept.into_iter()
                .map(|(n, v)| format!("{}={}", n.to_string_lossy(), v.to_string_lossy()))
                .collect()
        };
        assert_eq!(
            names(sandbox_env(vars.clone(), &[], &[])),
            ["PATH=/usr/bin", "LC_TIME=de_DE.UTF-8", "HOME=/home/u"]
        );
        assert_eq!(
            names(sandbox_env(
                vars,
                &["DISPLAY".into()],
                &[("PATH".into(), "/bin".into()), ("X".into(), "1".into())]
            )),
            [
                "DISPLAY=:0",
                "LC_TIME=de_DE.UTF-8",
                "HOME=/home/u",
                "PATH=/bin",
                "X=1"
            ]
        );
    }

    #[test]
    fn paths_on_the_command_line() {
        let exists = |p: &Path| {
            [
                "/tmp/build/prog",
                "/tmp/data",
                "/usr/bin/python3",
                "/tmp/venv/bin/tool",
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
                exists
            ),
            [PathBuf::from("/tmp/build/prog"), PathBuf::from("/tmp/data")]
        );
        assert_eq!(
            named_paths(&argv(&["tool", "/usr/bin/python3"]), path, exists),
            [
                PathBuf::from("/tmp/venv/bin/tool"),
                PathBuf::from("/usr/bin/python3")
            ],
            "found on PATH"
        );
        assert!(named_paths(&argv(&["python3", "relative/file"]), None, exists).is_empty());
    }

    #[test]
    fn only_the_accounts_the_sandbox_needs() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      alice:x:1000:1000:Alice Liddell:/home/alice:/bin/bash\n\
                      bob:x:1001:1001::/home/bob:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                      garbage\n";
        let ours = id_file(passwd, &[0, 1000, 65534]);
        assert!(ours.contains("alice:x:1000") && ours.contains("nobody:x:65534"));
        assert!(!ours.contains("bob") && !ours.contains("garbage"), "{ours}");
        assert_eq!(id_file(passwd, &[]), "");
    }

    #[test]
    fn foreign_mounts_are_found() {
        let mountinfo = "22 1 254:0 / / rw - ext4 /dev/vda rw\n\
                         40 22 0:50 / /home/u/my\\040share rw - fuse.sshfs u@host: rw\n\
                         41 22 0:51 / /mnt/nfs rw,relatime - nfs4 server:/export rw\n\
                         42 22 0:52 / /tmp rw - tmpfs tmpfs rw\n\
                         43 22 0:53 / /srv/chroot/proc rw - proc proc rw\n";
        assert_eq!(
            foreign_mounts(mountinfo),
            [
                PathBuf::from("/home/u/my share"),
                PathBuf::from("/mnt/nfs"),
                PathBuf::from("/srv/chroot/proc")
            ]
        );
        assert!(foreign_mounts("").is_empty());
        assert!(
            foreign_mounts("1 2 3 \\777 x - nfs y\n").len() == 1,
            "no overflow"
        );
    }

    #[test]
    fn accounts_are_read_from_the_file() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
        assert_eq!(
            account(passwd, 65534),
            Some(Account {
                name: "nobody".into(),
                gid: 65534,
                home: "/nonexistent".into()
            })
        );
        assert_eq!(account(passwd, 1000), None);
        assert_eq!(account("x:y\n", 0), None);
    }

    #[test]
    fn hosts_agree_with_the_uts_name() {
        assert!(hosts_file().starts_with(&format!("127.0.0.1\t{HOSTNAME}\n")));
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
