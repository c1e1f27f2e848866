//! The sandbox gets what it is given: each test is an attack a hostile program makes on
//! the host, its user or Tor's state, first shown working outside the sandbox (as root,
//! or as the same unprivileged user), then tried inside, root-run and rootless, and its
//! outcome read where it would land: the host's file or setting, the attacked file's
//! contents, what the program could read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;

use torsocks_testkit::install::bin;
use torsocks_testkit::output::{stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::{
    home_of_nobody, nobody_outside, root_run, rootless_run, scratch, sh,
};
use torsocks_testkit::world::World;

fn world() -> Option<World> {
    if !Path::new("/dev/net/tun").exists() {
        require::skip("needs /dev/net/tun");
        return None;
    }
    World::start()
}

/// The line of `out`'s stdout that starts with `key`, without it.
fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Sysctls a root-run program with uid 0 could write (the kernel checks only the uid):
/// core_pattern runs a program of its choice as host root on the next crash.
const SYSCTLS: &[&str] = &[
    "/proc/sys/kernel/core_pattern",
    "/proc/sys/kernel/poweroff_cmd",
    "/proc/sys/kernel/randomize_va_space",
    "/proc/sys/kernel/perf_event_paranoid",
    "/proc/sys/fs/suid_dumpable",
];

#[test]
fn a_root_run_is_never_host_root() {
    let Some(w) = world() else { return };
    let before: Vec<String> = SYSCTLS
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    // Outside, root may write them (the same value back: nothing changes).
    for (path, value) in SYSCTLS.iter().zip(&before) {
        std::fs::write(path, value).unwrap();
    }
    let attack = SYSCTLS
        .iter()
        .map(|p| format!("echo '|/var/tmp/evil %p' > {p} 2>/dev/null && echo wrote {p}\n"))
        .collect::<String>();
    let script = format!("echo uid=$(id -u) gid=$(id -g) groups=$(id -G)\n{attack}true\n");
    let out = sh(root_run(&w.mock), &script);
    let s = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        s.contains("uid=65534 gid=65534 groups=65534\n"),
        "nobody, no groups: {s}"
    );
    assert!(!s.contains("wrote"), "{s}");
    for (path, value) in SYSCTLS.iter().zip(&before) {
        assert_eq!(&std::fs::read_to_string(path).unwrap(), value, "{path}");
    }
    // --user picks the user; root itself is refused.
    let mut as_root = root_run(&w.mock);
    as_root.args(["--user", "root"]);
    let out = sh(as_root, "id -u");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("never runs as root"), "{}", text(&out));
}

/// The first block device of the host, e.g. `/dev/vda`.
fn a_block_device() -> Option<PathBuf> {
    std::fs::read_dir("/sys/class/block")
        .ok()?
        .flatten()
        .map(|e| Path::new("/dev").join(e.file_name()))
        .find(|p| p.exists())
}

#[test]
fn dev_holds_only_the_sandboxs_own_devices_and_terminals() {
    let Some(w) = world() else { return };
    let disk = a_block_device();
    if let Some(disk) = &disk {
        // Outside, root opens the raw disk (another user's files are on it).
        std::fs::File::open(disk).unwrap();
    }
    // A terminal of the host's, open while the sandbox runs.
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills the two ints with new fds; no name, termios or size given.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0);
    let host_tty = std::fs::read_link(format!("/proc/self/fd/{slave}")).unwrap();
    assert!(host_tty.exists(), "{}", host_tty.display());
    let script = format!(
        "echo dev: $(ls /dev)\n\
         echo pts: $(ls /dev/pts)\n\
         cat {tty} </dev/null >/dev/null 2>&1 && echo opened-host-tty\n\
         cat {disk} 2>/dev/null | head -c1 | wc -c | sed 's/^/disk-bytes: /'\n\
         python3 -c 'import os; os.mknod(\"/tmp/d\", 0o60600, os.makedev(8, 0))' 2>/dev/null && echo mknod\n\
         true\n",
        tty = host_tty.display(),
        disk = disk.as_deref().unwrap_or(Path::new("/dev/sda")).display(),
    );
    let home = home_of_nobody(&[]);
    for (how, cmd) in [
        ("root", Some(root_run(&w.mock))),
        ("rootless", rootless_run(&w.mock, &home)),
    ] {
        let Some(cmd) = cmd else { continue };
        let out = sh(cmd, &script);
        let s = stdout(&out);
        assert!(out.status.success(), "{how}: {}", text(&out));
        assert_eq!(
            field(&s, "dev:"),
            "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero",
            "{how}: {s}"
        );
        assert_eq!(field(&s, "pts:"), "ptmx", "{how}: a devpts of its own: {s}");
        assert!(!s.contains("opened-host-tty"), "{how}: {s}");
        assert_eq!(field(&s, "disk-bytes:"), "0", "{how}: {s}");
        assert!(!s.contains("mknod"), "{how}: {s}");
    }
    // SAFETY: closing the two fds openpty made, used by nothing else.
    unsafe {
        libc::close(master);
        libc::close(slave);
    }
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
}

