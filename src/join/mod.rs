//! Named sandboxes: `--name` registers a running sandbox ([`registry`]), `--list`
//! shows them, `--join NAME|PID CMD` runs a command inside one: in all its
//! namespaces, as its user, with the same capabilities (none), seccomp filters,
//! bounds, environment and fd policy as its first command. Its connections go
//! through the same `tun0`, so the same session serves and counts them.
//!
//! A join enters the sandbox from outside its PID namespace: the process that enters
//! stays invisible to the sandbox's programs (it is not in their `/proc`), drops every
//! privilege before it touches anything of the sandbox, and only its child, the
//! command, lives inside.

mod enter;
mod error;
pub(crate) mod registry;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub(crate) use error::JoinError;
use registry::Entry;

use crate::ns::{harden, init};

/// The registry's directory, made if missing, and checked to be this user's alone.
fn directory() -> Result<PathBuf, JoinError> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let dir = registry::directory(runtime.as_deref(), nix::unistd::geteuid().is_root())?;
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(JoinError::io(format!("creating {}", dir.display()))(e)),
    }
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(JoinError::io(format!("reading {}", dir.display())))?;
    let yours =
        meta.is_dir() && meta.uid() == nix::unistd::geteuid().as_raw() && meta.mode() & 0o077 == 0;
    match yours {
        true => Ok(dir),
        false => Err(JoinError::UnsafeDir(dir)),
    }
}

