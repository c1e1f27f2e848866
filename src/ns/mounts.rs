//! Applies the sandbox's mount plan ([`super::plan`]): run by its PID 1, which holds
//! mount privileges in the sandbox's user namespace, before the command starts.
//!
//! bubblewrap's sequence: all mounts private; a staging tmpfs becomes the root, the
//! host's tree stays reachable beneath it at `/oldroot`, and the new root is built on a
//! second tmpfs at `/newroot`; then the new root becomes the root and everything else is
//! detached, so nothing of the host's mount table shows in the sandbox's `mountinfo`
//! beyond what the plan bound. Host paths are resolved as on the host and sandbox paths
//! as in the sandbox (`openat2` with `RESOLVE_IN_ROOT`), so no symlink leads a mount
//! out of the tree it belongs to. Nothing is written on the host's file system: mount
//! points are made only in the sandbox's own tmpfs (the plan says where), and the
//! generated files live on the staging tmpfs.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{Gid, Uid};

use super::error::SetupError;
use super::plan::{Access, Op, Plan};

/// How many host sockets the second layer covered (for `--debug`).
pub(crate) type Masked = usize;

/// Who owns the directories made for the command (its home, its runtime directory).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner {
    pub uid: Uid,
    pub gid: Gid,
}

const STAGE: &str = "/tmp";
const OLD: &str = "/oldroot";
const NEW: &str = "/newroot";
const FILES: &str = "/files";
const NOSUID_NODEV: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV);

/// mount_setattr(2)'s attributes (linux/mount.h).
mod attr {
    pub(super) const RDONLY: u64 = 0x1;
    pub(super) const NOSUID: u64 = 0x2;
    pub(super) const NODEV: u64 = 0x4;
}

/// `struct mount_attr` (linux/mount.h).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Sets `set` on the mount at `fd` and every mount beneath it.
fn set_attributes(fd: &OwnedFd, set: u64) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `fd` is an open fd, the path a valid empty C string, and `attr` a valid
    // struct of the size passed; the kernel only reads it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `/oldroot/proc/self/fd/N`: how a mount reaches a file by an fd.
fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("{OLD}/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens `path` as an `O_PATH` handle, resolved as if `root` were `/`.
fn open_in(root: &OwnedFd, path: &Path, follow: bool) -> Result<OwnedFd, Errno> {
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let relative = path.strip_prefix("/").unwrap_or(path);
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    // EAGAIN: a mount or rename somewhere raced with resolving `..` (sysfs's links are
    // full of them); the kernel asks for a retry.
    let mut tries = 0;
    loop {
        match nix::fcntl::openat2(root.as_fd(), relative, how) {
            Err(Errno::EAGAIN) if tries < 64 => tries += 1,
            done => return done,
        }
    }
}

fn is_dir(fd: &OwnedFd) -> bool {
    std::fs::metadata(fd_path(fd)).is_ok_and(|m| m.is_dir())
}

/// `at` inside the new root, as a path from the staging root.
fn in_new(at: &Path) -> PathBuf {
    Path::new(NEW).join(at.strip_prefix("/").unwrap_or(at))
}

fn mkdirs(path: &Path) -> Result<(), SetupError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(SetupError::io(format_args!("creating {}", path.display())))
}

/// Makes a mount point (a directory, or an empty file) inside the new root: only where
/// the plan says it lies in a tmpfs of the sandbox's own.
fn make_mount_point(at: &Path, dir: bool) -> Result<(), SetupError> {
    let path = in_new(at);
    if let Some(parent) = path.parent() {
        mkdirs(parent)?;
    }
    let made = match dir {
        true => std::fs::DirBuilder::new().mode(0o755).create(&path),
        false => OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o644)
            .open(&path)
            .map(drop),
    };
    match made {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(SetupError::io(format_args!("creating {}", at.display()))(e))
        }
        _ => Ok(()),
    }
}

