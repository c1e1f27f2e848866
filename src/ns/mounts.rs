//! The sandbox's mount namespace, set up by its PID 1 before the command starts: fresh
//! `/proc` and sysfs, empty tmpfs over the directories where host services keep their
//! sockets, private `resolv.conf` and `nsswitch.conf`, the user's opt-ins and working
//! directory bound back in, and every other host socket that stays visible masked.
//!
//! Order matters and follows bubblewrap's: everything that must be reached on the host
//! (the working directory, opted-in sockets) is opened as an `O_PATH` fd before it is
//! covered, and mounted from `/proc/self/fd/N` afterwards. Nothing is written on the
//! host's filesystem: the generated files live on a tmpfs of the sandbox's own, so no
//! planted symlink can redirect a write and nothing is left behind on any exit.
#![allow(unsafe_code)]

use super::SetupError;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::policy;

/// What the mounts need, computed by the launcher from the host's view.
#[derive(Debug, Clone, Default)]
pub(crate) struct MountPlan {
    /// Directories covered by an empty tmpfs.
    pub masked_dirs: Vec<PathBuf>,
    /// Every pathname Unix socket of the host (from its `/proc/net/unix`).
    pub host_sockets: Vec<PathBuf>,
    /// Host paths bound in at the same path (opt-ins).
    pub binds: Vec<PathBuf>,
    /// The working directory, bound back in when it lies under a masked directory.
    pub cwd: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`, recreated empty (0700) inside its masked parent.
    pub runtime_dir: Option<PathBuf>,
    /// The file `/etc/resolv.conf` resolves to on the host.
    pub resolv_target: PathBuf,
    /// The sandbox's resolv.conf.
    pub resolv: String,
    /// The sandbox's nsswitch.conf (None when the host has none).
    pub nsswitch: Option<String>,
}

/// How many host sockets were masked (for `--debug`).
pub(crate) type Masked = usize;

const STAGE: &str = "/tmp";
const NOSUID_NODEV: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV);

/// `/proc/self/fd/N`: how a mount reaches a file opened before it was covered.
fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens `path` as an `O_PATH` handle; with `nofollow`, a symlink is not followed.
fn open_path(path: &Path, nofollow: bool) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut flags = libc::O_PATH | libc::O_CLOEXEC;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    // SAFETY: c is a valid NUL-terminated string; open has no other precondition.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn tmpfs(target: &Path, mode: u32) -> Result<(), SetupError> {
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        NOSUID_NODEV,
        Some(format!("mode={mode:o}").as_str()),
    )
    .map_err(SetupError::errno(format_args!(
        "mounting a tmpfs on {}",
        target.display()
    )))
}

fn bind(source: &Path, target: &Path) -> Result<(), SetupError> {
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(SetupError::errno(format_args!(
        "bind-mounting onto {}",
        target.display()
    )))
}

/// Creates `path` (a directory, or an empty file) and its missing parents: only ever
/// inside a tmpfs this sandbox just mounted, where nobody else could have planted
/// anything.
fn make_mount_point(path: &Path, dir: bool) -> Result<(), SetupError> {
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(SetupError::io(format_args!(
                "creating {}",
                parent.display()
            )))?;
    }
    let made = if dir {
        std::fs::DirBuilder::new().mode(0o755).create(path)
    } else {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o644)
            .open(path)
            .map(drop)
    };
    match made {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(SetupError::io(format_args!("creating {}", path.display()))(
            e,
        )),
    }
}

/// Writes `contents` as a read-only file on the staging tmpfs.
fn stage_file(name: &str, contents: &str) -> Result<PathBuf, SetupError> {
    let path = Path::new(STAGE).join(name);
    let mut file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o444)
        .open(&path)
        .map_err(SetupError::io(format_args!("writing {}", path.display())))?;
    file.write_all(contents.as_bytes())
        .map_err(SetupError::io(format_args!("writing {}", path.display())))?;
    Ok(path)
}

/// Binds a staged file read-only over `target`, creating `target` when it lies in a
/// masked directory (e.g. resolv.conf → /run/systemd/resolve/stub-resolv.conf).
fn install_file(staged: &Path, target: &Path, masked: &[PathBuf]) -> Result<(), SetupError> {
    if policy::is_under(target, masked) {
        make_mount_point(target, false)?;
    }
    bind(staged, target)?;
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | NOSUID_NODEV,
        None::<&str>,
    )
    .map_err(SetupError::errno(format_args!(
        "making {} read-only",
        target.display()
    )))
}

/// Sets up the mounts; must run as PID 1 of the sandbox's PID namespace (for /proc)
/// inside its network namespace (for sysfs), with mount privileges there.
pub(crate) fn apply(plan: &MountPlan) -> Result<Masked, SetupError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(SetupError::errno("making mounts private"))?;

    // Handles on what must stay reachable, taken before anything is covered.
    let devnull = open_path(Path::new("/dev/null"), false).map_err(SetupError::io("/dev/null"))?;
    let mut binds = Vec::new();
    for path in &plan.binds {
        let fd = open_path(path, false).map_err(SetupError::io(format_args!(
            "cannot share {} with the sandbox",
            path.display()
        )))?;
        let dir = std::fs::metadata(fd_path(&fd)).is_ok_and(|m| m.is_dir());
        binds.push((fd, path.clone(), dir));
    }
    if let Some(cwd) = plan
        .cwd
        .as_ref()
        .filter(|c| policy::is_under(c, &plan.masked_dirs))
    {
        let fd = open_path(cwd, false).map_err(SetupError::io(format_args!(
            "the working directory {}",
            cwd.display()
        )))?;
        binds.push((fd, cwd.clone(), true));
    }

    // This PID namespace's processes only; this network namespace's interfaces only.
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        NOSUID_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(SetupError::errno("mounting a fresh /proc"))?;
    let sysfs_flags = NOSUID_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    if mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        sysfs_flags,
        None::<&str>,
    )
    .is_err()
    {
        // Where sysfs cannot be mounted (some containers), hide the host's entirely.
        tmpfs(Path::new("/sys"), 0o755)?;
    }

    let is_real_dir = |d: &Path| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir());
    let masked: Vec<PathBuf> = plan
        .masked_dirs
        .iter()
        .filter(|d| is_real_dir(d))
        .cloned()
        .collect();
    for dir in masked.iter().filter(|d| d.as_path() != Path::new(STAGE)) {
        let mode = if dir == Path::new("/dev/shm") {
            0o1777
        } else if plan.runtime_dir.as_deref() == Some(dir.as_path()) {
            0o700
        } else {
            0o755
        };
        tmpfs(dir, mode)?;
    }
    if let Some(runtime) = plan
        .runtime_dir
        .as_ref()
        .filter(|r| policy::is_under(r, &masked))
    {
        make_mount_point(runtime, true)?;
        std::fs::set_permissions(runtime, PermissionsExt::from_mode(0o700))
            .map_err(SetupError::io(runtime.display()))?;
    }

    // The generated files: staged on a tmpfs at /tmp, bound into place, and the stage
    // replaced by the sandbox's empty /tmp.
    tmpfs(Path::new(STAGE), 0o700)?;
    let resolv = stage_file("resolv.conf", &plan.resolv)?;
    install_file(&resolv, &plan.resolv_target, &masked)?;
    if let Some(nsswitch) = &plan.nsswitch {
        let staged = stage_file("nsswitch.conf", nsswitch)?;
        install_file(&staged, Path::new("/etc/nsswitch.conf"), &masked)?;
    }
    for (i, (target, contents)) in policy::IDENTITY_FILES.iter().enumerate() {
        let target = Path::new(target);
        if std::fs::symlink_metadata(target).is_ok() {
            let staged = stage_file(&format!("identity-{i}"), contents)?;
            install_file(&staged, target, &masked)?;
        }
    }
    umount2(STAGE, MntFlags::MNT_DETACH)
        .map_err(SetupError::errno("removing the staging tmpfs"))?;
    for dir in policy::IDENTITY_DIRS.iter().map(Path::new) {
        if is_real_dir(dir) {
            tmpfs(dir, 0o755)?;
        }
    }
    if is_real_dir(Path::new(STAGE)) {
        tmpfs(Path::new(STAGE), 0o1777)?;
    }

    for (fd, path, dir) in &binds {
        if policy::is_under(path, &masked) {
            make_mount_point(path, *dir)?;
        }
        // Not recursive: the tmpfs just stacked on the directory would come along.
        bind(&fd_path(fd), path)?;
    }

    // Every other host socket still reachable by path gets /dev/null on top of it:
    // connect() then fails with ECONNREFUSED.
    let mut count = 0;
    for socket in &plan.host_sockets {
        if plan.binds.contains(socket) {
            continue;
        }
        let Ok(fd) = open_path(socket, true) else {
            continue; // covered by a tmpfs, gone, or out of our reach (and the command's)
        };
        let is_socket = std::fs::metadata(fd_path(&fd)).is_ok_and(|m| m.file_type().is_socket());
        if is_socket {
            bind(&fd_path(&devnull), &fd_path(&fd))?;
            count += 1;
        }
    }
    if let Some(cwd) = &plan.cwd {
        std::env::set_current_dir(cwd)
            .map_err(SetupError::io(format_args!("entering {}", cwd.display())))?;
    }
    Ok(count)
}