/// The text of `/proc/PID/stat`, if that process exists.
fn stat_of(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

/// The start time of `pid` (for its entry).
pub(crate) fn start_time_of(pid: i32) -> Option<u64> {
    stat_of(pid).as_deref().and_then(registry::start_time)
}

/// The running sandboxes of the registry, by name; stale entries are removed.
fn running(dir: &Path) -> Result<Vec<(String, Entry)>, JoinError> {
    let read =
        std::fs::read_dir(dir).map_err(JoinError::io(format!("reading {}", dir.display())))?;
    let mut found = Vec::new();
    for file in read.flatten() {
        let name = file.file_name().to_string_lossy().into_owned();
        let entry = std::fs::read_to_string(file.path())
            .ok()
            .and_then(|text| Entry::decode(&text));
        match entry {
            Some(entry) if entry.is_alive_in(stat_of(entry.pid1).as_deref()) => {
                found.push((name, entry))
            }
            _ => {
                let _ = std::fs::remove_file(file.path());
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Whether `name` can be registered: a valid name that no running sandbox holds.
/// Asked before anything starts, so that a run that cannot have its name fails first.
pub(crate) fn available(name: &str) -> Result<(), JoinError> {
    if !registry::valid_name(name) {
        return Err(JoinError::BadName(name.to_string()));
    }
    let dir = directory()?;
    match running(&dir)?.into_iter().find(|(n, _)| n == name) {
        Some((_, running)) => Err(JoinError::NameTaken {
            name: name.to_string(),
            pid1: running.pid1,
        }),
        None => Ok(()),
    }
}

/// A registration: `name` taken for this run's sandbox (the entry stays until its PID 1
/// is gone; the next look at the registry removes it).
pub(crate) fn register(name: &str, entry: &Entry) -> Result<(), JoinError> {
    available(name)?;
    let path = directory()?.join(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| match e.kind() {
            // Another run took the name between the look and the creation.
            std::io::ErrorKind::AlreadyExists => JoinError::NameTaken {
                name: name.to_string(),
                pid1: 0,
            },
            _ => JoinError::io(format!("registering {}", path.display()))(e),
        })?;
    file.write_all(entry.encode().as_bytes())
        .map_err(JoinError::io(format!("registering {}", path.display())))
}

/// `--list`: one line per running sandbox of this user.
pub(crate) fn list() -> Result<(), JoinError> {
    let dir = directory()?;
    let sandboxes = running(&dir)?;
    if sandboxes.is_empty() {
        println!("no named sandbox is running (start one with torsocks-ns --name NAME ...)");
        return Ok(());
    }
    println!("{:<20} {:>8} {:>8}  COMMAND", "NAME", "PID", "PID 1");
    for (name, entry) in sandboxes {
        let command: Vec<String> = entry
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        println!(
            "{name:<20} {:>8} {:>8}  {}",
            entry.launcher,
            entry.pid1,
            command.join(" ")
        );
    }
    Ok(())
}

/// The sandbox `target` names: a name, or the pid of its launcher or of its PID 1.
fn find(dir: &Path, target: &str) -> Result<Entry, JoinError> {
    let sandboxes = running(dir)?;
    let pid = target.parse::<i32>().ok();
    let found = sandboxes.into_iter().find(|(name, entry)| {
        name == target || pid.is_some_and(|p| p == entry.pid1 || p == entry.launcher)
    });
    if let Some((_, entry)) = found {
        return Ok(entry);
    }
    match pid.and_then(real_uid_of) {
        Some(uid) if uid != nix::unistd::getuid().as_raw() => {
            Err(JoinError::NotYours(target.to_string()))
        }
        _ => Err(JoinError::NotFound(target.to_string())),
    }
}

/// The real uid of `pid` (`/proc/PID/status`, which everyone may read).
fn real_uid_of(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// `--join TARGET CMD`: runs `command` (the first command's shell when empty) inside
/// the sandbox; its exit status, shell-style.
pub(crate) fn join(
    target: &str,
    command: &[OsString],
    force_session: bool,
) -> Result<i32, JoinError> {
    // setns into a user namespace needs a process of one thread.
    let _one_thread = crate::ns::SingleThreaded::now()?;
    let dir = directory()?;
    let entry = find(&dir, target)?;
    let filters = harden::filters(entry.allow_userns)?;
    let (argv, env) = crate::ns::command_strings(&command_line(&entry, command), &entry.env)?;
    // PID 1's own (readable by root), else the launcher's, which the sandbox binds.
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", entry.pid1))
        .ok()
        .or_else(|| entry.cwd.clone());
    enter_sandbox(target, &entry)?;
    harden::drop_privileges(&entry.run_as(), &filters)?;
    // As the sandbox's user, inside: where its first command started.
    let _ = std::env::set_current_dir(cwd.as_deref().unwrap_or(Path::new("/")));
    use std::io::IsTerminal;
    let on_a_terminal = std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal();
    let bounds = harden::Bounds {
        max_procs: entry.max_procs,
        memory: entry.memory,
    };
    let command = init::Command {
        argv: &argv,
        env: &env,
        keep_fds: &[],
        new_session: force_session || entry.new_session || !on_a_terminal,
        bounds: &bounds,
    };
    Ok(init::run(&command, None))
}

/// The command to run: the one given, else the sandbox's `$SHELL` (or `/bin/sh`).
fn command_line(entry: &Entry, command: &[OsString]) -> Vec<OsString> {
    if !command.is_empty() {
        return command.to_vec();
    }
    let shell = entry
        .env
        .iter()
        .find(|(k, _)| k == "SHELL")
        .map_or_else(|| OsString::from("/bin/sh"), |(_, v)| v.clone());
    vec![shell]
}

/// Into every namespace of the sandbox, not dumpable from here on. The namespaces
/// are the first command's (PID 1's child): PID 1 never ran exec, so its memory
/// belongs to the host's user namespace and only root may enter through it; PID 1
/// made the sandbox's time namespace for its children only, too. Without a first
/// command to be found, PID 1's own (which root may enter).
fn enter_sandbox(target: &str, entry: &Entry) -> Result<(), JoinError> {
    let pid1 =
        crate::ns::pidfd(entry.pid1).map_err(JoinError::io("opening the sandbox's PID 1"))?;
    // The pidfd pins the process: if the start time still matches, it is the one.
    if !entry.is_alive_in(stat_of(entry.pid1).as_deref()) {
        return Err(JoinError::NotFound(target.to_string()));
    }
    let through = first_command(entry.pid1).unwrap_or(pid1);
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| JoinError::io("not dumpable")(std::io::Error::from(e)))?;
    enter::enter_all(&through).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => JoinError::NotYours(target.to_string()),
        _ => JoinError::io("entering the sandbox's namespaces")(e),
    })
}

/// A pidfd of a child of the sandbox's PID 1 (its first command, alive for as long
/// as the sandbox is), found by its parent in `/proc/*/stat`, which everyone may read.
fn first_command(pid1: i32) -> Option<std::os::fd::OwnedFd> {
    // Field 4 of stat: the parent's pid.
    let parent_is_pid1 = |pid: i32| {
        let parent: i32 = registry::stat_field(&stat_of(pid)?, 4)?;
        (parent == pid1).then_some(())
    };
    let children = std::fs::read_dir("/proc").ok()?.flatten().filter_map(|d| {
        let pid = d.file_name().to_str()?.parse::<i32>().ok()?;
        parent_is_pid1(pid).map(|()| pid)
    });
    children.into_iter().find_map(|pid| {
        let pidfd = crate::ns::pidfd(pid).ok()?;
        // The pidfd pins it: still PID 1's child, so not a reused pid.
        parent_is_pid1(pid).map(|()| pidfd)
    })
}
