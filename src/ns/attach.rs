//! `--attach PID`: a Tor-only network for a network namespace that already exists (a
//! rootless container's, a toolbox's, one made with `unshare`). A helper forked from
//! the launcher enters the user namespace that owns it (the same user's, or any for
//! root; the kernel refuses the rest) and the network namespace, deletes every
//! interface but `lo`, makes `tun0` with the sandbox's addresses and routes, hands the
//! device to the launcher and exits. The launcher serves it as a session; when the
//! launcher ends, the device goes with its last descriptor and the namespace is left
//! with `lo` only: no network at all (fail closed).
#![allow(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use super::error::SetupError;
use super::link::{Link, LinkError, Message};
use super::{netconf, tun, NetPlan, SingleThreaded, TUN_NAME};

/// A namespace attached: its `tun0`, and the process it was reached through.
pub(crate) struct Attached {
    /// The TUN device, in the attached namespace.
    pub tun: OwnedFd,
    /// A pidfd of the attached process: readable once it has exited.
    pub pidfd: OwnedFd,
    /// The interfaces deleted.
    pub removed: Vec<String>,
}

/// Attaches the network namespace of `pid`; `net` is the sandbox's link plan.
pub(crate) fn attach(
    pid: i32,
    net: &NetPlan,
    _one: SingleThreaded,
) -> Result<Attached, SetupError> {
    let pidfd = super::pidfd(pid).map_err(SetupError::io(format_args!("--attach {pid}")))?;
    let (ours, theirs) = Link::pair().map_err(SetupError::io("a socket pair"))?;
    // SAFETY: the process has one thread (the proof is given), so the child may run
    // anything, a runtime included, before it exits.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(ours);
            let code = match set_up_inside(&pidfd, net) {
                Ok((tun, removed)) => {
                    let sent = theirs.send(&Message::Attached { removed }, &[tun.as_fd()]);
                    i32::from(sent.is_err())
                }
                Err(e) => {
                    let _ = theirs.send(&Message::SetupFailed(e.to_string()), &[]);
                    1
                }
            };
            // SAFETY: ends the helper without running the launcher's exit handlers.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(theirs);
            let answer = ours.receive();
            let _ = waitpid(child, None);
            let (removed, tun) = match answer {
                Ok((Message::Attached { removed }, fds)) => (removed, fds.into_iter().next()),
                Ok((Message::SetupFailed(why), _)) => return Err(SetupError::InSandbox(why)),
                Ok(_) | Err(LinkError::Closed | LinkError::Malformed(_)) => {
                    return Err(SetupError::Ended)
                }
                Err(LinkError::Io(e)) => return Err(SetupError::io("--attach")(e)),
            };
            let tun = tun.ok_or(SetupError::Ended)?;
            let removed = removed.split_whitespace().map(String::from).collect();
            Ok(Attached {
                tun,
                pidfd,
                removed,
            })
        }
        Err(e) => Err(SetupError::errno("fork")(e)),
    }
}

/// The helper's work inside: the namespaces entered, the way out removed, `tun0` made
/// and configured. Returns the device and the names removed.
fn set_up_inside(pidfd: &OwnedFd, net: &NetPlan) -> Result<(OwnedFd, String), SetupError> {
    let own = network_namespace()?;
    enter(pidfd)?;
    // The launcher's own network namespace (this machine's, usually) is never
    // stripped of its interfaces.
    if network_namespace()? == own {
        return Err(SetupError::Invalid(
            "--attach: that process shares torsocks-ns's own network namespace (this \
             machine's, or the one it runs in): its interfaces are not removed; give the \
             PID of a process in a namespace of its own (a container's)"
                .into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SetupError::io("runtime"))?;
    // Everything but lo goes first, so that no moment has both ways out.
    let removed = runtime.block_on(netconf::remove_all_but_lo())?;
    let tun = tun::create(TUN_NAME).map_err(SetupError::Tun)?;
    runtime.block_on(netconf::configure(TUN_NAME, net))?;
    Ok((tun, removed.join(" ")))
}

/// The identity of this process's network namespace (device and inode).
fn network_namespace() -> Result<(u64, u64), SetupError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata("/proc/self/ns/net")
        .map_err(SetupError::io("reading the network namespace"))?;
    Ok((meta.dev(), meta.ino()))
}

/// Into the user namespace that owns the target's network namespace, and that network
/// namespace. A user namespace that is already this process's (root attaching one of
/// its own) cannot be entered again: then the network namespace alone.
fn enter(pidfd: &OwnedFd) -> Result<(), SetupError> {
    let setns = |flags: libc::c_int| {
        // SAFETY: a valid pidfd and integer flags.
        let rc = unsafe { libc::setns(pidfd.as_raw_fd(), flags) };
        match rc {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    let both = libc::CLONE_NEWUSER | libc::CLONE_NEWNET;
    let entered = match setns(both) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => setns(libc::CLONE_NEWNET),
        done => done,
    };
    entered.map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => SetupError::Invalid(
            "--attach: that process's namespaces are not yours: only your own processes \
             (or, for root, any) can be attached"
                .into(),
        ),
        _ => SetupError::io("--attach: entering its namespaces")(e),
    })
}
