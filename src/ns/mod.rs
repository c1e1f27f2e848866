//! The sandbox: a child process in new user, network and mount namespaces whose only
//! interface is a TUN device.
//!
//! [`spawn`] forks. The child unshares the namespaces (mapping the caller's own uid and
//! gid), bind-mounts a private resolv.conf, creates and configures `tun0`
//! ([`tun`], [`netconf`]), hands the TUN fd to the parent over a unix socket
//! (SCM_RIGHTS), waits for the parent's go, and execs the command with the TUN fd
//! closed. The parent keeps the fd and runs the stack. The child dies with the parent
//! (PR_SET_PDEATHSIG).
#![allow(unsafe_code)]

pub mod netconf;
pub mod tun;

use std::ffi::{CString, OsString};
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sched::{unshare, CloneFlags};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::unistd::{fork, ForkResult, Pid};

pub use netconf::NetPlan;

/// The name of the TUN interface inside the sandbox.
pub const TUN_NAME: &str = "tun0";

/// A running sandbox: the child, and the TUN device's fd.
pub struct Sandbox {
    /// The child's pid (in the caller's pid namespace).
    pub child: Pid,
    /// The TUN device.
    pub tun: OwnedFd,
    control: UnixStream,
}

impl Sandbox {
    /// Lets the child exec the command; returns its pid and the TUN device.
    pub fn go(mut self) -> std::io::Result<(Pid, OwnedFd)> {
        self.control.write_all(b"G")?;
        Ok((self.child, self.tun))
    }
}

/// What the child should run.
pub struct Program {
    /// The command line, program first (looked up on PATH).
    pub argv: Vec<OsString>,
}

/// Forks the sandboxed child and returns once its network is configured. Must be
/// called before the process starts any thread.
pub fn spawn(program: &Program, plan: &NetPlan, resolv_conf: &Path) -> Result<Sandbox, String> {
    let argv: Vec<CString> = program
        .argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).map_err(|_| "argument contains a NUL byte".to_string()))
        .collect::<Result<_, _>>()?;
    if argv.is_empty() {
        return Err("no command".into());
    }
    let (parent_end, child_end) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let parent_pid = std::process::id();
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    // SAFETY: the process has no other thread yet (see the function's contract), so the
    // child may run arbitrary code before exec.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(parent_end);
            let code = child_main(child_end, &argv, plan, resolv_conf, parent_pid, uid, gid);
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(child_end);
            let tun = receive_tun(&parent_end).inspect_err(|_| {
                let _ = nix::sys::wait::waitpid(child, None);
            })?;
            Ok(Sandbox {
                child,
                tun,
                control: parent_end,
            })
        }
    }
}

/// Receives the TUN fd, or the child's error message.
fn receive_tun(control: &UnixStream) -> Result<OwnedFd, String> {
    let mut buf = [0u8; 1024];
    let mut cmsg = nix::cmsg_space!(RawFd);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        control.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("receiving the TUN device: {e}"))?;
    let mut fd = None;
    for c in msg.cmsgs().map_err(|e| e.to_string())? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            fd = fds.first().copied();
        }
    }
    let n = msg.bytes;
    match fd {
        // SAFETY: the kernel installed this fd for us; nobody else owns it.
        Some(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        None if n > 1 && buf[0] == b'E' => Err(String::from_utf8_lossy(&buf[1..n]).into_owned()),
        None => Err("the sandbox ended before its network was ready".into()),
    }
}

/// The child: returns the exit status when something fails before exec.
fn child_main(
    mut control: UnixStream,
    argv: &[CString],
    plan: &NetPlan,
    resolv_conf: &Path,
    parent_pid: u32,
    uid: nix::unistd::Uid,
    gid: nix::unistd::Gid,
) -> i32 {
    let tun = match prepare(plan, resolv_conf, uid, gid) {
        Ok(tun) => tun,
        Err(message) => {
            let mut reply = b"E".to_vec();
            reply.extend_from_slice(message.as_bytes());
            let _ = control.write_all(&reply);
            return 1;
        }
    };
    let fds = [tun.as_raw_fd()];
    let sent = sendmsg::<()>(
        control.as_raw_fd(),
        &[IoSlice::new(b"T")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    );
    drop(tun);
    if sent.is_err() {
        return 1;
    }
    // Die with the launcher; then make sure it did not die before we asked.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if nix::unistd::getppid().as_raw() as u32 != parent_pid {
        return 1;
    }
    let mut go = [0u8; 1];
    if control.read_exact(&mut go).is_err() || go[0] != b'G' {
        return 1;
    }
    drop(control);
    let err = nix::unistd::execvp(&argv[0], argv).unwrap_err();
    let name = argv[0].to_string_lossy();
    if err == nix::errno::Errno::ENOENT {
        eprintln!("torsocks-ns: {name}: command not found");
        127
    } else {
        eprintln!("torsocks-ns: {name}: {}", err.desc());
        126
    }
}

/// Namespaces, mounts, the TUN device and its configuration.
fn prepare(
    plan: &NetPlan,
    resolv_conf: &Path,
    uid: nix::unistd::Uid,
    gid: nix::unistd::Gid,
) -> Result<OwnedFd, String> {
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)
        .map_err(userns_error)?;
    // Map the caller's own ids: the program keeps its identity, gains nothing.
    std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))
        .map_err(|e| format!("uid_map: {e}"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
        .map_err(|e| format!("gid_map: {e}"))?;

    use nix::mount::{mount, MsFlags};
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making mounts private: {e}"))?;
    let target = resolv_target();
    mount(
        Some(resolv_conf),
        &target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        format!(
            "bind-mounting a private resolv.conf over {}: {e}",
            target.display()
        )
    })?;

    let tun = tun::create(TUN_NAME).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => "/dev/net/tun is missing: load the tun module (modprobe tun)".to_string(),
        Some(libc::EACCES) | Some(libc::EPERM) => format!(
            "/dev/net/tun is not usable ({e}): it must be readable and writable by you (mode 0666 on most distributions)"
        ),
        _ => format!("creating the TUN device: {e}"),
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(netconf::configure(TUN_NAME, plan))?;
    Ok(tun)
}

/// /etc/resolv.conf, or the file it links to (the mount must cover the real file).
fn resolv_target() -> PathBuf {
    let path = PathBuf::from("/etc/resolv.conf");
    std::fs::canonicalize(&path).unwrap_or(path)
}

fn userns_error(e: nix::errno::Errno) -> String {
    let mut message = format!("cannot create the sandbox's namespaces: {}", e.desc());
    if e == nix::errno::Errno::EPERM || e == nix::errno::Errno::ENOSPC {
        message.push_str(
            ". Unprivileged user namespaces are disabled: check `sysctl user.max_user_namespaces` \
             (must be > 0), `kernel.unprivileged_userns_clone` (Debian: 1) and \
             `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu: 0, or an AppArmor profile \
             allowing userns for torsocks-ns)",
        );
    }
    message
}
