//! Each filter applied in a forked child, which then tries what it forbids: the child
//! must die of SIGSYS (seccomp) or get EACCES (Landlock), and what the loop needs must
//! still work. The same calls are first shown to work in a child without the filter.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::net::TcpListener;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use super::landlock::{restrict, Enforced};
use super::seccomp::{launcher_filter, name, OnRefusal, Reach};

/// Runs `attempt` in a forked child after `confine`; the child exits with `attempt`'s
/// value (`confine` failing: 99).
fn in_child(confine: impl FnOnce() -> bool, attempt: impl FnOnce() -> i32) -> WaitStatus {
    let _forking = crate::FORKS.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the child runs only the two closures, which make system calls and small
    // allocations (glibc's malloc is fork-safe), then _exits.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = if confine() { attempt() } else { 99 };
            // SAFETY: ends the child without unwinding into the test harness.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => waitpid(child, None).expect("waitpid"),
    }
}

fn seccomp(reach: Reach) -> impl FnOnce() -> bool {
    let filter = launcher_filter(&reach, OnRefusal::Kill).expect("the filter compiles");
    move || seccompiler::apply_filter(&filter).is_ok()
}

fn no_confinement() -> bool {
    true
}

fn killed_by_seccomp(status: WaitStatus) -> bool {
    matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _))
}

/// The raw call's result: 0 when it succeeded, its errno otherwise.
fn errno_of(rc: libc::c_long) -> i32 {
    match rc {
        rc if rc >= 0 => 0,
        _ => std::io::Error::last_os_error().raw_os_error().unwrap_or(-1),
    }
}

/// A call tried in a child: what it is, and the attempt (its exit code).
type Attempt = (&'static str, Box<dyn Fn() -> i32>);

/// Calls the launcher never makes once confined, each able to reach past it.
fn forbidden_calls() -> Vec<Attempt> {
    let passwd = CString::new("/etc/passwd").unwrap();
    let true_ = CString::new("/bin/true").unwrap();
    vec![
        (
            "openat a host file",
            Box::new(move || {
                // SAFETY: a valid C string and flags; the fd (if any) is the child's.
                errno_of(unsafe {
                    libc::syscall(
                        libc::SYS_openat,
                        libc::AT_FDCWD,
                        passwd.as_ptr(),
                        libc::O_RDONLY,
                    )
                })
            }),
        ),
        (
            "execve",
            Box::new(move || {
                let argv = [true_.as_ptr(), std::ptr::null()];
                // SAFETY: valid argv and an empty environment.
                errno_of(unsafe {
                    libc::syscall(
                        libc::SYS_execve,
                        true_.as_ptr(),
                        argv.as_ptr(),
                        [std::ptr::null::<libc::c_char>()].as_ptr(),
                    )
                } as libc::c_long)
            }),
        ),
        (
            "ptrace",
            Box::new(|| {
                // SAFETY: PTRACE_TRACEME takes no pointers.
                errno_of(unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0) })
            }),
        ),
        (
            "a unix socket",
            Box::new(|| {
                // SAFETY: integer arguments; the fd is the child's.
                errno_of(unsafe {
                    libc::syscall(libc::SYS_socket, libc::AF_UNIX, libc::SOCK_STREAM, 0)
                })
            }),
        ),
        (
            "a UDP socket",
            Box::new(|| {
                // SAFETY: as above.
                errno_of(unsafe {
                    libc::syscall(libc::SYS_socket, libc::AF_INET, libc::SOCK_DGRAM, 0)
                })
            }),
        ),
        (
            "a packet socket",
            Box::new(|| {
                // SAFETY: as above (EPERM without the capability, when allowed).
                errno_of(unsafe {
                    libc::syscall(libc::SYS_socket, libc::AF_PACKET, libc::SOCK_RAW, 0)
                })
            }),
        ),
        (
            "a signal to a process not its own",
            Box::new(|| {
                // SAFETY: signal 0 only asks whether init exists.
                errno_of(unsafe { libc::syscall(libc::SYS_kill, 1, 0) })
            }),
        ),
        (
            "executable memory",
            Box::new(|| {
                // SAFETY: a fresh anonymous mapping, unmapped again when it succeeds.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        4096,
                        libc::PROT_READ | libc::PROT_EXEC,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    return 1;
                }
                // SAFETY: the mapping just made.
                unsafe { libc::munmap(p, 4096) };
                0
            }),
        ),
        (
            "a new user namespace",
            Box::new(|| {
                // SAFETY: integer arguments.
                errno_of(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) })
            }),
        ),
        (
            "a thread or a process",
            Box::new(|| {
                // SAFETY: fork's child _exits at once.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    // SAFETY: ends the new child at once.
                    unsafe { libc::_exit(0) }
                }
                i32::from(pid < 0)
            }),
        ),
    ]
}

