//! Namespace mode against a hostile program: root inside cannot undo the sandbox, socket
//! families without a namespace scope are refused, and --user runs the command as that
//! user.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::process::Command;
use torsocks_testkit::install::bin;
use torsocks_testkit::output::{stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::python;
use torsocks_testkit::world::World;

#[test]
fn socket_families_no_namespace_scopes_are_refused() {
    let Some(w) = World::with_tun() else { return };
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
    for (who, cmd) in [("root", Some(w.ns())), ("nobody", w.ns_as_nobody())] {
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
    let Some(w) = World::with_tun() else { return };
    let script = "umount /etc/resolv.conf; umount -l /tmp; umount -l /run; umount -l /proc\n\
                  mount -o remount,rw /etc/resolv.conf; mount -t tmpfs none /mnt\n\
                  echo 'nameserver 192.0.2.1' > /etc/resolv.conf\n\
                  unshare -m sh -c 'umount -l /tmp' && echo unshared\n\
                  unshare -Urm sh -c 'umount -l /tmp && echo nested-umount'\n\
                  echo resolv: $(grep nameserver /etc/resolv.conf)\n\
                  echo tmp: $(ls -A /tmp | wc -l)\n\
                  grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status\n\
                  echo groups: $(id -G)\n";
    let out = w
        .ns()
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
    w.assert_nothing_escaped("root");
}

#[test]
fn another_user_with_user() {
    let Some(w) = World::with_tun() else { return };
    let out = w
        .ns()
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
    let out = w
        .ns()
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
