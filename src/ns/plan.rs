//! The sandbox's file system as a list of setup operations, made by a pure function
//! ([`plan`]) from what was asked ([`Request`]) and the host's facts ([`HostFacts`]);
//! [`super::mounts`] applies it. No I/O here, so every rule is unit-tested without root.
//!
//! The new root is an empty tmpfs. Only what an operation names is there: the system
//! directories read-only, generated files, private scratch directories, a minimal `/dev`,
//! a fresh `/proc` and `/sys` with what identifies the machine covered, the home by
//! policy, the working directory and the paths the command line names, and the opt-ins.
//! What is then hidden (secret stores, the launcher's own files, `--hide`) is covered
//! last, wherever a bind made it visible.

use std::path::{Path, PathBuf};

use super::policy;

/// One step of building the new root. Every `at` is a path inside the new root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// An empty tmpfs, owned by the command's user.
    Tmpfs { at: PathBuf, mode: u32 },
    /// A directory, made inside a tmpfs of the sandbox's own.
    Dir { at: PathBuf, mode: u32 },
    /// A symbolic link to `to`.
    Symlink { at: PathBuf, to: PathBuf },
    /// The host's `from` bound at `at` (with what is mounted beneath it).
    Bind {
        from: PathBuf,
        at: PathBuf,
        access: Access,
        /// Skipped when `from` does not exist on the host (instead of an error).
        optional: bool,
        /// The mount point is made (it lies in a tmpfs of the sandbox's own).
        make: bool,
    },
    /// A generated file, read-only, over `at`; skipped when `at` does not exist and
    /// cannot be made.
    File {
        at: PathBuf,
        contents: String,
        make: bool,
    },
    /// Whatever is at `at` (when anything is) covered by an empty read-only directory or
    /// file.
    Hide { at: PathBuf },
    /// A fresh procfs: this PID namespace's processes only.
    Proc { at: PathBuf },
    /// A fresh sysfs, read-only: this network namespace's interfaces only.
    Sysfs { at: PathBuf },
    /// A new devpts instance: the sandbox's own terminals only.
    Devpts { at: PathBuf },
    /// `value` written into the (procfs) file `at`, before it becomes read-only.
    Write { at: PathBuf, value: String },
    /// `at` made read-only (when it exists).
    ReadOnly { at: PathBuf },
    /// The second layer: each of these host Unix sockets still reachable inside a bound
    /// tree is covered, so that `connect` fails.
    HideSockets { paths: Vec<PathBuf> },
}

/// How a bind may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadOnly,
    ReadWrite,
    /// A device node (read-write, devices allowed).
    Device,
}

/// Which home directory the command gets (`--home`, `--profile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Home {
    /// The caller's own, read-write, its secret stores hidden.
    Host,
    /// An empty one that goes away with the sandbox.
    Private,
    /// A directory of the host's kept for the sandbox (`--home DIR`, a profile).
    Dir(PathBuf),
}

/// A `--bind`, `--ro-bind` or opt-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserBind {
    pub from: PathBuf,
    pub at: PathBuf,
    pub read_only: bool,
}

/// What the options ask of the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub home: Home,
    /// Where the home is inside (and, for [`Home::Host`], on the host).
    pub home_path: PathBuf,
    /// The caller's home on the host: where its secret stores are.
    pub host_home: Option<PathBuf>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// Files and directories the command line names.
    pub named: Vec<PathBuf>,
    /// Opt-ins, `--bind`, `--ro-bind`.
    pub binds: Vec<UserBind>,
    /// `--hide`: paths inside.
    pub hide: Vec<PathBuf>,
    /// `--show`: secret stores exposed on purpose (host paths).
    pub show: Vec<PathBuf>,
    /// The launcher's own files (Tor client state, keys, cookies, configuration): hidden
    /// wherever they would be seen.
    pub launcher_files: Vec<PathBuf>,
    /// `$XDG_RUNTIME_DIR`, recreated empty.
    pub runtime_dir: Option<PathBuf>,
    /// `--utc`.
    pub utc: bool,
    /// `--allow-userns`.
    pub allow_userns: bool,
}

/// A top-level entry of the host's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Dir,
    Symlink(PathBuf),
}

/// What the launcher read on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostFacts {
    /// The system directories present on the host ([`policy::SYSTEM_DIRS`]).
    pub system: Vec<(PathBuf, Entry)>,
    /// The file `/etc/resolv.conf` leads to.
    pub resolv_target: PathBuf,
    /// Generated `/etc` files: (path, contents).
    pub etc_files: Vec<(PathBuf, String)>,
    /// `/etc` files that identify the machine beyond the fixed list (SSH host keys).
    pub etc_identifiers: Vec<PathBuf>,
    /// Files of sysfs that identify disks (serial numbers, WWIDs, device-mapper uuids).
    pub disk_identifiers: Vec<PathBuf>,
    /// Mount points of network, FUSE and kernel file systems ([`policy::foreign_mounts`]).
    pub foreign_mounts: Vec<PathBuf>,
    /// Every pathname Unix socket of the host.
    pub host_sockets: Vec<PathBuf>,
}

