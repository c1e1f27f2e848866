//! The launcher's confinement of itself, from its first moment: it reads everything the
//! sandboxed program sends, so nothing of its memory (SOCKS and ControlPort passwords,
//! the embedded client's keys in transit) may be read through ptrace, `/proc/PID/mem`
//! or a core file by another process of the same user.

use std::sync::OnceLock;

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// The caller's core-file limit (soft, hard), for the sandbox's command to keep.
static CALLERS_CORE_LIMIT: OnceLock<(u64, u64)> = OnceLock::new();

/// Not dumpable (no ptrace attach or /proc/PID/mem by the same uid, its /proc files
/// root's) and no core file. Called first thing in `main`.
pub(crate) fn from_the_start() {
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
