//! Namespace mode against a hostile program: nothing about the host or its user is learned
//! (names, addresses, ids), no descriptor of the caller's is inherited, and the launcher
//! writes nothing on the host.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Stdio;
use torsocks_testkit::output::{stdout, text};
use torsocks_testkit::sandbox::{python, scratch};
use torsocks_testkit::world::World;

/// Clears FD_CLOEXEC so that the launcher inherits `fd`, as from a careless parent.
#[allow(unsafe_code)]
fn inheritable(fd: &impl AsRawFd) -> i32 {
    // SAFETY: fcntl on an fd this test owns; F_SETFD takes an integer.
    assert_eq!(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) }, 0);
    fd.as_raw_fd()
}

#[test]
fn inherited_sockets_are_closed() {
    let Some(w) = World::with_tun() else { return };
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
    let out = python(w.ns(), &script("leak"));
    assert_eq!(stdout(&out).matches("closed").count(), 2, "{}", text(&out));
    let (datagrams, requests) = w.host.received();
    assert!(
        datagrams.is_empty() && requests.is_empty(),
        "{datagrams:?} {requests:?}"
    );

    // --keep-fd passes them on, and then they do reach the target: the test can fail.
    let mut keep = w.ns();
    keep.args(["--keep-fd", &u.to_string(), "--keep-fd", &t.to_string()]);
    let out = python(keep, &script("kept"));
    assert_eq!(stdout(&out).matches("sent").count(), 2, "{}", text(&out));
    let (datagrams, requests) = w.host.received();
    assert_eq!(datagrams.len(), 1, "{datagrams:?}");
    assert!(requests.iter().any(|(_, p)| p == "/kept"), "{requests:?}");
}

#[test]
fn host_identity_is_hidden() {
    let Some(w) = World::with_tun() else { return };
    let script = "cat /proc/1/cmdline /proc/*/cmdline 2>/dev/null | tr '\\0' ' '; echo\n\
                  echo ifaces: $(ls /sys/class/net; ls /sys/devices/virtual/net)\n\
                  cat /proc/1/net/route /proc/net/fib_trie /proc/net/arp /proc/net/tcp /proc/net/unix\n\
                  echo host: $(hostname) $(uname -n) $(cat /proc/sys/kernel/hostname)\n\
                  echo pids: $(ls /proc | grep '^[0-9]')\n\
                  echo ids: $(cat /etc/machine-id /proc/sys/kernel/random/boot_id)\n\
                  cat /proc/1/environ >/dev/null 2>&1 && echo environ-$((6 * 7))\n\
                  env";
    let mut cmd = w.ns();
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
    let out = w
        .ns()
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
fn the_launcher_writes_nothing_on_the_host() {
    let Some(w) = World::with_tun() else { return };
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
        let mut cmd = w.ns();
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
        let mut killed = w
            .ns()
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