/// The directory the command starts in, and the operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub ops: Vec<Op>,
    /// Where the command starts.
    pub cwd: PathBuf,
}

/// The operations as they are added: each new one is decided against those before it.
#[derive(Default)]
struct Tree {
    ops: Vec<Op>,
}

impl Tree {
    fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    fn tmpfs(&mut self, at: impl Into<PathBuf>, mode: u32) {
        self.push(Op::Tmpfs {
            at: at.into(),
            mode,
        });
    }

    fn dir(&mut self, at: impl Into<PathBuf>, mode: u32) {
        self.push(Op::Dir {
            at: at.into(),
            mode,
        });
    }

    fn symlink(&mut self, at: impl Into<PathBuf>, to: impl Into<PathBuf>) {
        self.push(Op::Symlink {
            at: at.into(),
            to: to.into(),
        });
    }

    fn bind(
        &mut self,
        from: impl Into<PathBuf>,
        at: impl Into<PathBuf>,
        access: Access,
        optional: bool,
    ) {
        let at = at.into();
        let make = may_create(&at, &self.ops);
        self.push(Op::Bind {
            from: from.into(),
            at,
            access,
            optional,
            make,
        });
    }

    fn file(&mut self, at: impl Into<PathBuf>, contents: impl Into<String>) {
        let at = at.into();
        let make = may_create(&at, &self.ops);
        self.push(Op::File {
            at,
            contents: contents.into(),
            make,
        });
    }

    fn hide(&mut self, at: impl Into<PathBuf>) {
        let op = Op::Hide { at: at.into() };
        if !self.ops.contains(&op) {
            self.push(op);
        }
    }
}

/// The whole new root.
pub(crate) fn plan(request: &Request, facts: &HostFacts) -> Plan {
    let mut tree = Tree::default();
    system(&mut tree, facts);
    scratch(&mut tree, request);
    etc(&mut tree, request, facts);
    dev(&mut tree);
    proc_and_sys(&mut tree, facts, request.allow_userns);
    home(&mut tree, request);
    given(&mut tree, request);
    hidden(&mut tree, request, facts);
    tree.push(Op::HideSockets {
        paths: facts
            .host_sockets
            .iter()
            .filter(|s| !request.binds.iter().any(|b| &b.from == *s))
            .cloned()
            .collect(),
    });
    let cwd = match &request.cwd {
        Some(cwd) if visible(cwd, &tree.ops) => cwd.clone(),
        _ => request.home_path.clone(),
    };
    Plan { ops: tree.ops, cwd }
}

/// The system directories, read-only; merged-/usr links as links.
fn system(tree: &mut Tree, facts: &HostFacts) {
    for (path, entry) in &facts.system {
        match entry {
            Entry::Dir => tree.bind(path, path, Access::ReadOnly, true),
            Entry::Symlink(to) => tree.symlink(path, to),
        }
    }
}

/// Private `/tmp`, `/run`, `/var` (with `/var/tmp`), and the runtime directory.
fn scratch(tree: &mut Tree, request: &Request) {
    tree.tmpfs("/tmp", 0o1777);
    tree.tmpfs("/run", 0o755);
    tree.dir("/run/lock", 0o1777);
    tree.tmpfs("/var", 0o755);
    tree.dir("/var/tmp", 0o1777);
    tree.dir("/var/lib/dbus", 0o755);
    tree.file("/var/lib/dbus/machine-id", policy::MACHINE_ID);
    tree.symlink("/var/run", "../run");
    tree.symlink("/var/lock", "../run/lock");
    if let Some(runtime) = &request.runtime_dir {
        if may_create(runtime, &tree.ops) {
            tree.dir(runtime, 0o700);
        } else {
            tree.tmpfs(runtime, 0o700);
        }
    }
}

/// Generated files over the host's `/etc`, and what identifies the machine hidden.
fn etc(tree: &mut Tree, request: &Request, facts: &HostFacts) {
    for (at, contents) in &facts.etc_files {
        // resolv.conf may be a link into /run (systemd-resolved): the file goes where
        // it leads.
        let at = match at == Path::new(policy::RESOLV_CONF) {
            true => &facts.resolv_target,
            false => at,
        };
        tree.file(at, contents);
    }
    for path in policy::ETC_HIDDEN.iter().map(PathBuf::from) {
        tree.hide(path);
    }
    for path in &facts.etc_identifiers {
        tree.hide(path);
    }
    if request.utc {
        tree.bind(
            "/usr/share/zoneinfo/UTC",
            "/etc/localtime",
            Access::ReadOnly,
            true,
        );
        tree.file("/etc/timezone", "Etc/UTC\n");
    }
}

/// bubblewrap's minimal `/dev`.
fn dev(tree: &mut Tree) {
    tree.tmpfs("/dev", 0o755);
    for name in policy::DEVICES {
        let path = Path::new("/dev").join(name);
        tree.bind(&path, &path, Access::Device, true);
    }
    tree.dir("/dev/pts", 0o755);
    tree.push(Op::Devpts {
        at: "/dev/pts".into(),
    });
    tree.symlink("/dev/ptmx", "pts/ptmx");
    tree.tmpfs("/dev/shm", 0o1777);
    tree.symlink("/dev/fd", "/proc/self/fd");
    for (i, name) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        tree.symlink(Path::new("/dev").join(name), format!("/proc/self/fd/{i}"));
    }
}