#[test]
fn the_users_secrets_and_tors_state_stay_outside() {
    let Some(w) = world() else { return };
    let secrets = [
        (".ssh/id_ed25519", "SECRET-SSH-KEY\n"),
        (".gnupg/private-keys-v1.d/k.key", "SECRET-GPG\n"),
        (".bash_history", "SECRET-HISTORY\n"),
        (".aws/credentials", "SECRET-AWS\n"),
        (".mozilla/firefox/p/logins.json", "SECRET-LOGINS\n"),
        (
            ".local/state/torsocks-rs/arti/state/guards.json",
            "SECRET-GUARDS\n",
        ),
        (".cache/torsocks-rs/arti/dir.sqlite3", "SECRET-CACHE\n"),
    ];
    let mut files = secrets.to_vec();
    files.push(("notes.txt", "my notes\n"));
    let home = home_of_nobody(&files);
    // Elsewhere, a --tor-state directory that a bind would show.
    let tor_state = scratch("tor-state");
    std::fs::write(tor_state.join("guards"), "SECRET-TOR-STATE\n").unwrap();
    let read_all = format!(
        "cat {} notes.txt {}/guards 2>/dev/null\n\
         echo planted > .local/state/torsocks-rs/arti/planted 2>/dev/null && echo planted\n\
         echo mine > made.txt && echo made\n",
        secrets.map(|(p, _)| p).join(" "),
        tor_state.display()
    );
    // Outside, the same user reads every one of them.
    let outside = sh(nobody_outside(&home).unwrap(), &read_all);
    for (_, secret) in secrets {
        assert!(stdout(&outside).contains(secret), "{}", text(&outside));
    }
    let planted = home.join(".local/state/torsocks-rs/arti/planted");
    assert!(stdout(&outside).contains("planted"), "{}", text(&outside));
    std::fs::remove_file(&planted).unwrap();
    let Some(mut inside) = rootless_run(&w.mock, &home) else {
        return;
    };
    inside
        .arg("--tor-state")
        .arg(&tor_state)
        .arg("--bind")
        .arg(&tor_state);
    let out = sh(inside, &read_all);
    let s = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    for secret in secrets
        .iter()
        .map(|(_, s)| *s)
        .chain(["SECRET-TOR-STATE\n"])
    {
        assert!(!s.contains(secret), "{secret} read inside: {s}");
    }
    assert!(s.contains("my notes\n") && s.contains("made\n"), "{s}");
    assert!(!s.contains("planted"), "{s}");
    assert_eq!(
        std::fs::read_to_string(home.join("made.txt")).unwrap(),
        "mine\n"
    );
    assert!(!home.join(".local/state/torsocks-rs/arti/planted").exists());
    // --show exposes one store, on purpose.
    let mut shown = rootless_run(&w.mock, &home).unwrap();
    shown.arg("--show").arg(home.join(".ssh"));
    let out = sh(shown, "cat .ssh/id_ed25519 .bash_history");
    assert_eq!(stdout(&out), "SECRET-SSH-KEY\n", "{}", text(&out));
    // --home private: none of the home, and nothing of the run is left.
    let mut private = rootless_run(&w.mock, &home).unwrap();
    private.args(["--home", "private"]);
    let out = sh(
        private,
        "echo home=$HOME files=$(ls -A $HOME | wc -l); echo x > $HOME/left",
    );
    assert_eq!(
        stdout(&out),
        format!("home={} files=0\n", home.display()),
        "{}",
        text(&out)
    );
    assert!(!home.join("left").exists());
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
    let _ = std::fs::remove_dir_all(&tor_state);
}

