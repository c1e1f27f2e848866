//! The launcher's confinement of itself. It reads everything the sandboxed program
//! sends (every IP packet, DNS message and SOCKS request), so a bug in that reading must
//! not become the host: pasta's `isolation.c` is the model.
//!
//! * From its first moment ([`from_the_start`]): not dumpable (no ptrace attach or
//!   /proc/PID/mem by another process of the same user) and no core file.
//! * Once the sandbox runs and everything it needs is open ([`launcher`]), in this
//!   order: the fds inherited from the caller closed; a root-run becomes the
//!   command's unprivileged user; its own user, mount, IPC and UTS namespaces with an
//!   empty root ([`namespaces`]); every capability dropped; no new privileges;
//!   [`landlock`] (no file system, TCP only to Tor's port, no bind); the [`seccomp`]
//!   allow-list, last. It stays in the host's network namespace, where Tor is.
//! * The embedded client's process, `torsocks-arti`, the same from its start, and once
//!   its configuration is read and before its first thread ([`embedded_client`]):
//!   Landlock (files only beneath its state and cache directories, no bind but its
//!   ephemeral SOCKS port) and its own seccomp allow-list (threads, its files).

mod error;
mod landlock;
mod namespaces;
mod seccomp;
mod sys;
#[cfg(test)]
mod tests;

pub(crate) use error::{ConfineError, Step};
use std::sync::OnceLock;

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use crate::tor::stream::TorAddr;

pub(crate) use self::landlock::Enforced;
pub(crate) use namespaces::{Account, Entered};
pub(crate) use seccomp::Reach;

/// The caller's core-file limit (soft, hard), for the sandbox's command to keep.
static CALLERS_CORE_LIMIT: OnceLock<(u64, u64)> = OnceLock::new();

/// The fds the caller left open (above stderr): the sandbox's command gets those it
/// should keep; the launcher closes them all before it reads the program's packets.
static INHERITED_FDS: OnceLock<Vec<i32>> = OnceLock::new();

/// Not dumpable (no ptrace attach or /proc/PID/mem by the same uid, its /proc files
/// root's) and no core file. Called first thing in `main`.
pub(crate) fn from_the_start() {
    let _ = INHERITED_FDS.set(sys::open_fds());
    if let Ok(limit) = getrlimit(Resource::RLIMIT_CORE) {
        let _ = CALLERS_CORE_LIMIT.set(limit);
        // The soft limit only: the sandbox's command gets the caller's back.
        let _ = setrlimit(Resource::RLIMIT_CORE, 0, limit.1);
    }
    let _ = nix::sys::prctl::set_dumpable(false);
}

/// In the sandbox's PID 1, before the launcher maps its ids: dumpable again (the
/// launcher must write its /proc files; PID 1 turns it off again once its privileges
/// are gone), and the caller's core-file limit back for the command.
pub(crate) fn undo_for_the_sandbox() {
    if let Some(&(soft, hard)) = CALLERS_CORE_LIMIT.get() {
        let _ = setrlimit(Resource::RLIMIT_CORE, soft, hard);
    }
    let _ = nix::sys::prctl::set_dumpable(true);
}

/// What the confined launcher still needs to reach.
#[derive(Debug, Clone)]
pub(crate) struct Confinement {
    /// A root-run's launcher becomes this user (the command's: signals to PID 1 pass).
    pub account: Option<Account>,
    /// Tor's SOCKS port: the only TCP port it may connect to, or the only Unix
    /// socket in its root.
    pub tor: TorAddr,
    /// What its system calls may touch.
    pub reach: Reach,
    /// A refused system call is named before the launcher ends (`-d`).
    pub name_refused_calls: bool,
}

/// What the confinement reached on this kernel, for `-d`.
#[derive(Debug, Clone)]
pub(crate) struct Confined {
    pub entered: Entered,
    pub landlock: Enforced,
    /// Tor's SOCKS port is a Unix socket (no TCP at all).
    pub tor_socket: bool,
}

impl Confined {
    /// Lines for `-d`.
    pub(crate) fn describe(&self) -> Vec<String> {
        let root = match (&self.entered, self.tor_socket) {
            (Entered::EmptyRoot, false) => {
                "its own user and mount namespaces, an empty root".to_string()
            }
            (Entered::EmptyRoot, true) => {
                "its own user and mount namespaces, a root with Tor's socket alone".to_string()
            }
            (Entered::Refused(why), _) => {
                format!("the host's file system (the kernel refused {why})")
            }
        };
        let landlock = match (self.landlock, self.tor_socket) {
            (Enforced::Fully, false) => "Landlock: no file system, TCP only to Tor's port, no bind",
            (Enforced::Fully, true) => "Landlock: no file system, no TCP connection, no bind",
            (Enforced::Partly, _) => "Landlock: partly (this kernel has an older Landlock)",
            (Enforced::Not, _) => "no Landlock (this kernel has none): the empty root alone",
        };
        vec![
            format!("the launcher is confined: {root}; no capabilities; no new privileges"),
            format!("the launcher is confined: {landlock}"),
            "the launcher is confined: a seccomp allow-list of its loop's system calls".into(),
        ]
    }
}

