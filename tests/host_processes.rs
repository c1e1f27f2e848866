//! Namespace mode against a hostile program: the host's processes, the caller's job and
//! terminal and session keyring are out of reach, and nothing the program starts outlives
//! the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use torsocks_testkit::install::bin;
use torsocks_testkit::output::{stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::sandbox::scratch;
use torsocks_testkit::wait::until;
use torsocks_testkit::world::World;

#[test]
fn host_processes_cannot_be_signalled() {
    let Some(w) = World::with_tun() else { return };
    let mut victim = Command::new("sleep").arg("600").spawn().unwrap();
    let pid = victim.id();
    let script = format!(
        "kill -STOP {pid} 2>/dev/null && echo stopped; kill -KILL {pid} 2>/dev/null && echo killed; \
         kill -STOP -1 2>/dev/null; echo done"
    );
    let out = w.ns().args(["--", "sh", "-c", &script]).output().unwrap();
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
    until(Duration::from_secs(10), || processes_with(tag).is_empty());
    processes_with(tag)
}

#[test]
fn nothing_outlives_the_sandbox() {
    let Some(w) = World::with_tun() else { return };
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
        let mut launcher = w
            .ns()
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
        until(Duration::from_secs(10), || sleeps() >= 2);
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
#[cfg(target_arch = "x86_64")] // the system-call numbers below
fn the_callers_session_keyring_stays_outside() {
    let Some(w) = World::with_tun() else { return };
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
    let Some(w) = World::with_tun() else { return };
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
    let Some(w) = World::with_tun() else { return };
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