#[test]
fn a_profile_is_a_home_of_its_own_kept_across_runs() {
    let Some(w) = world() else { return };
    let home = home_of_nobody(&[("notes.txt", "caller's notes\n")]);
    let run = |script: &str| {
        let mut cmd = rootless_run(&w.mock, &home).unwrap();
        cmd.args(["--profile", "work"]);
        sh(cmd, script)
    };
    let out = run("ls -A $HOME; echo kept > $HOME/state");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "", "a new profile's home is empty");
    let out = run("cat $HOME/state; cat notes.txt 2>/dev/null");
    assert_eq!(stdout(&out), "kept\n", "{}", text(&out));
    let profile = home.join(".local/share/torsocks-rs/profiles/work");
    let mode = std::fs::metadata(&profile).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::read_to_string(profile.join("home/state")).unwrap(),
        "kept\n"
    );
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
}

#[test]
fn nothing_of_the_hosts_mount_table_is_inherited() {
    let Some(w) = world() else { return };
    let Some(unshare) = require::program("unshare") else {
        return;
    };
    // A build chroot's /proc and /sys, mounted in a private mount namespace (the host's
    // own table is not touched), inside the directory the sandbox runs from.
    let chroot = scratch("chroot");
    for dir in ["proc", "sys", "work"] {
        std::fs::create_dir_all(chroot.join(dir)).unwrap();
    }
    let script = format!(
        "mount -t proc proc {c}/proc && mount -t sysfs sysfs {c}/sys || exit 90\n\
         echo outside: $(tr '\\0' ' ' < {c}/proc/1/cmdline | head -c 20 | wc -c) $(ls {c}/sys/class/net | wc -l)\n\
         cd {c} && {ns} -P {port} -- sh -c 'echo inside: $(ls proc | wc -l) $(ls sys | wc -l); \
           echo procs: $(grep -c \" - proc \" /proc/self/mountinfo); \
           echo points: $(cut -d\" \" -f5 /proc/self/mountinfo | sort -u | tr \"\\n\" \" \")'\n",
        c = chroot.display(),
        ns = bin("torsocks-ns").display(),
        port = w.mock.addr().port()
    );
    let out = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env("PATH", torsocks_testkit::sandbox::SYSTEM_PATH)
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    let outside: Vec<u32> = field(&s, "outside:")
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(outside.iter().all(|&n| n > 0), "shown outside: {s}");
    assert_eq!(field(&s, "inside:"), "0 0", "{s}");
    // The sandbox's /proc, and the read-only binds of its own subtrees.
    let points = field(&s, "points:");
    for point in points.split(' ') {
        let expected = [
            "/", "/usr", "/etc", "/opt", "/tmp", "/run", "/var", "/dev", "/proc",
        ]
        .iter()
        .any(|p| point == *p || point.starts_with(&format!("{p}/")))
            || [
                "/sys",
                "/home/nobody",
                "/bin",
                "/sbin",
                "/lib",
                "/lib64",
                "/lib32",
            ]
            .iter()
            .any(|p| point == *p || point.starts_with(&format!("{p}/")))
            || point.starts_with(chroot.to_str().unwrap());
        assert!(expected, "{point} is mounted inside: {s}");
    }
    let _ = std::fs::remove_dir_all(&chroot);
}

