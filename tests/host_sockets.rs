//! Namespace mode against a hostile program: the host's sockets (Unix services of the same
//! user, a tmux server, nscd, every socket the host has) are out of reach, but for what
//! the user shares. "Nothing escaped" is read on the target host's side (its UDP sink and
//! HTTP log) or on the side of the host service attacked; where a test can, it first
//! shows the same attack working from outside the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use torsocks_testkit::install::bin;
use torsocks_testkit::output::{stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::{python, scratch};
use torsocks_testkit::target_host::TargetHost;
use torsocks_testkit::world::World;

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
    let Some(w) = World::with_tun() else { return };
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

    for (who, cmd) in [("root", Some(w.ns())), ("nobody", w.ns_as_nobody())] {
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
        w.assert_nothing_escaped(who);
    }
    let _ = std::fs::remove_dir_all(&tmp_dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tmux_server_of_the_same_user_is_out_of_reach() {
    let Some(w) = World::with_tun() else { return };
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

    let out = w
        .ns()
        .arg("--")
        .arg(&tmux)
        .arg("-S")
        .arg(&socket)
        .args(["run-shell", &leak("via-tmux-inside")])
        .output()
        .unwrap();
    let _ = tmux_cmd(&["kill-server"]).status();
    assert!(!out.status.success(), "{}", text(&out));
    w.assert_nothing_escaped("tmux");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nscd_is_never_asked() {
    let Some(w) = World::with_tun() else { return };
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
    let Some(w) = World::with_tun() else { return };
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
    for (who, cmd) in [("root", Some(w.ns())), ("nobody", w.ns_as_nobody())] {
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
    w.assert_nothing_escaped("host sockets");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn working_directory_home_and_opt_in_sockets() {
    let Some(w) = World::with_tun() else { return };
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
    let out = w
        .ns()
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
