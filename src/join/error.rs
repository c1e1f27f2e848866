//! What can go wrong naming, listing or joining a sandbox.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failure of `--name`, `--list` or `--join`.
#[derive(Debug)]
pub(crate) enum JoinError {
    /// No `$XDG_RUNTIME_DIR` for an unprivileged user.
    NoRuntimeDir,
    /// The registry's directory is not this user's alone.
    UnsafeDir(PathBuf),
    /// A name outside the allowed characters.
    BadName(String),
    /// A sandbox by that name runs already.
    NameTaken { name: String, pid1: i32 },
    /// No running sandbox by that name or PID.
    NotFound(String),
    /// The sandbox belongs to another user.
    NotYours(String),
    /// Reading or writing the registry, or a system call of the join, failed.
    Io { what: String, source: io::Error },
    /// The command's setup inside failed.
    Setup(crate::ns::SetupError),
}

impl JoinError {
    /// An I/O failure while doing `what`.
    pub(crate) fn io(what: impl fmt::Display) -> impl FnOnce(io::Error) -> JoinError {
        let what = what.to_string();
        move |source| JoinError::Io { what, source }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::NoRuntimeDir => f.write_str(
                "named sandboxes are registered under $XDG_RUNTIME_DIR, which is not set \
                 (log in through a session manager, or set it to a directory of your own)",
            ),
            JoinError::UnsafeDir(dir) => write!(
                f,
                "{} is not a directory of yours alone (mode 0700): not used for the \
                 registry of sandboxes",
                dir.display()
            ),
            JoinError::BadName(name) => write!(
                f,
                "--name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-', not \
                 starting with '.' or '-'"
            ),
            JoinError::NameTaken { name, pid1 } => write!(
                f,
                "--name {name}: a sandbox of that name is running (its PID 1 is {pid1}); \
                 join it with --join {name}, or choose another name"
            ),
            JoinError::NotFound(target) => write!(
                f,
                "--join {target}: no running sandbox of yours by that name or PID (see \
                 torsocks-ns --list)"
            ),
            JoinError::NotYours(target) => write!(
                f,
                "--join {target}: not a sandbox of yours: joining another user's sandbox \
                 is refused"
            ),
            JoinError::Io { what, source } => write!(f, "{what}: {source}"),
            JoinError::Setup(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JoinError::Io { source, .. } => Some(source),
            JoinError::Setup(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::ns::SetupError> for JoinError {
    fn from(e: crate::ns::SetupError) -> JoinError {
        JoinError::Setup(e)
    }
}