#[test]
fn the_launchers_filter_kills_on_every_call_it_does_not_list() {
    for (what, attempt) in forbidden_calls() {
        let free = in_child(no_confinement, &attempt);
        assert!(
            matches!(free, WaitStatus::Exited(..)),
            "{what}: without the filter the call returns ({free:?})"
        );
        let confined = in_child(seccomp(Reach::default()), &attempt);
        assert!(killed_by_seccomp(confined), "{what}: {confined:?}");
    }
}

#[test]
fn what_the_loop_needs_passes_the_filter() {
    let (listener, target) = (
        TcpListener::bind("127.0.0.1:0").unwrap(),
        std::process::id() as i32,
    );
    let port = listener.local_addr().unwrap().port();
    let reach = Reach {
        signal_targets: vec![target],
        own_pid: 0,
        unix_stream: false,
    };
    let status = in_child(seccomp(reach), move || {
        // A TCP connection to Tor's port, sock_diag, a unix pair, a signal to PID 1
        // (here the test process, with signal 0), memory without exec.
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        // SAFETY: integer arguments; the fds are the child's.
        let diag = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        } >= 0;
        let pair = std::os::unix::net::UnixStream::pair().is_ok();
        // SAFETY: signal 0 to the test process only checks it exists.
        let signal = unsafe { libc::kill(target, 0) } == 0;
        let memory = vec![0u8; 1 << 20].len() == 1 << 20;
        let all = [tcp, diag, pair, signal, memory];
        all.iter().rposition(|ok| !ok).map_or(0, |i| 10 + i as i32)
    });
    assert_eq!(
        status,
        WaitStatus::Exited(status.pid().unwrap(), 0),
        "10 + the failed step"
    );
}

#[test]
fn a_refused_call_is_named() {
    assert_eq!(name(libc::SYS_openat), Some("SYS_openat"));
    assert_eq!(name(libc::SYS_read), Some("SYS_read"));
    assert_eq!(name(-5), None);
}

#[test]
fn landlock_leaves_no_file_and_only_tors_port() {
    let tor = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let (tor_port, other_port) = (
        tor.local_addr().unwrap().port(),
        other.local_addr().unwrap().port(),
    );
    let attempt = move || {
        let file = std::fs::File::open("/etc/passwd").map_err(|e| e.raw_os_error());
        let other =
            std::net::TcpStream::connect(("127.0.0.1", other_port)).map_err(|e| e.raw_os_error());
        let tor = std::net::TcpStream::connect(("127.0.0.1", tor_port)).is_ok();
        let bind = TcpListener::bind("127.0.0.1:0").map_err(|e| e.raw_os_error());
        match (file, other, tor, bind) {
            (Err(Some(libc::EACCES)), Err(Some(libc::EACCES)), true, Err(Some(libc::EACCES))) => 0,
            (Ok(_), Ok(_), true, Ok(_)) => 1,
            _ => 2,
        }
    };
    let free = in_child(no_confinement, attempt);
    assert_eq!(
        free,
        WaitStatus::Exited(free.pid().unwrap(), 1),
        "all of it works unconfined"
    );
    let landlocked = in_child(
        move || restrict(&[tor_port]).is_ok_and(|e| e == Enforced::Fully),
        attempt,
    );
    let code = match landlocked {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    };
    if code == 99 {
        eprintln!("this kernel does not enforce Landlock fully: nothing more to test");
        return;
    }
    assert_eq!(
        code, 0,
        "the file, the other port and the bind refused; Tor's port reached"
    );
}

