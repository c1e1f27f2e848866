//! Namespace mode against a hostile program: one test per way out of the sandbox that a
//! program could try. Each attack aims at the test's target host, and "nothing
//! escaped" is read on the target host's side (its UDP sink and HTTP log, fenced by
//! [`TargetHost::received`]) or on the side of the host service attacked. Where a test
//! can, it first shows that the same attack does reach the target from outside the
//! sandbox (or with the matching opt-in), so that it can fail.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use torsocks_testkit::install::bin;
use torsocks_testkit::output::{stderr, stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::scratch;
use torsocks_testkit::target_host::TargetHost;
use torsocks_testkit::world::World;

fn world() -> Option<World> {
    if !Path::new("/dev/net/tun").exists() {
        require::skip("needs /dev/net/tun");
        return None;
    }
    World::start()
}

/// `torsocks-ns` against the world's mock Tor.
fn ns(world: &World) -> Command {
    let mut cmd = Command::new(bin("torsocks-ns"));
    cmd.args(["-P", &world.mock.addr().port().to_string()])
        .env("TORSOCKS_CONF_FILE", "/dev/null");
    cmd
}

/// The same, as the unprivileged user `nobody` (rootless).
fn ns_as_nobody(world: &World) -> Option<Command> {
    let setpriv = require::program("setpriv")?;
    std::fs::set_permissions(
        "/dev/net/tun",
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let mut cmd = Command::new(setpriv);
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(bin("torsocks-ns"))
        .args(["-P", &world.mock.addr().port().to_string()])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env("HOME", "/")
        .current_dir("/");
    Some(cmd)
}

/// Runs `script` with python3 in the sandbox that `cmd` starts.
fn python(mut cmd: Command, script: &str) -> Output {
    cmd.args(["--", "python3", "-c", script]).output().unwrap()
}

/// Nothing but the fences reached the target host, and Tor saw no request.
fn assert_nothing_escaped(world: &World, what: &str) {
    let (datagrams, requests) = world.host.received();
    assert!(
        datagrams.is_empty(),
        "{what}: datagrams arrived: {datagrams:?}"
    );
    assert!(
        requests.is_empty(),
        "{what}: HTTP requests arrived: {requests:?}"
    );
    // (torsocks-ns's own check that Tor answers is a bare greeting, no request.)
    let requests: Vec<_> = world
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.command.is_some())
        .collect();
    assert!(requests.is_empty(), "{what}: Tor was asked: {requests:?}");
}

/// A host service that does networking for whoever connects: every connection's bytes
/// go to the target host's UDP sink as one datagram (as a tmux or socat server of the
/// same user would). Counts connections.
struct Relay {
    path: PathBuf,
    accepted: Arc<AtomicUsize>,
}

impl Relay {
    fn start(path: PathBuf, host: &TargetHost) -> Relay {
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (count, sink) = (Arc::clone(&accepted), host.udp_addr());
        std::thread::spawn(move || {
            let udp = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut bytes = Vec::new();
                let _ = stream.read_to_end(&mut bytes);
                let _ = udp.send_to(&bytes, sink);
            }
        });
        Relay { path, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Python that connects to each path in `paths` and sends `leak:<path>`; prints
/// `reached <path>` or `refused <path> <errno>` per path.
fn connect_each(paths: &[&Path]) -> String {
    let list: Vec<String> = paths
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    format!(
        "import socket\n\
         for p in [{}]:\n\
         \x20   try:\n\
         \x20       s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
         \x20       s.connect(p); s.sendall(b'leak:' + p.encode()); s.close(); print('reached', p)\n\
         \x20   except OSError as e:\n\
         \x20       print('refused', p, e.errno)\n",
        list.join(", ")
    )
}

#[test]
fn host_unix_socket_services_are_out_of_reach() {
    let Some(w) = world() else { return };
    let dir = scratch("relay");
    let tmp_dir = Path::new("/tmp").join(format!("tsrs-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&tmp_dir).unwrap();
    let in_home = Relay::start(dir.join("relay.sock"), &w.host);
    let in_tmp = Relay::start(tmp_dir.join("relay.sock"), &w.host);
    let paths = [in_home.path.as_path(), in_tmp.path.as_path()];

    // From outside the sandbox the relays do reach the target host.
    let out = Command::new("python3")
        .args(["-c", &connect_each(&paths)])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).matches("reached").count(), 2, "{}", text(&out));
    let (datagrams, _) = w.host.received();
    assert_eq!(datagrams.len(), 2, "the relays work: {datagrams:?}");
    w.host.clear();

    for (who, cmd) in [("root", Some(ns(&w))), ("nobody", ns_as_nobody(&w))] {
        let Some(cmd) = cmd else { continue };
        let before = in_home.accepted() + in_tmp.accepted();
        let out = python(cmd, &connect_each(&paths));
        assert_eq!(
            stdout(&out).matches("refused").count(),
            2,
            "{who}: {}",
            text(&out)
        );
        assert_eq!(in_home.accepted() + in_tmp.accepted(), before, "{who}");
        assert_nothing_escaped(&w, who);
    }
    let _ = std::fs::remove_dir_all(&tmp_dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tmux_server_of_the_same_user_is_out_of_reach() {
    let Some(w) = world() else { return };
    let Some(tmux) = require::program("tmux") else {
        return;
    };
    let dir = scratch("tmux");
    let socket = dir.join("tmux.sock");
    let tmux_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&tmux);
        cmd.arg("-S").arg(&socket).args(args);
        cmd
    };
    assert!(tmux_cmd(&["new-session", "-d", "-s", "host", "sleep 600"])
        .status()
        .unwrap()
        .success());
    // The server runs on the host: what it runs for a client goes straight out.
    let leak = |tag: &str| {
        format!(
            "python3 -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'{tag}', ('{}', {}))\"",
            w.host.ip(),
            w.host.udp_addr().port()
        )
    };
    let control = tmux_cmd(&["run-shell", &leak("via-tmux-outside")])
        .output()
        .unwrap();
    assert!(control.status.success(), "{}", text(&control));
    let (datagrams, _) = w.host.received();
    assert_eq!(
        datagrams.len(),
        1,
        "tmux relays from outside: {datagrams:?}"
    );
    w.host.clear();

    let out = ns(&w)
        .arg("--")
        .arg(&tmux)
        .arg("-S")
        .arg(&socket)
        .args(["run-shell", &leak("via-tmux-inside")])
        .output()
        .unwrap();
    let _ = tmux_cmd(&["kill-server"]).status();
    assert!(!out.status.success(), "{}", text(&out));
    assert_nothing_escaped(&w, "tmux");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nscd_is_never_asked() {
    let Some(w) = world() else { return };
    let Some(unshare) = require::program("unshare") else {
        return;
    };
    let dir = scratch("nscd");
    let log = dir.join("asked");
    // A stand-in nscd at glibc's path, in a private mount namespace (the host's /run is
    // not touched): it records every client and closes, so glibc falls back to NSS.
    let fake_nscd = format!(
        "import socket, os\n\
         s = socket.socket(socket.AF_UNIX); s.bind('/run/nscd/socket'); s.listen(16)\n\
         open('{ready}', 'w').close()\n\
         while True:\n\
         \x20   c, _ = s.accept(); open('{log}', 'a').write('asked\\n'); c.close()\n",
        ready = dir.join("ready").display(),
        log = log.display()
    );
    let script = format!(
        "mount -t tmpfs tmpfs /run && mkdir /run/nscd || exit 90\n\
         python3 -c \"$FAKE_NSCD\" & nscd=$!\n\
         for i in $(seq 500); do [ -e {ready} ] && break; sleep 0.01; done\n\
         getent hosts localhost >/dev/null; echo outside=$(cat {log} 2>/dev/null | wc -l)\n\
         {ns} -P {port} -- getent hosts target.test; echo status=$?\n\
         echo after=$(cat {log} | wc -l)\n\
         kill $nscd\n",
        ready = dir.join("ready").display(),
        log = log.display(),
        ns = bin("torsocks-ns").display(),
        port = w.mock.addr().port()
    );
    let out = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("FAKE_NSCD", fake_nscd)
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    let s = stdout(&out);
    let count = |key: &str| -> usize {
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(
        count("outside=") >= 1,
        "glibc asks nscd outside: {}",
        text(&out)
    );
    assert_eq!(
        count("after="),
        count("outside="),
        "nscd was asked from inside: {}",
        text(&out)
    );
    assert!(
        s.contains(&format!("{} ", w.host.ip())) && s.contains("status=0"),
        "resolved through Tor instead: {}",
        text(&out)
    );
    assert!(w
        .mock
        .requests()
        .iter()
        .any(|r| r.command == Some(0xf0) && r.host.as_deref() == Some("target.test")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Clears FD_CLOEXEC so that the launcher inherits `fd`, as from a careless parent.
#[allow(unsafe_code)]
fn inheritable(fd: &impl AsRawFd) -> i32 {
    // SAFETY: fcntl on an fd this test owns; F_SETFD takes an integer.
    assert_eq!(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) }, 0);
    fd.as_raw_fd()
}

#[test]
fn inherited_sockets_are_closed() {
    let Some(w) = world() else { return };
    let udp = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let tcp = std::net::TcpStream::connect(w.host.http_addr()).unwrap();
    let (u, t) = (inheritable(&udp), inheritable(&tcp));
    let script = |tag: &str| {
        format!(
            "import socket\n\
             for fd, what in (({u}, 'udp'), ({t}, 'tcp')):\n\
             \x20   try:\n\
             \x20       s = socket.socket(fileno=fd)\n\
             \x20       if what == 'udp': s.sendto(b'{tag}', ('{ip}', {port}))\n\
             \x20       else: s.sendall(b'GET /{tag} HTTP/1.0\\r\\n\\r\\n'); s.recv(100)\n\
             \x20       print('sent', what)\n\
             \x20   except OSError as e:\n\
             \x20       print('closed', what, e.errno)\n",
            ip = w.host.ip(),
            port = w.host.udp_addr().port()
        )
    };
    let out = python(ns(&w), &script("leak"));
    assert_eq!(stdout(&out).matches("closed").count(), 2, "{}", text(&out));
    let (datagrams, requests) = w.host.received();
    assert!(
        datagrams.is_empty() && requests.is_empty(),
        "{datagrams:?} {requests:?}"
    );

    // --keep-fd passes them on, and then they do reach the target: the test can fail.
    let mut keep = ns(&w);
    keep.args(["--keep-fd", &u.to_string(), "--keep-fd", &t.to_string()]);
    let out = python(keep, &script("kept"));
    assert_eq!(stdout(&out).matches("sent").count(), 2, "{}", text(&out));
    let (datagrams, requests) = w.host.received();
    assert_eq!(datagrams.len(), 1, "{datagrams:?}");
    assert!(requests.iter().any(|(_, p)| p == "/kept"), "{requests:?}");
}

#[test]
fn host_identity_is_hidden() {
    let Some(w) = world() else { return };
    let script = "cat /proc/1/cmdline /proc/*/cmdline 2>/dev/null | tr '\\0' ' '; echo\n\
                  echo ifaces: $(ls /sys/class/net; ls /sys/devices/virtual/net)\n\
                  cat /proc/1/net/route /proc/net/fib_trie /proc/net/arp /proc/net/tcp /proc/net/unix\n\
                  echo host: $(hostname) $(uname -n) $(cat /proc/sys/kernel/hostname)\n\
                  echo pids: $(ls /proc | grep '^[0-9]')\n\
                  echo ids: $(cat /etc/machine-id /proc/sys/kernel/random/boot_id)\n\
                  cat /proc/1/environ >/dev/null 2>&1 && echo environ-$((6 * 7))\n\
                  env";
    let mut cmd = ns(&w);
    cmd.args(["-u", "hostile-user", "-p", "hostile-secret"])
        .env("SSH_CONNECTION", "198.51.100.1 50000 198.51.100.2 22")
        .env("SSH_CLIENT", "198.51.100.1 50000 22")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/0/bus")
        .env("DISPLAY", ":0")
        .env("TORSOCKS_PASSWORD", "env-secret")
        .env("http_proxy", "http://198.51.100.3:3128")
        .env("DOCKER_HOST", "tcp://198.51.100.4:2375")
        .env("PULSE_SERVER", "tcp:198.51.100.5")
        .env("SUDO_USER", "hostile-sudoer")
        .env("KRB5CCNAME", "FILE:/tmp/krb5cc_hostile")
        .env("WINDOWID", "hostile-window")
        .env("LC_TIME", "C.UTF-8");
    let out = cmd.args(["--", "sh", "-c", script]).output().unwrap();
    let s = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let machine_id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let host_if = format!("tsrs{}h", w.host.host_ip().octets()[2]);
    for secret in [
        "hostile-secret",
        "env-secret",
        "198.51.100.",
        "DBUS_SESSION",
        "DISPLAY=",
        "hostile-sudoer",
        "krb5cc_hostile",
        "hostile-window",
        host_if.as_str(),
        &w.host.host_ip().to_string(),
        "environ-42",
        machine_id.trim(),
        boot_id.trim(),
    ]
    .into_iter()
    .filter(|secret| !secret.is_empty())
    {
        assert!(!s.contains(secret), "{secret} is visible inside: {s}");
    }
    if host_name.trim() != "localhost" {
        assert!(!s.contains(host_name.trim()), "the host's name: {s}");
    }
    assert!(s.contains("host: localhost localhost localhost"), "{s}");
    assert!(
        s.contains("ids: b08dfa6083e7567a1921a715000001fb 00000000-0000-4000-8000-000000000000"),
        "generic machine and boot ids: {s}"
    );
    assert!(s.contains("ifaces: lo tun0 lo tun0"), "{s}");
    assert!(s.contains("LC_TIME=C.UTF-8"), "locale variables stay: {s}");
    let pids: Vec<u32> = s
        .lines()
        .find_map(|l| l.strip_prefix("pids: "))
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(
        pids.contains(&1) && pids.iter().all(|&p| p < 50),
        "{pids:?}"
    );
    // --keep-env lets one through on purpose.
    let out = ns(&w)
        .env("SSH_CONNECTION", "198.51.100.1 50000 198.51.100.2 22")
        .args([
            "--keep-env",
            "SSH_CONNECTION",
            "--",
            "sh",
            "-c",
            "echo $SSH_CONNECTION",
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "198.51.100.1 50000 198.51.100.2 22\n");
}

#[test]
fn host_processes_cannot_be_signalled() {
    let Some(w) = world() else { return };
    let mut victim = Command::new("sleep").arg("600").spawn().unwrap();
    let pid = victim.id();
    let script = format!(
        "kill -STOP {pid} 2>/dev/null && echo stopped; kill -KILL {pid} 2>/dev/null && echo killed; \
         kill -STOP -1 2>/dev/null; echo done"
    );
    let out = ns(&w).args(["--", "sh", "-c", &script]).output().unwrap();
    assert_eq!(stdout(&out), "done\n", "{}", text(&out));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = stat.rsplit_once(") ").unwrap().1.chars().next().unwrap();
    assert!(
        victim.try_wait().unwrap().is_none(),
        "the host process died"
    );
    assert_ne!(state, 'T', "the host process was stopped");
    victim.kill().unwrap();
    victim.wait().unwrap();
}

/// Host pids of processes whose command line contains `tag`.
fn processes_with(tag: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(tag) {
                found.push(pid);
            }
        }
    }
    found
}

/// Waits (at most 10 s) until no process carries `tag`.
fn all_gone(tag: &str) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_with(tag);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn nothing_outlives_the_sandbox() {
    let Some(w) = world() else { return };
    // A daemon that detaches (new session, ignores SIGHUP) and a plain background job.
    for (case, kill_launcher) in [("exit", false), ("sigkill", true)] {
        let tag = format!("{}.{}{}", 600, std::process::id(), case.len());
        let script = format!(
            "setsid nohup sleep $TAG >/dev/null 2>&1 & sleep $TAG & echo ready; {}",
            if kill_launcher {
                "wait"
            } else {
                "read go; exit 0"
            }
        );
        let mut launcher = ns(&w)
            .arg("--setenv")
            .arg(format!("TAG={tag}"))
            .args(["--", "sh", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(launcher.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        // Both sleeps running (setsid and nohup exec into sleep on the way).
        let sleeps = || {
            processes_with(&tag)
                .into_iter()
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c.starts_with(b"sleep\0"))
                })
                .count()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while sleeps() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(sleeps(), 2, "{case}: both started");
        if kill_launcher {
            launcher.kill().unwrap();
        } else {
            launcher.stdin.take().unwrap().write_all(b"go\n").unwrap();
        }
        let status = launcher.wait().unwrap();
        assert_eq!(status.code(), (!kill_launcher).then_some(0), "{case}");
        assert_eq!(all_gone(&tag), Vec::<u32>::new(), "{case}: left behind");
    }
}

#[test]
fn socket_families_no_namespace_scopes_are_refused() {
    let Some(w) = world() else { return };
    // Created only, never connected. AF_VSOCK reaches the hypervisor; Bluetooth, NFC and
    // Qualcomm's IPC router reach hardware no network namespace confines.
    let script = "import socket, ctypes, os\n\
                  for fam in (40, 31, 39, 42, 30, 29, 21, 3, 9):\n\
                  \x20   for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET, socket.SOCK_RAW):\n\
                  \x20       try: socket.socket(fam, kind).close(); print('created', fam, kind)\n\
                  \x20       except OSError as e: assert e.errno == 97, (fam, kind, e)\n\
                  libc = ctypes.CDLL(None, use_errno=True)\n\
                  r = libc.syscall(425, 8, ctypes.create_string_buffer(120))\n\
                  print('io_uring', r, ctypes.get_errno())\n\
                  socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()\n\
                  socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()\n\
                  print('ok')\n";
    for (who, cmd) in [("root", Some(ns(&w))), ("nobody", ns_as_nobody(&w))] {
        let Some(cmd) = cmd else { continue };
        let out = python(cmd, script);
        assert_eq!(
            stdout(&out),
            "io_uring -1 38\nok\n",
            "{who}: {}",
            text(&out)
        );
    }
}

#[test]
fn root_cannot_undo_the_sandbox() {
    let Some(w) = world() else { return };
    let script = "umount /etc/resolv.conf; umount -l /tmp; umount -l /run; umount -l /proc\n\
                  mount -o remount,rw /etc/resolv.conf; mount -t tmpfs none /mnt\n\
                  echo 'nameserver 192.0.2.1' > /etc/resolv.conf\n\
                  unshare -m sh -c 'umount -l /tmp' && echo unshared\n\
                  unshare -Urm sh -c 'umount -l /tmp && echo nested-umount'\n\
                  echo resolv: $(grep nameserver /etc/resolv.conf)\n\
                  echo tmp: $(ls -A /tmp | wc -l)\n\
                  grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status\n\
                  echo groups: $(id -G)\n";
    let out = ns(&w)
        .args(["--", "sh", "-c", script])
        .current_dir("/")
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(
        s.contains("resolv: nameserver 10.241.0.1\n"),
        "{}",
        text(&out)
    );
    assert!(s.contains("tmp: 0\n"), "{}", text(&out));
    assert!(
        !s.contains("unshared") && !s.contains("nested-umount"),
        "{s}"
    );
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(
            s.contains(&format!("{set}:\t0000000000000000\n")),
            "{set}: {s}"
        );
    }
    assert!(
        s.contains("NoNewPrivs:\t1\n") && s.contains("Seccomp:\t2\n"),
        "{s}"
    );
    assert!(
        s.contains("groups: 65534\n"),
        "nobody, its supplementary groups dropped: {s}"
    );
    assert_nothing_escaped(&w, "root");
}

#[test]
fn another_user_with_user() {
    let Some(w) = world() else { return };
    let out = ns(&w)
        .args([
            "--user",
            "nobody",
            "--",
            "sh",
            "-c",
            "id -u; id -G; echo $USER; grep CapEff /proc/self/status",
        ])
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "65534\n65534\nnobody\nCapEff:\t0000000000000000\n",
        "{}",
        text(&out)
    );
    // Root's own supplementary groups are dropped too.
    if let Some(setpriv) = require::program("setpriv") {
        let out = Command::new(setpriv)
            .args(["--groups=4,27,100", "--"])
            .arg(bin("torsocks-ns"))
            .args(["-P", &w.mock.addr().port().to_string(), "--", "id", "-G"])
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .output()
            .unwrap();
        assert_eq!(stdout(&out), "65534\n", "{}", text(&out));
    }
    let out = ns(&w)
        .args(["--user", "no-such-user-xyz", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such user"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_launcher_writes_nothing_on_the_host() {
    let Some(w) = world() else { return };
    let dir = scratch("plant");
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let runtime = dir.join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    // Symlinks at every name a launcher of the next few hundred pids could choose.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut planted = Vec::new();
    for pid in last + 1..last + 400 {
        for base in [Path::new("/tmp"), runtime.as_path()] {
            let link = base.join(format!("torsocks-ns-{pid}.resolv.conf"));
            if std::os::unix::fs::symlink(&victim, &link).is_ok() {
                planted.push(link);
            }
        }
    }
    let listing = |d: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        names
    };
    let before = listing(&runtime);
    for runtime_dir in [None, Some(&runtime)] {
        let mut cmd = ns(&w);
        match runtime_dir {
            Some(d) => cmd.env("XDG_RUNTIME_DIR", d),
            None => cmd.env_remove("XDG_RUNTIME_DIR"),
        };
        let out = cmd
            .args(["--", "sh", "-c", "getent hosts target.test"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        // And after a SIGKILL.
        let mut killed = ns(&w)
            .args(["--", "sh", "-c", "echo ready; sleep 600"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(killed.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        killed.kill().unwrap();
        killed.wait().unwrap();
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(listing(&runtime), before, "files left in XDG_RUNTIME_DIR");
    for link in planted {
        let _ = std::fs::remove_file(link);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pathname sockets in the host's /proc/net/unix.
fn host_socket_paths() -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap();
    let mut paths: Vec<PathBuf> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[test]
fn every_host_socket_is_unreachable() {
    let Some(w) = world() else { return };
    let dir = scratch("every");
    // One of our own among them, so that at least one listener records the outcome.
    let ours = Relay::start(dir.join("ours.sock"), &w.host);
    let paths = host_socket_paths();
    assert!(paths.contains(&ours.path), "{paths:?}");
    let script = format!(
        "import socket\n\
         for p in {:?}:\n\
         \x20   for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):\n\
         \x20       s = socket.socket(socket.AF_UNIX, kind)\n\
         \x20       try:\n\
         \x20           s.connect(p); s.send(b'leak'); print('reached', p, kind)\n\
         \x20       except OSError: pass\n\
         \x20       s.close()\n\
         print('tried', {})\n",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>(),
        paths.len()
    );
    for (who, cmd) in [("root", Some(ns(&w))), ("nobody", ns_as_nobody(&w))] {
        let Some(cmd) = cmd else { continue };
        let out = python(cmd, &script);
        assert_eq!(
            stdout(&out),
            format!("tried {}\n", paths.len()),
            "{who}: {}",
            text(&out)
        );
    }
    assert_eq!(ours.accepted(), 0);
    assert_nothing_escaped(&w, "host sockets");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn working_directory_home_and_opt_in_sockets() {
    let Some(w) = world() else { return };
    // A working directory under masked /tmp is bound back in, with its files.
    let cwd = Path::new("/tmp").join(format!("tsrs-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::set_permissions(&cwd, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::fs::write(cwd.join("mine.txt"), "my file\n").unwrap();
    let shared = Relay::start(cwd.join("shared.sock"), &w.host);
    let other = Relay::start(cwd.join("other.sock"), &w.host);
    let home = scratch("home");
    std::fs::write(home.join(".profile-test"), "home file\n").unwrap();
    let script =
        "pwd; cat mine.txt; echo new > made.txt; cat $HOME/.profile-test; ls -A /tmp | wc -l\n\
                  python3 -c \"$CONNECT\"\n";
    let out = ns(&w)
        .arg("--allow-socket")
        .arg(&shared.path)
        .arg("--home")
        .arg(&home)
        .arg("--setenv")
        .arg(format!(
            "CONNECT={}",
            connect_each(&[shared.path.as_path(), other.path.as_path()])
        ))
        .args(["--", "sh", "-c", script])
        .current_dir(&cwd)
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(
        s.starts_with(&format!("{}\nmy file\nhome file\n1\n", cwd.display())),
        "{}",
        text(&out)
    );
    assert!(
        s.contains(&format!("reached {}", shared.path.display())),
        "{s}"
    );
    assert!(
        s.contains(&format!("refused {}", other.path.display())),
        "{s}"
    );
    assert_eq!(
        std::fs::read_to_string(cwd.join("made.txt")).unwrap(),
        "new\n"
    );
    assert_eq!((shared.accepted(), other.accepted()), (1, 0));
    // The opted-in relay did its job — the user's choice, documented as such.
    let (datagrams, _) = w.host.received();
    assert_eq!(datagrams.len(), 1, "{datagrams:?}");
    let _ = std::fs::remove_dir_all(&cwd);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
#[cfg(target_arch = "x86_64")] // the system-call numbers below
fn the_callers_session_keyring_stays_outside() {
    let Some(w) = world() else { return };
    // The caller puts a secret in its session keyring, then starts the sandbox; the
    // command searches every keyring it can name for it.
    let script = "import ctypes, os, sys\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         SESSION, SEARCH = -3, 10\n\
         key = libc.syscall(248, b'user', b'tsrs-secret', b'hunter2', 7, SESSION)\n\
         assert key > 0, ctypes.get_errno()\n\
         found = libc.syscall(250, SEARCH, SESSION, b'user', b'tsrs-secret', 0)\n\
         print('outside', found > 0, flush=True)\n\
         os.execv(sys.argv[1], sys.argv[1:])\n";
    let inside = "import ctypes\n\
                  libc = ctypes.CDLL(None, use_errno=True)\n\
                  for ring in (-3, -4, -5, -2, -1):\n\
                  \x20   if libc.syscall(250, 10, ring, b'user', b'tsrs-secret', 0) > 0: print('found in', ring)\n\
                  print('searched')\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(bin("torsocks-ns"))
        .args([
            "-P",
            &w.mock.addr().port().to_string(),
            "--",
            "python3",
            "-c",
            inside,
        ])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "outside True\nsearched\n", "{}", text(&out));
}

#[test]
fn the_command_cannot_type_into_the_callers_terminal() {
    let Some(w) = world() else { return };
    // On its controlling terminal, TIOCSTI would queue a command line for the caller's
    // shell to run once the sandbox has ended.
    let inside = "import fcntl, termios\n\
                  try:\n\
                  \x20   for c in b'echo INJECTED\\n': fcntl.ioctl(0, termios.TIOCSTI, bytes([c]))\n\
                  \x20   print('injected')\n\
                  except OSError as e: print('tiocsti errno', e.errno)\n";
    let on_a_terminal = "import os, pty, select, sys, time\n\
                         pid, fd = pty.fork()\n\
                         if pid == 0: os.execv(sys.argv[1], sys.argv[1:])\n\
                         out, deadline = b'', time.time() + 20\n\
                         while time.time() < deadline:\n\
                         \x20   r, _, _ = select.select([fd], [], [], 1)\n\
                         \x20   if not r: continue\n\
                         \x20   try: data = os.read(fd, 4096)\n\
                         \x20   except OSError: break\n\
                         \x20   if not data: break\n\
                         \x20   out += data\n\
                         os.waitpid(pid, 0)\n\
                         sys.stdout.write(out.decode(errors='replace'))\n";
    let run = |sandboxed: bool| {
        let mut cmd = Command::new("python3");
        cmd.args(["-c", on_a_terminal]);
        if sandboxed {
            cmd.arg(bin("torsocks-ns")).args([
                "-P",
                &w.mock.addr().port().to_string(),
                "--",
                "python3",
            ]);
        } else {
            cmd.arg(require::find_program("python3").unwrap());
        }
        cmd.args(["-c", inside])
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .output()
            .unwrap()
    };
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti")
        .map(|v| v.trim() == "1")
        .unwrap_or(true);
    if legacy {
        let outside = run(false);
        assert!(stdout(&outside).contains("injected"), "{}", text(&outside));
    }
    let out = run(true);
    assert!(stdout(&out).contains("tiocsti errno 1"), "{}", text(&out));
}

#[test]
fn the_callers_job_cannot_be_signalled() {
    let Some(w) = world() else { return };
    // A job of its own, as a shell would start it: a sibling of torsocks-ns shares its
    // process group. kill(0, ...) from the sandbox must not reach the sibling.
    let dir = scratch("job");
    let pid_file = dir.join("sibling");
    let script = format!(
        "sleep 600 >/dev/null 2>&1 & echo $! > {pid}; {ns} -P {port} -- sh -c 'kill -TERM 0; kill -KILL 0'; echo status=$?",
        pid = pid_file.display(),
        ns = bin("torsocks-ns").display(),
        port = w.mock.addr().port()
    );
    let out = {
        use std::os::unix::process::CommandExt;
        Command::new("sh")
            .args(["-c", &script])
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .process_group(0)
            .output()
            .unwrap()
    };
    let sibling: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = Path::new(&format!("/proc/{sibling}")).exists()
        && !std::fs::read_to_string(format!("/proc/{sibling}/stat"))
            .unwrap_or_default()
            .contains(") Z");
    #[allow(unsafe_code)]
    // SAFETY: kill of the sibling this test started, by PID.
    unsafe {
        libc::kill(sibling, libc::SIGKILL);
    }
    assert!(
        alive,
        "the sandbox killed a process of the caller's job: {}",
        text(&out)
    );
    assert!(stdout(&out).contains("status=143"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

// The sandbox's own SOCKS port cannot be turned back on the host: a CONNECT naming this
// machine (loopback by address or name, the unspecified address) is refused there with
// REP 02, as Tor refuses it; the world's mock Tor, which would relay it to the host's
// loopback, never sees it, and the host service is never reached.
#[test]
fn the_socks_port_cannot_reach_the_hosts_own_services() {
    let Some(w) = world() else { return };
    // A host service on every address: loopback, and the host's own interfaces.
    let service = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    service.set_nonblocking(true).unwrap();
    let port = service.local_addr().unwrap().port();
    // The attack works without the sandbox's refusal: straight to the mock, it relays,
    // to loopback and to the host's own interface address alike.
    for ip in [[127, 0, 0, 1], w.host.host_ip().octets()] {
        let direct = std::net::TcpStream::connect(w.mock.addr()).and_then(|mut s| {
            s.write_all(&[5, 1, 0])?;
            let mut r = [0u8; 2];
            s.read_exact(&mut r)?;
            let mut req = vec![5, 1, 0, 1];
            req.extend_from_slice(&ip);
            req.extend_from_slice(&port.to_be_bytes());
            s.write_all(&req)?;
            let mut reply = [0u8; 10];
            s.read_exact(&mut reply)?;
            Ok(reply[1])
        });
        assert_eq!(direct.unwrap(), 0, "the mock relays to {ip:?}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while service.accept().is_err() {
            assert!(
                Instant::now() < deadline,
                "the positive control reached nothing"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host_ip = w.host.host_ip().octets();
    let before = w.mock.requests().len();
    let script = format!(
        "import socket, struct\n\
         def ask(atyp, addr):\n\
         \x20   s = socket.create_connection(('127.0.0.1', 9050), timeout=10)\n\
         \x20   s.sendall(b'\\x05\\x01\\x00'); assert s.recv(2) == b'\\x05\\x00'\n\
         \x20   s.sendall(b'\\x05\\x01\\x00' + bytes([atyp]) + addr + struct.pack('>H', {port}))\n\
         \x20   return s.recv(10)[1]\n\
         name = lambda n: bytes([len(n)]) + n\n\
         print([ask(1, bytes([127, 0, 0, 1])), ask(1, bytes([127, 1, 2, 3])), ask(1, bytes(4)),\n\
         \x20      ask(4, bytes(15) + b'\\x01'), ask(3, name(b'localhost')),\n\
         \x20      ask(3, name(b'LocalHost.')), ask(3, name(b'x.localhost')),\n\
         \x20      ask(3, name(b'127.0.0.1')), ask(3, name(b'2130706433')),\n\
         \x20      ask(3, name(b'0x7f.1')), ask(3, name(b'localhost\\x00.example')),\n\
         \x20      ask(3, name(b'127.0.0.1 x')), ask(3, name(b'::ffff:0.0.0.0')),\n\
         \x20      ask(4, bytes(10) + b'\\xff\\xff' + bytes(4)), ask(1, bytes({host_ip:?})),\n\
         \x20      ask(3, name(b'{host_dotted}')), ask(3, name(b'{hostname}'))])\n",
        host_dotted = std::net::Ipv4Addr::from(host_ip),
        hostname = hostname.trim()
    );
    let out = python(ns(&w), &script);
    assert_eq!(
        stdout(&out).trim(),
        "[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]",
        "{}",
        text(&out)
    );
    assert!(service.accept().is_err(), "a host service was reached");
    // The mock chooses SOCKS authentication as Tor does: no notice that it is not Tor
    // (one that does not is `a_socks_server_without_authentication_is_served`).
    assert!(
        !stderr(&out).contains("does not answer as Tor does"),
        "{}",
        text(&out)
    );
    let asked: Vec<_> = w.mock.requests()[before..]
        .iter()
        .filter(|r| r.command == Some(1))
        .cloned()
        .collect();
    assert!(asked.is_empty(), "refused before Tor: {asked:?}");
}

// The same refusal for the sandbox's own connections: with --automap a name such as
// `db.localhost` (which some resolvers take for loopback) travels to Tor as a name, and
// is refused before Tor instead.
#[test]
fn names_of_this_machine_are_refused_for_automapped_connections() {
    let Some(w) = world() else { return };
    let script = "import socket\n\
                  for name in ['db.localhost', 'target.test']:\n\
                  \x20   try:\n\
                  \x20       socket.create_connection((name, 80), timeout=10).close(); print(name, 'open')\n\
                  \x20   except ConnectionRefusedError:\n\
                  \x20       print(name, 'refused')\n";
    let mut cmd = ns(&w);
    cmd.arg("--automap");
    let out = python(cmd, script);
    assert_eq!(
        stdout(&out),
        "db.localhost refused\ntarget.test open\n",
        "{}",
        text(&out)
    );
    let connects: Vec<_> = w
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.command == Some(1))
        .collect();
    assert!(
        connects
            .iter()
            .all(|r| r.host.as_deref() != Some("db.localhost"))
            && connects
                .iter()
                .any(|r| r.host.as_deref() == Some("target.test")),
        "{connects:?}"
    );
}
