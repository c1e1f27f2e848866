//! The launcher's own user, mount, IPC and UTS namespaces, whose root is an empty,
//! read-only tmpfs: no file of the host can be opened, whatever path is asked for. The
//! network namespace stays the host's, where Tor's ports are.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{Gid, Uid};

use super::error::{ConfineError, Step};

/// Whom the launcher becomes in the host's user namespace before it leaves it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Account {
    pub uid: Uid,
    pub gid: Gid,
}

/// How far the namespaces went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entered {
    /// Own user namespace, root an empty tmpfs.
    EmptyRoot,
    /// The kernel refused a user namespace (the reason): the host's file system stays
    /// visible, and only Landlock (where the kernel has it) keeps it out of reach.
    Refused(String),
}

/// A root-run becomes `account` first (supplementary groups, gid, then uid: every
/// capability of the host's namespace goes with the uid); anyone else is already
/// unprivileged. Then the new namespaces.
pub(super) fn enter(account: Option<Account>) -> Result<Entered, ConfineError> {
    if let Some(account) = account {
        become_account(account)?;
    }
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    if let Err(errno) = unshare(flags) {
        return Ok(Entered::Refused(format!("a user namespace: {errno}")));
    }
    // No id maps: writing them would need the launcher dumpable for a moment, and
    // nothing needs them (its ids stay the host's for signals; the namespace's
    // capabilities, needed for the mounts, come with creating it).
    match empty_root() {
        Ok(()) => Ok(Entered::EmptyRoot),
        Err(why) => Ok(Entered::Refused(why.to_string())),
    }
}

fn become_account(account: Account) -> Result<(), ConfineError> {
    nix::unistd::setgroups(&[]).map_err(ConfineError::at(Step::Groups))?;
    nix::unistd::setresgid(account.gid, account.gid, account.gid)
        .map_err(ConfineError::at(Step::Group(account.gid.as_raw())))?;
    nix::unistd::setresuid(account.uid, account.uid, account.uid)
        .map_err(ConfineError::at(Step::User(account.uid.as_raw())))
}

/// Every mount private, an empty read-only tmpfs (two inodes, no blocks) mounted and
/// made the root, the host's tree detached from under it.
fn empty_root() -> Result<(), ConfineError> {
    let fail = |what: &'static str| {
        move |e: nix::errno::Errno| ConfineError::new(Step::EmptyRoot(what), e)
    };
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(fail("making mounts private"))?;
    // Any directory serves as the mount point: the mount is this namespace's alone.
    let point = ["/tmp", "/"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_dir())
        .unwrap_or("/");
    mount(
        Some("tmpfs"),
        point,
        Some("tmpfs"),
        MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_RDONLY,
        Some("nr_inodes=2,nr_blocks=0,mode=0500"),
    )
    .map_err(fail("tmpfs"))?;
    nix::unistd::chdir(point).map_err(fail("entering it"))?;
    nix::unistd::pivot_root(".", ".").map_err(fail("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(fail("detaching the host's tree"))?;
    nix::unistd::chdir("/").map_err(fail("entering it"))
}