#[test]
fn what_would_identify_the_host_is_generic() {
    let Some(w) = world() else { return };
    let host = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let btime = field(&host("/proc/stat"), "btime");
    let uptime: f64 = host("/proc/uptime")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let hostname = host("/proc/sys/kernel/hostname");
    let disk_ids: Vec<PathBuf> = std::fs::read_dir("/sys/class/block")
        .map(|d| {
            d.flatten()
                .flat_map(|e| ["serial", "device/serial", "dm/uuid"].map(|f| e.path().join(f)))
                .filter(|p| !host(p.to_str().unwrap()).trim().is_empty())
                .collect()
        })
        .unwrap_or_default();
    let script = format!(
        "echo cgroup: $(cut -d: -f3 /proc/self/cgroup | sort -u)\n\
         echo btime $(grep btime /proc/stat | cut -d' ' -f2)\n\
         echo uptime: $(cut -d' ' -f1 /proc/uptime)\n\
         echo cmdline: $(cat /proc/cmdline)\n\
         echo names: $(cat /etc/hostname) $(cat /etc/hosts | tr '\\n' ' ')\n\
         echo keys: $(wc -c < /proc/keys)\n\
         echo accounts: $(cut -d: -f1 /etc/passwd | tr '\\n' ' ')\n\
         echo ids: $(cat {} 2>/dev/null | wc -c)\n",
        disk_ids
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = sh(root_run(&w.mock), &script);
    let s = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(field(&s, "cgroup:"), "/", "{s}");
    assert_ne!(field(&s, "btime"), btime, "{s}");
    let inside_uptime: f64 = field(&s, "uptime:").parse().unwrap();
    assert!(inside_uptime > uptime + 3000.0, "{uptime} vs {s}");
    assert!(
        !field(&s, "cmdline:").contains(host("/proc/cmdline").trim()),
        "{s}"
    );
    let names = field(&s, "names:");
    assert!(
        names
            .split_whitespace()
            .all(|n| n != hostname.trim() || n == "localhost"),
        "{s}"
    );
    assert!(
        field(&s, "names:").starts_with("localhost 127.0.0.1 localhost"),
        "{s}"
    );
    assert_eq!(field(&s, "keys:"), "0", "{s}");
    assert_eq!(field(&s, "accounts:"), "root nobody", "{s}");
    assert_eq!(field(&s, "ids:"), "0", "{disk_ids:?}: {s}");
}

/// Python that tries each kernel interface and prints `name errno` (0: it worked).
const KERNEL_CALLS: &str = r#"
import ctypes, os, platform
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": dict(userfaultfd=323, keyctl=250, add_key=248, perf_event_open=298, bpf=321, unshare=272),
      "aarch64": dict(userfaultfd=282, keyctl=219, add_key=217, perf_event_open=241, bpf=280, unshare=97)}[platform.machine()]
attr = ctypes.create_string_buffer(128)
args = dict(userfaultfd=(0,), keyctl=(0, -3, 0), add_key=(b"user", b"k", b"v", 1, -3),
            perf_event_open=(attr, 0, -1, -1, 0), bpf=(0, attr, 48), unshare=(0x10000000,))
for name, a in args.items():
    rc = libc.syscall(nr[name], *a)
    print(name, 0 if rc >= 0 else ctypes.get_errno())
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, 0, 0); os.kill(os.getpid(), 19); os._exit(0)
_, status = os.waitpid(pid, os.WUNTRACED)
print("ptrace", 0 if os.WIFSTOPPED(status) else 1)
os.kill(pid, 9); os.waitpid(pid, 0)
"#;

#[test]
fn no_user_namespace_nor_kernel_interfaces_inside() {
    let Some(w) = world() else { return };
    let home = home_of_nobody(&[]);
    // Outside, the same unprivileged user makes a user namespace.
    let script = "unshare -Urn true && echo made-userns\npython3 -c \"$CALLS\"";
    let mut outside = nobody_outside(&home).unwrap();
    outside.env("CALLS", KERNEL_CALLS);
    let out = sh(outside, script);
    assert!(stdout(&out).contains("made-userns"), "{}", text(&out));
    for (how, cmd) in [
        ("root", Some(root_run(&w.mock))),
        ("rootless", rootless_run(&w.mock, &home)),
    ] {
        let Some(mut cmd) = cmd else { continue };
        cmd.arg("--setenv").arg(format!("CALLS={KERNEL_CALLS}"));
        let out = sh(cmd, script);
        let s = stdout(&out);
        assert!(out.status.success(), "{how}: {}", text(&out));
        assert!(!s.contains("made-userns"), "{how}: {s}");
        for call in [
            "userfaultfd",
            "keyctl",
            "add_key",
            "perf_event_open",
            "bpf",
            "unshare",
        ] {
            assert_eq!(
                field(&s, &format!("{call} ")),
                libc::EPERM.to_string(),
                "{how}: {call}: {s}"
            );
        }
        assert_eq!(field(&s, "ptrace "), "0", "{how}: debuggers work: {s}");
    }
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
}