/// The state of the build: the two trees, the staged files, who owns what is made.
struct Builder {
    old: OwnedFd,
    new: OwnedFd,
    owner: Owner,
    staged: usize,
    masked: Masked,
}

/// Builds the new root and enters it; returns how many host sockets were covered.
pub(crate) fn apply(plan: &Plan, owner: Owner) -> Result<Masked, SetupError> {
    let mut builder = enter_staging(owner)?;
    builder.stage_files(&plan.ops)?;
    for op in &plan.ops {
        builder.apply(op)?;
    }
    let masked = builder.masked;
    drop(builder);
    enter_new_root()?;
    if std::env::set_current_dir(&plan.cwd).is_err() {
        let _ = std::env::set_current_dir("/");
    }
    Ok(masked)
}

/// All mounts private; the staging tmpfs as the root, the host's tree beneath it at
/// `/oldroot`, and an empty tmpfs at `/newroot`.
fn enter_staging(owner: Owner) -> Result<Builder, SetupError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(SetupError::errno("making mounts private"))?;
    mount(
        Some("tmpfs"),
        STAGE,
        Some("tmpfs"),
        NOSUID_NODEV,
        Some("mode=0700"),
    )
    .map_err(SetupError::errno("mounting the staging tmpfs"))?;
    for dir in [OLD, NEW, FILES] {
        mkdirs(&Path::new(STAGE).join(&dir[1..]))?;
    }
    std::env::set_current_dir(STAGE).map_err(SetupError::io("entering the staging tmpfs"))?;
    nix::unistd::pivot_root(".", &OLD[1..]).map_err(SetupError::errno("pivot_root"))?;
    std::env::set_current_dir("/").map_err(SetupError::io("entering the staging root"))?;
    mount(
        Some("tmpfs"),
        NEW,
        Some("tmpfs"),
        NOSUID_NODEV,
        Some("mode=0755"),
    )
    .map_err(SetupError::errno("mounting the new root"))?;
    let dir =
        |path: &str| open_in(&root_fd()?, Path::new(path), false).map_err(SetupError::errno(path));
    // The generated files and the empty covers, on a tmpfs of their own that turns
    // read-only once they are written: a bind of a read-only mount is read-only, so
    // covering a path takes one mount.
    mount(
        Some("tmpfs"),
        FILES,
        Some("tmpfs"),
        NOSUID_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=0755"),
    )
    .map_err(SetupError::errno("mounting the generated files' tmpfs"))?;
    let builder = Builder {
        old: dir(OLD)?,
        new: dir(NEW)?,
        owner,
        staged: 0,
        masked: 0,
    };
    std::fs::DirBuilder::new()
        .mode(0o555)
        .create(Path::new(FILES).join("empty-dir"))
        .map_err(SetupError::io("creating the empty directory"))?;
    builder.stage_file("empty", "")?;
    Ok(builder)
}

fn root_fd() -> Result<OwnedFd, SetupError> {
    nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(SetupError::errno("opening /"))
}

