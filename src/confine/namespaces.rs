//! The launcher's own user, mount, IPC and UTS namespaces, whose root is an empty,
//! read-only tmpfs: no file of the host can be opened, whatever path is asked for. The
//! network namespace stays the host's, where Tor's ports are. A SOCKS port on a Unix
//! socket is the one host file in it: that socket, bound at its own path.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path};

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
/// unprivileged. Then the new namespaces, whose root has `socket` (Tor's SOCKS port
/// on a Unix socket) and nothing else.
pub(super) fn enter(
    account: Option<Account>,
    socket: Option<&Path>,
) -> Result<Entered, ConfineError> {
    if let Some(account) = account {
        become_account(account, socket)?;
    }
    if let Some(path) = socket {
        // Write access is what connect needs; said now, not as a refused connection.
        nix::unistd::access(path, nix::unistd::AccessFlags::W_OK)
            .map_err(ConfineError::at(Step::TorSocket(path.to_path_buf())))?;
    }
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    if let Err(errno) = unshare(flags) {
        return Ok(Entered::Refused(format!("a user namespace: {errno}")));
    }
    // Id maps only for Tor's socket: writing them needs the launcher dumpable for a
    // moment, and nothing else needs them (the namespace's capabilities, needed for
    // the mounts, come with creating it). The socket's mount point is a file, which
    // the kernel creates only for an owner mapped in the namespace.
    if socket.is_some() {
        if let Err(why) = map_own_ids() {
            return Ok(Entered::Refused(why.to_string()));
        }
    }
    match empty_root(socket) {
        Ok(()) => Ok(Entered::EmptyRoot),
        Err(why) => Ok(Entered::Refused(why.to_string())),
    }
}

/// Its own uid and gid mapped to themselves in its new user namespace (the only map
/// an unprivileged process may write, and only while its /proc files are its own).
fn map_own_ids() -> Result<(), ConfineError> {
    let step = Step::EmptyRoot("mapping its ids");
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    nix::sys::prctl::set_dumpable(true).map_err(ConfineError::at(step.clone()))?;
    let written = std::fs::write("/proc/self/setgroups", "deny")
        .and_then(|()| std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1")))
        .and_then(|()| std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1")));
    let _ = nix::sys::prctl::set_dumpable(false);
    written.map_err(ConfineError::at(step))
}

/// The account's uid and gid, and as its only supplementary group the group of Tor's
/// socket (Debian's `debian-tor`), which it must be able to reach; never root's.
fn become_account(account: Account, socket: Option<&Path>) -> Result<(), ConfineError> {
    use std::os::unix::fs::MetadataExt;
    let groups: Vec<Gid> = socket
        .and_then(|path| std::fs::metadata(path).ok())
        .map(|meta| Gid::from_raw(meta.gid()))
        .filter(|gid| gid.as_raw() != 0)
        .into_iter()
        .collect();
    nix::unistd::setgroups(&groups).map_err(ConfineError::at(Step::Groups))?;
    nix::unistd::setresgid(account.gid, account.gid, account.gid)
        .map_err(ConfineError::at(Step::Group(account.gid.as_raw())))?;
    nix::unistd::setresuid(account.uid, account.uid, account.uid)
        .map_err(ConfineError::at(Step::User(account.uid.as_raw())))
}

/// Every mount private, an empty tmpfs (two inodes, no blocks; with `socket`, that
/// socket bound at its own path, and the directories above it) made read-only and the
/// root, the host's tree detached from under it.
fn empty_root(socket: Option<&Path>) -> Result<(), ConfineError> {
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
    // Opened before the tmpfs may hide it (a socket under /tmp), in this namespace's
    // tree, as a bind mount's source must be.
    let socket = match socket {
        Some(path) => Some((path, open_path(path).map_err(fail("Tor's socket"))?)),
        None => None,
    };
    // Any directory serves as the mount point: the mount is this namespace's alone.
    let point = ["/tmp", "/"]
        .into_iter()
        .find(|p| Path::new(p).is_dir())
        .unwrap_or("/");
    let inodes = 2 + socket
        .as_ref()
        .map_or(0, |(path, _)| path.components().count());
    let flags = MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID;
    // Its owner must write in it to add the socket; read-only from the remount on.
    let mode = if socket.is_some() { "0700" } else { "0500" };
    let options = format!("nr_inodes={inodes},nr_blocks=0,mode={mode}");
    mount(
        Some("tmpfs"),
        point,
        Some("tmpfs"),
        flags,
        Some(options.as_str()),
    )
    .map_err(fail("tmpfs"))?;
    if let Some((path, fd)) = socket {
        bind_socket(Path::new(point), path, &fd)?;
    }
    mount(
        None::<&str>,
        point,
        None::<&str>,
        flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(fail("read-only"))?;
    nix::unistd::chdir(point).map_err(fail("entering it"))?;
    nix::unistd::pivot_root(".", ".").map_err(fail("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(fail("detaching the host's tree"))?;
    nix::unistd::chdir("/").map_err(fail("entering it"))
}

/// An `O_PATH` descriptor of `path`: a handle, not an open file.
fn open_path(path: &Path) -> Result<OwnedFd, nix::errno::Errno> {
    use nix::fcntl::{open, OFlag};
    open(
        path,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
}

/// The socket `fd` (at `path` on the host) bound at `path` beneath `root`: its
/// directories made (searchable only), an empty file as the mount point.
fn bind_socket(root: &Path, path: &Path, fd: &OwnedFd) -> Result<(), ConfineError> {
    let fail =
        |what: &'static str| move |e: std::io::Error| ConfineError::new(Step::EmptyRoot(what), e);
    let relative: std::path::PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let target = root.join(relative);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(fail("the socket's directories"))?;
    }
    std::fs::File::create(&target).map_err(fail("the socket's mount point"))?;
    let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let bind = |flags: MsFlags| {
        mount(
            Some(source.as_str()),
            &target,
            None::<&str>,
            flags,
            None::<&str>,
        )
        .map_err(|e| ConfineError::new(Step::EmptyRoot("binding Tor's socket"), e))
    };
    bind(MsFlags::MS_BIND)?;
    // A socket needs no write access to its mount to be connected to.
    let locked = MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID;
    bind(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked)
}