/// Confines the launcher for the rest of its life; single-threaded callers only (a
/// user namespace cannot be entered by a process with threads). An error means the
/// launcher must not go on.
pub(crate) fn launcher(confinement: &Confinement) -> Result<Confined, ConfineError> {
    if let Some(fds) = INHERITED_FDS.get() {
        sys::close(fds);
    }
    let (tor_ports, socket) = match &confinement.tor {
        TorAddr::Tcp(addr) => (vec![addr.port()], None),
        TorAddr::Unix(path) => (Vec::new(), Some(path.as_path())),
    };
    let entered = namespaces::enter(confinement.account, socket)?;
    drop_capabilities()?;
    // A uid change makes a process dumpable again where the system says so.
    let _ = nix::sys::prctl::set_dumpable(false);
    nix::sys::prctl::set_no_new_privs().map_err(ConfineError::at(Step::NoNewPrivs))?;
    let landlock = landlock::restrict(&tor_ports)?;
    let on_refusal = match confinement.name_refused_calls {
        true => {
            sys::name_refused_calls().map_err(ConfineError::at(Step::SigsysHandler))?;
            seccomp::OnRefusal::Report
        }
        false => seccomp::OnRefusal::Kill,
    };
    let reach = Reach {
        unix_stream: socket.is_some(),
        ..confinement.reach.clone()
    };
    let filter = seccomp::launcher_filter(&reach, on_refusal)?;
    seccompiler::apply_filter(&filter).map_err(ConfineError::at(Step::Seccomp))?;
    Ok(Confined {
        entered,
        landlock,
        tor_socket: socket.is_some(),
    })
}

/// Every capability, in whichever user namespace the launcher is now: the bounding set
/// where it may (it has CAP_SETPCAP in its own namespace), then the rest.
fn drop_capabilities() -> Result<(), ConfineError> {
    use caps::{CapSet, Capability};
    let fail = |e: caps::errors::CapsError| ConfineError::new(Step::Capabilities, e.to_string());
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).map_err(fail)? {
        caps::clear(None, CapSet::Bounding).map_err(fail)?;
    }
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(fail)?;
    }
    Ok(())
}

#[cfg(feature = "embedded-tor")]
/// Confines the embedded client's process, before it starts a thread (Landlock binds
/// the calling thread and those it creates): files only beneath `dirs` (state, cache;
/// `None`: not limited), its own allow-list of system calls. Returns lines for `-d`.
pub(crate) fn embedded_client(
    dirs: Option<[&std::path::Path; 2]>,
    name_refused_calls: bool,
) -> Result<Vec<String>, ConfineError> {
    // Root-run, it keeps uid 0 (its directories are root's) but no capability: with
    // the filter below (no kill, no ptrace) and Landlock's scopes, uid 0 alone reaches
    // only files, and those are limited to its directories.
    drop_capabilities()?;
    nix::sys::prctl::set_no_new_privs().map_err(ConfineError::at(Step::NoNewPrivs))?;
    let landlock = landlock::restrict_client(dirs)?;
    let on_refusal = match name_refused_calls {
        true => {
            sys::name_refused_calls().map_err(ConfineError::at(Step::SigsysHandler))?;
            seccomp::OnRefusal::Report
        }
        false => seccomp::OnRefusal::Kill,
    };
    for filter in seccomp::client_filters(on_refusal)? {
        seccompiler::apply_filter(&filter).map_err(ConfineError::at(Step::Seccomp))?;
    }
    let files = match (landlock, dirs) {
        (Enforced::Fully, _) => "Landlock: files only in its state and cache directories",
        (Enforced::Partly, None) => {
            "Landlock: its files not limited (--arti-config names its directories through a variable)"
        }
        (Enforced::Partly, Some(_)) => "Landlock: partly (this kernel has an older Landlock)",
        (Enforced::Not, _) => "no Landlock (this kernel has none)",
    };
    Ok(vec![
        format!("the embedded Tor client is confined: {files}; no capabilities, no new privileges"),
        "the embedded Tor client is confined: a seccomp allow-list of its system calls".into(),
    ])
}