/// The new root becomes `/`; the staging root and the host's tree under it are
/// detached; the root itself is read-only (its mounts keep their own access).
fn enter_new_root() -> Result<(), SetupError> {
    std::env::set_current_dir(NEW).map_err(SetupError::io("entering the new root"))?;
    nix::unistd::pivot_root(".", ".").map_err(SetupError::errno("pivot_root"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(SetupError::errno("detaching the host's tree"))?;
    std::env::set_current_dir("/").map_err(SetupError::io("entering /"))?;
    // Not recursive: only the root's own tmpfs.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | NOSUID_NODEV,
        None::<&str>,
    )
    .map_err(SetupError::errno("making / read-only"))
}

impl Builder {
    fn apply(&mut self, op: &Op) -> Result<(), SetupError> {
        match op {
            Op::Tmpfs { at, mode } => self.tmpfs(at, *mode),
            Op::Dir { at, mode } => self.dir(at, *mode),
            Op::Symlink { at, to } => {
                make_parent(at)?;
                std::os::unix::fs::symlink(to, in_new(at))
                    .map_err(SetupError::io(format_args!("linking {}", at.display())))
            }
            Op::Bind {
                from,
                at,
                access,
                optional,
                make,
            } => self.bind(from, at, *access, *optional, *make),
            Op::File { at, make, .. } => self.file(at, *make),
            Op::Hide { at } => self.hide(at),
            Op::Proc { at } => self.special("proc", at, MsFlags::MS_NOEXEC, None),
            Op::Sysfs { at } => self.sysfs(at),
            Op::Devpts { at } => self.special(
                "devpts",
                at,
                MsFlags::MS_NOEXEC,
                Some("newinstance,ptmxmode=0666,mode=620"),
            ),
            Op::Write { at, value } => {
                // A further layer only (the seccomp filter holds the same line).
                let _ = std::fs::write(in_new(at), value);
                Ok(())
            }
            Op::ReadOnly { at } => self.read_only(at),
            Op::HideSockets { paths } => self.hide_sockets(paths),
        }
    }

    fn tmpfs(&self, at: &Path, mode: u32) -> Result<(), SetupError> {
        make_mount_point(at, true)?;
        let options = format!(
            "mode={mode:o},uid={},gid={}",
            self.owner.uid, self.owner.gid
        );
        mount(
            Some("tmpfs"),
            &in_new(at),
            Some("tmpfs"),
            NOSUID_NODEV,
            Some(options.as_str()),
        )
        .map_err(SetupError::errno(format_args!(
            "mounting a tmpfs on {}",
            at.display()
        )))
    }

    fn dir(&self, at: &Path, mode: u32) -> Result<(), SetupError> {
        let path = in_new(at);
        mkdirs(&path)?;
        std::fs::set_permissions(&path, PermissionsExt::from_mode(mode))
            .map_err(SetupError::io(format_args!("creating {}", at.display())))?;
        if mode & 0o7777 == 0o700 {
            nix::unistd::chown(&path, Some(self.owner.uid), Some(self.owner.gid))
                .map_err(SetupError::errno(format_args!("creating {}", at.display())))?;
        }
        Ok(())
    }

    fn bind(
        &self,
        from: &Path,
        at: &Path,
        access: Access,
        optional: bool,
        make: bool,
    ) -> Result<(), SetupError> {
        let source = match open_in(&self.old, from, true) {
            Ok(fd) => fd,
            // Absent, or out of the reach of the user setting up (its processes could not
            // enter it either).
            Err(Errno::ENOENT | Errno::EACCES) if optional => return Ok(()),
            Err(e) => {
                return Err(SetupError::errno(format_args!(
                    "cannot share {} with the sandbox",
                    from.display()
                ))(e))
            }
        };
        if make {
            make_mount_point(at, is_dir(&source))?;
        }
        let target = open_in(&self.new, at, true).map_err(SetupError::errno(format_args!(
            "cannot share {} at {}: no such place in the sandbox (create it first)",
            from.display(),
            at.display()
        )))?;
        self.mount_over(&source, &target, at, access)
    }

    /// Binds `source` over `target` (the place `at`) and sets `access`.
    fn mount_over(
        &self,
        source: &impl AsRawFd,
        target: &OwnedFd,
        at: &Path,
        access: Access,
    ) -> Result<(), SetupError> {
        mount(
            Some(&fd_path(source)),
            &fd_path(target),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(SetupError::errno(format_args!(
            "bind-mounting onto {}",
            at.display()
        )))?;
        let set = match access {
            Access::ReadOnly => attr::RDONLY | attr::NOSUID | attr::NODEV,
            Access::ReadWrite => attr::NOSUID | attr::NODEV,
            // A device node's mount flags change nothing it can do.
            Access::Device => return Ok(()),
        };
        // The mount just made, not the place beneath it.
        let mounted = open_in(&self.new, at, true).map_err(SetupError::errno(format_args!(
            "reopening {}",
            at.display()
        )))?;
        set_attributes(&mounted, set).map_err(SetupError::io(format_args!(
            "setting the access of {}",
            at.display()
        )))
    }

    /// Writes `contents` as a read-only file on the staging tmpfs.
    fn stage_file(&self, name: &str, contents: &str) -> Result<(), SetupError> {
        let path = Path::new(FILES).join(name);
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o444)
            .open(&path)
            .map_err(SetupError::io(format_args!("writing {}", path.display())))?;
        file.write_all(contents.as_bytes())
            .map_err(SetupError::io(format_args!("writing {}", path.display())))
    }

    /// Writes every generated file of `ops`, in their order, then makes them read-only.
    fn stage_files(&self, ops: &[Op]) -> Result<(), SetupError> {
        let files = ops.iter().filter_map(|op| match op {
            Op::File { contents, .. } => Some(contents),
            _ => None,
        });
        for (i, contents) in files.enumerate() {
            self.stage_file(&format!("file-{}", i + 1), contents)?;
        }
        mount(
            None::<&str>,
            FILES,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | NOSUID_NODEV,
            None::<&str>,
        )
        .map_err(SetupError::errno("making the generated files read-only"))
    }

    fn file(&mut self, at: &Path, make: bool) -> Result<(), SetupError> {
        // Counted whether or not it is used, as stage_files counted it.
        self.staged += 1;
        if make {
            make_mount_point(at, false)?;
        }
        let Ok(target) = open_in(&self.new, at, true) else {
            return Ok(()); // the host has no such file, and none can be made here
        };
        self.cover(&format!("file-{}", self.staged), &target, at)
    }

    fn hide(&self, at: &Path) -> Result<(), SetupError> {
        let Ok(target) = open_in(&self.new, at, true) else {
            return Ok(()); // nothing there to hide
        };
        let cover = match is_dir(&target) {
            true => "empty-dir",
            false => "empty",
        };
        self.cover(cover, &target, at)
    }

    /// Binds the staged (read-only) `name` over `target`, the place `at`.
    fn cover(&self, name: &str, target: &OwnedFd, at: &Path) -> Result<(), SetupError> {
        mount(
            Some(&Path::new(FILES).join(name)),
            &fd_path(target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(SetupError::errno(format_args!("covering {}", at.display())))
    }

    fn special(
        &self,
        kind: &str,
        at: &Path,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), SetupError> {
        mount(
            Some(kind),
            &in_new(at),
            Some(kind),
            NOSUID_NODEV | flags,
            data,
        )
        .map_err(SetupError::errno(format_args!(
            "mounting a fresh {kind} on {}",
            at.display()
        )))
    }

    fn sysfs(&self, at: &Path) -> Result<(), SetupError> {
        let read_only = MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
        if self.special("sysfs", at, read_only, None).is_err() {
            // Where sysfs cannot be mounted (some containers), none at all.
            self.special("tmpfs", at, read_only, Some("mode=0555"))?;
        }
        Ok(())
    }

    fn read_only(&self, at: &Path) -> Result<(), SetupError> {
        let Ok(target) = open_in(&self.new, at, false) else {
            return Ok(());
        };
        self.mount_over(&target, &target, at, Access::ReadOnly)
    }

    /// Covers each host socket still reachable by path: `connect` then fails with
    /// ECONNREFUSED.
    fn hide_sockets(&mut self, paths: &[PathBuf]) -> Result<(), SetupError> {
        for path in paths {
            let Ok(fd) = open_in(&self.new, path, false) else {
                continue; // not in the sandbox's tree
            };
            let is_socket =
                std::fs::metadata(fd_path(&fd)).is_ok_and(|m| m.file_type().is_socket());
            if is_socket {
                self.hide(path)?;
                self.masked += 1;
            }
        }
        Ok(())
    }
}

fn make_parent(at: &Path) -> Result<(), SetupError> {
    match in_new(at).parent() {
        Some(parent) => mkdirs(parent),
        None => Ok(()),
    }
}