// `--allow-userns` (Chromium's sandbox): user namespaces, bounded; the other kernel
// interfaces stay refused, and a namespace made inside cannot touch the sandbox's
// network: a new network namespace has loopback alone, and tun0 is not its to change.
#[test]
fn allow_userns_gives_user_namespaces_and_nothing_more() {
    let Some(w) = world() else { return };
    let home = home_of_nobody(&[]);
    let script = "cat /proc/sys/user/max_user_namespaces
                  unshare -Urn sh -c 'echo links $(ip -o link | wc -l)'
                  unshare -Ur ip addr add 10.9.9.9/32 dev tun0 2>/dev/null || echo tun0-refused
                  python3 -c \"$CALLS\"";
    for (how, cmd) in [
        ("root", Some(root_run(&w.mock))),
        ("rootless", rootless_run(&w.mock, &home)),
    ] {
        let Some(mut cmd) = cmd else { continue };
        cmd.args(["--allow-userns", "--setenv"])
            .arg(format!("CALLS={KERNEL_CALLS}"));
        let out = sh(cmd, script);
        let s = stdout(&out);
        assert!(out.status.success(), "{how}: {}", text(&out));
        assert!(s.starts_with("1024\n"), "{how}: the bound: {s}");
        assert!(
            s.contains("links 1\n"),
            "{how}: a new network has lo alone: {s}"
        );
        assert!(s.contains("tun0-refused"), "{how}: {s}");
        assert_eq!(field(&s, "unshare "), "0", "{how}: {s}");
        for call in ["userfaultfd", "keyctl", "add_key", "perf_event_open", "bpf"] {
            assert_eq!(
                field(&s, &format!("{call} ")),
                libc::EPERM.to_string(),
                "{how}: {call}: {s}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
}

#[test]
fn fork_and_memory_bombs_stop_at_the_bounds() {
    let Some(w) = world() else { return };
    let fork_bomb = "import os, time\n\
                     n = 0\n\
                     for _ in range(200):\n\
                     \x20   try:\n\
                     \x20       if os.fork() == 0: time.sleep(30); os._exit(0)\n\
                     \x20       n += 1\n\
                     \x20   except OSError: break\n\
                     print('forked', n)\n";
    let mut cmd = root_run(&w.mock);
    cmd.args(["--max-procs", "40", "--", "python3", "-c", fork_bomb]);
    let out = cmd.output().unwrap();
    let forked: u32 = field(&stdout(&out), "forked").parse().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!((20..40).contains(&forked), "{}", text(&out));
    let memory_bomb = "try:\n\
                       \x20   b = bytearray(1 << 30); print('allocated')\n\
                       except MemoryError: print('refused')\n";
    let mut cmd = root_run(&w.mock);
    cmd.args(["--memory", "256M", "--", "python3", "-c", memory_bomb]);
    let out = cmd.output().unwrap();
    assert_eq!(stdout(&out), "refused\n", "{}", text(&out));
    assert!(out.status.success());
    // The sandbox is the OOM killer's first choice; the launcher is not.
    let out = sh(root_run(&w.mock), "cat /proc/self/oom_score_adj");
    assert_eq!(stdout(&out), "1000\n", "{}", text(&out));
}

/// Python that connects to each path in `$PATHS` (space-separated) and prints
/// `reached <path>` or `refused <path>`.
const CONNECT_EACH: &str = "import os, socket\n\
for p in os.environ['PATHS'].split():\n\
\x20   s = socket.socket(socket.AF_UNIX)\n\
\x20   try: s.connect(p); print('reached', p)\n\
\x20   except OSError: print('refused', p)\n";

#[test]
fn host_sockets_the_second_layer_cannot_see_are_out_of_a_private_homes_reach() {
    let Some(w) = world() else { return };
    let home = home_of_nobody(&[]);
    // A service whose directory was renamed after it bound (the host's socket table
    // still names the old path), and one in /var/tmp.
    let old = home.join("old");
    std::fs::create_dir_all(&old).unwrap();
    let renamed = std::os::unix::net::UnixListener::bind(old.join("S")).unwrap();
    std::fs::rename(&old, home.join("new")).unwrap();
    let moved = home.join("new/S");
    let var_tmp = scratch("service").join("S");
    let _elsewhere = std::os::unix::net::UnixListener::bind(&var_tmp).unwrap();
    for path in [&moved, &var_tmp] {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
    }
    let paths = format!("{} {}", moved.display(), var_tmp.display());
    let run = |args: &[&str]| {
        let mut cmd = rootless_run(&w.mock, &home).unwrap();
        cmd.args(args)
            .arg("--setenv")
            .arg(format!("PATHS={paths}"))
            .args(["--", "python3", "-c", CONNECT_EACH]);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        stdout(&out)
    };
    // Outside, the same user reaches both.
    let mut outside = nobody_outside(&home).unwrap();
    outside
        .env("PATHS", &paths)
        .args(["python3", "-c", CONNECT_EACH]);
    let s = stdout(&outside.output().unwrap());
    assert_eq!(s.matches("reached").count(), 2, "{s}");
    // The default home shows the renamed one (the documented gap of the second
    // layer); /var/tmp is the sandbox's own.
    let s = run(&[]);
    assert!(s.contains(&format!("reached {}", moved.display())), "{s}");
    assert!(s.contains(&format!("refused {}", var_tmp.display())), "{s}");
    // A private home has none of it.
    let s = run(&["--home", "private"]);
    assert_eq!(s.matches("refused").count(), 2, "{s}");
    drop(renamed);
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
    let _ = std::fs::remove_dir_all(var_tmp.parent().unwrap());
}

/// What users run inside, each printing one word when it worked.
const REAL_PROGRAMS: &str = "curl -sS --max-time 20 \"$URL\" | grep -q 'hello from' && echo curl\n\
wget -qO- -T 20 \"$URL\" | grep -q 'hello from' && echo wget\n\
busybox wget -qO- \"$URL\" | grep -q 'hello from' && echo busybox\n\
python3 -c \"import urllib.request as u; print(u.urlopen('$URL', timeout=20).read().decode())\" | grep -q 'hello from' && echo python\n\
python3 -m pip --version >/dev/null && echo pip\n\
cd \"$HOME\" && git init -q repo && git -C repo -c user.name=t -c user.email=t@t commit -q --allow-empty -m t && echo git\n\
ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o ConnectTimeout=20 -p 80 \"$NAME\" true 2>&1 | grep -qiE 'banner|identification|closed|reset' && echo ssh\n\
true\n";

#[test]
fn real_programs_work_in_every_home_policy() {
    let Some(w) = world() else { return };
    let name = torsocks_testkit::world::TARGET_NAME;
    let url = format!("http://{name}/hello.txt");
    let home = home_of_nobody(&[]);
    for (how, cmd, args) in [
        ("root-run", Some(root_run(&w.mock)), &[][..]),
        ("rootless", rootless_run(&w.mock, &home), &[][..]),
        (
            "rootless, private home",
            rootless_run(&w.mock, &home),
            &["--home", "private"][..],
        ),
    ] {
        let Some(mut cmd) = cmd else { continue };
        cmd.args(args)
            .arg("--setenv")
            .arg(format!("URL={url}"))
            .arg("--setenv")
            .arg(format!("NAME={name}"));
        let out = sh(cmd, REAL_PROGRAMS);
        assert!(out.status.success(), "{how}: {}", text(&out));
        assert_eq!(
            stdout(&out),
            "curl\nwget\nbusybox\npython\npip\ngit\nssh\n",
            "{how}: {}",
            text(&out)
        );
    }
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
}

#[test]
fn headless_chromium_loads_a_page() {
    let Some(w) = world() else { return };
    let Some(chromium) = require::program("chromium") else {
        return;
    };
    let url = format!("http://{}/hello.txt", torsocks_testkit::world::TARGET_NAME);
    let mut cmd = root_run(&w.mock);
    cmd.arg("--")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--timeout=30000",
            "--dump-dom",
        ])
        .arg(&url);
    let out = cmd.output().unwrap();
    assert!(
        stdout(&out).contains("hello from the target host"),
        "{}",
        text(&out)
    );
}