/// `/proc` and `/sys` as OCI runtimes leave them.
fn proc_and_sys(tree: &mut Tree, facts: &HostFacts, allow_userns: bool) {
    tree.dir("/proc", 0o555);
    tree.push(Op::Proc { at: "/proc".into() });
    for (at, contents) in policy::PROC_FILES {
        tree.file(*at, *contents);
    }
    for at in policy::PROC_HIDDEN {
        tree.hide(*at);
    }
    // No user namespace inside this one (bubblewrap's --disable-userns); the filter
    // refuses CLONE_NEWUSER as well. `--allow-userns` bounds them instead.
    tree.push(Op::Write {
        at: "/proc/sys/user/max_user_namespaces".into(),
        value: match allow_userns {
            false => "0".into(),
            true => policy::MAX_NESTED_USERNS.to_string(),
        },
    });
    for at in policy::PROC_READ_ONLY {
        tree.push(Op::ReadOnly { at: at.into() });
    }
    tree.dir("/sys", 0o555);
    tree.push(Op::Sysfs { at: "/sys".into() });
    for at in policy::SYS_HIDDEN {
        tree.hide(*at);
    }
    for at in &facts.disk_identifiers {
        tree.hide(at);
    }
}

/// The home directory by policy.
fn home(tree: &mut Tree, request: &Request) {
    let at = &request.home_path;
    if at.parent().is_none() {
        return; // `/` is never a home to bind
    }
    match &request.home {
        Home::Host => tree.bind(at, at, Access::ReadWrite, true),
        Home::Private => tree.tmpfs(at, 0o700),
        Home::Dir(from) => tree.bind(from, at, Access::ReadWrite, false),
    }
}

/// The working directory, the paths the command line names, the opt-ins and binds.
fn given(tree: &mut Tree, request: &Request) {
    // A home of the sandbox's own shows nothing of the caller's home.
    let own_home = request.home != Home::Host;
    for path in request.cwd.iter().chain(&request.named) {
        // `/` or a top-level directory is never shared whole.
        if path.components().count() <= 2 || (own_home && path.starts_with(&request.home_path)) {
            continue;
        }
        if !visible(path, &tree.ops) {
            tree.bind(path, path, Access::ReadWrite, true);
        }
    }
    for b in &request.binds {
        let access = match b.read_only {
            true => Access::ReadOnly,
            false => Access::ReadWrite,
        };
        tree.bind(&b.from, &b.at, access, false);
    }
}

/// Secret stores, the launcher's own files, network mounts and `--hide`, wherever a
/// bind shows them.
fn hidden(tree: &mut Tree, request: &Request, facts: &HostFacts) {
    let mut host_paths: Vec<PathBuf> = Vec::new();
    if let Some(home) = &request.host_home {
        host_paths.extend(
            policy::SECRET_STORES
                .iter()
                .map(|s| home.join(s))
                .filter(|p| !request.show.iter().any(|s| p.starts_with(s))),
        );
    }
    host_paths.extend(request.launcher_files.iter().cloned());
    host_paths.extend(facts.foreign_mounts.iter().cloned());
    for path in &host_paths {
        for at in seen_at(path, &tree.ops) {
            tree.hide(at);
        }
    }
    for at in &request.hide {
        tree.hide(at.clone());
    }
}

/// Where the host's `path` appears inside, through each bind that includes it.
pub(crate) fn seen_at(path: &Path, ops: &[Op]) -> Vec<PathBuf> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Bind { from, at, .. } => path.strip_prefix(from).ok().map(|rest| {
                if rest.as_os_str().is_empty() {
                    at.clone()
                } else {
                    at.join(rest)
                }
            }),
            _ => None,
        })
        .collect()
}

/// The operation that decides what is at `path`: the last one whose `at` contains it.
fn owner<'a>(path: &Path, ops: &'a [Op]) -> Option<&'a Op> {
    ops.iter().rev().find(|op| match op {
        Op::Bind { at, .. }
        | Op::Tmpfs { at, .. }
        | Op::Proc { at }
        | Op::Sysfs { at }
        | Op::Devpts { at } => path.starts_with(at),
        _ => false,
    })
}

/// Whether the host's `path` is already there, at the same path.
pub(crate) fn visible(path: &Path, ops: &[Op]) -> bool {
    matches!(owner(path, ops), Some(Op::Bind { from, at, .. }) if from == at)
}

/// Whether a mount point for `path` may be made: only inside a tmpfs of the sandbox's
/// own (or its root), never in a directory bound from the host, where it would be made
/// on the host's file system.
pub(crate) fn may_create(path: &Path, ops: &[Op]) -> bool {
    matches!(owner(path, ops), None | Some(Op::Tmpfs { .. }))
}

#[cfg(test)]
mod tests;