/// A SOCKS port on a Unix socket: the filter lets a Unix stream through only then,
/// Landlock (no TCP port at all) leaves it, and the empty root holds that socket at
/// its own path and no other file.
#[test]
fn tors_unix_socket_is_reached_through_every_wall_and_nothing_else() {
    let dir = std::env::temp_dir().join(format!("confine-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("socks");
    let _tor = std::os::unix::net::UnixListener::bind(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let other_tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_port = other_tcp.local_addr().unwrap().port();
    let socket = path.clone();
    let attempt = move || {
        let unix = std::os::unix::net::UnixStream::connect(&socket).is_ok();
        let tcp = std::net::TcpStream::connect(("127.0.0.1", tcp_port)).is_err();
        i32::from(!unix) + 2 * i32::from(!tcp)
    };
    let reach = |unix_stream| Reach {
        unix_stream,
        ..Reach::default()
    };
    let refused = in_child(seccomp(reach(false)), attempt.clone());
    assert!(killed_by_seccomp(refused), "{refused:?}");
    let socket = path.clone();
    let walls = move || {
        // As a root-run's launcher is: another user (root could not map its ids).
        let nobody = super::Account {
            uid: nix::unistd::Uid::from_raw(65534),
            gid: nix::unistd::Gid::from_raw(65534),
        };
        let account = nix::unistd::getuid().is_root().then_some(nobody);
        let entered_how = super::namespaces::enter(account, Some(&socket));
        let entered = matches!(entered_how, Ok(super::Entered::EmptyRoot));
        // Only the first directory of the socket's path, and no host file.
        let root_holds = std::fs::read_dir("/").map(|d| d.count()).ok() == Some(1)
            && std::fs::metadata("/etc/passwd").is_err();
        let landlock = restrict(&[]).is_ok();
        let filter = launcher_filter(&reach(true), OnRefusal::Kill).expect("the filter");
        entered && root_holds && landlock && seccompiler::apply_filter(&filter).is_ok()
    };
    let confined = in_child(walls, attempt);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        confined,
        WaitStatus::Exited(confined.pid().unwrap(), 0),
        "99: a wall failed to go up; 1: the socket unreached; 2: another TCP port reached"
    );
}

#[cfg(feature = "embedded-tor")]
mod embedded_client {
    use super::*;
    use crate::confine::landlock::restrict_client;
    use crate::confine::seccomp::client_filters;

    fn seccomp() -> impl FnOnce() -> bool {
        let filters = client_filters(OnRefusal::Kill).expect("the filters compile");
        move || filters.iter().all(|f| seccompiler::apply_filter(f).is_ok())
    }

    #[test]
    fn its_filter_kills_on_what_reaches_past_it() {
        // Files are Landlock's to limit (the client has a directory cache to write).
        for (what, attempt) in forbidden_calls().into_iter().skip(1) {
            let free = in_child(no_confinement, &attempt);
            assert!(matches!(free, WaitStatus::Exited(..)), "{what}: {free:?}");
            let confined = in_child(seccomp(), &attempt);
            assert!(killed_by_seccomp(confined), "{what}: {confined:?}");
        }
    }

    #[test]
    fn threads_files_and_connections_pass_its_filter() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("confine-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("state.json");
        let status = in_child(seccomp(), move || {
            // A thread (clone3 refused with ENOSYS, the C library falls back to clone
            // with CLONE_THREAD), a file written and read, a relay's TCP connection.
            let thread = std::thread::spawn(|| 7).join().is_ok_and(|n| n == 7);
            let written = std::fs::write(&file, b"{}").is_ok();
            let read = std::fs::read(&file).is_ok_and(|b| b == b"{}");
            let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            let all = [thread, written, read, tcp];
            all.iter().rposition(|ok| !ok).map_or(0, |i| 10 + i as i32)
        });
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            status,
            WaitStatus::Exited(status.pid().unwrap(), 0),
            "10 + the failed step"
        );
    }

    #[test]
    fn landlock_leaves_its_directories_and_any_port() {
        let base = std::env::temp_dir().join(format!("confine-landlock-{}", std::process::id()));
        let (state, cache) = (base.join("state"), base.join("cache"));
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        let relay = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = relay.local_addr().unwrap().port();
        // A fixed port to bind: one just freed.
        let fixed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let own = state.join("keys");
        let attempt = move || {
            let own = std::fs::write(&own, b"k").is_ok();
            let host = std::fs::File::open("/etc/passwd").map_err(|e| e.raw_os_error());
            let relay = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            let ephemeral = TcpListener::bind("127.0.0.1:0").is_ok();
            let bind = TcpListener::bind(("127.0.0.1", fixed)).map_err(|e| e.raw_os_error());
            match (own, host, relay, ephemeral, bind) {
                (true, Err(Some(libc::EACCES)), true, true, Err(Some(libc::EACCES))) => 0,
                (true, Ok(_), true, true, Ok(_)) => 1,
                _ => 2,
            }
        };
        let free = in_child(no_confinement, attempt.clone());
        assert_eq!(
            free,
            WaitStatus::Exited(free.pid().unwrap(), 1),
            "unconfined"
        );
        let dirs = [state.clone(), cache.clone()];
        let landlocked = in_child(
            move || restrict_client(Some([&dirs[0], &dirs[1]])).is_ok_and(|e| e == Enforced::Fully),
            attempt,
        );
        let _ = std::fs::remove_dir_all(&base);
        match landlocked {
            WaitStatus::Exited(_, 99) => {
                eprintln!("this kernel does not enforce Landlock fully: nothing more to test")
            }
            WaitStatus::Exited(_, code) => assert_eq!(
                code, 0,
                "its own file written; the host's file and a fixed bind refused; a relay reached"
            ),
            other => panic!("{other:?}"),
        }
    }
}
