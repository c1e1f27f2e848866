//! The system call of a join: `setns` into the namespaces of a process of the sandbox,
//! all at once through its pidfd ([`crate::ns::pidfd`]) (the kernel enters the user
//! namespace first, and refuses a caller who may not read the process as a debugger would, or
//! has no CAP_SYS_ADMIN over its namespaces: another user's sandbox).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// Every namespace of a sandbox.
const ALL: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWTIME;

/// Enters every namespace of the process behind `pidfd` (a process of the sandbox).
/// A user namespace that is this process's own (a root-run without one) cannot be
/// entered again, and a kernel without time namespaces has none: each is left out in
/// turn when the kernel says EINVAL.
pub(crate) fn enter_all(pidfd: &OwnedFd) -> io::Result<()> {
    let mut last = io::Error::from_raw_os_error(libc::EINVAL);
    for flags in [
        ALL,
        ALL & !libc::CLONE_NEWUSER,
        ALL & !libc::CLONE_NEWTIME,
        ALL & !libc::CLONE_NEWUSER & !libc::CLONE_NEWTIME,
    ] {
        match enter(pidfd, flags) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = e,
            done => return done,
        }
    }
    Err(last)
}

/// Enters the namespaces `flags` names of the process behind `pidfd`.
pub(crate) fn enter(pidfd: &OwnedFd, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: a valid pidfd and integer flags.
    let rc = unsafe { libc::setns(pidfd.as_raw_fd(), flags) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
