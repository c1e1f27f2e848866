//! Why the sandbox a run asks for cannot be made.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::ns::policy::OptInError;

/// What is wrong with `--user NAME`.
#[derive(Debug)]
pub(crate) enum UserProblem {
    /// Only root may name another user.
    NotRoot,
    /// The lookup failed.
    Lookup(nix::errno::Errno),
    /// No such user.
    NoSuchUser,
    /// The user is root.
    Root,
}

/// A sandbox that cannot be made as asked, and why.
#[derive(Debug)]
pub(crate) enum SpecError {
    /// `--x11`, `--wayland`, `--ssh-agent`, `--allow-socket` or `--keep-env` cannot work.
    OptIn(OptInError),
    /// A path to share does not exist or cannot be read.
    Share { path: PathBuf, source: io::Error },
    /// `--keep-fd N` names no open descriptor.
    NoSuchFd(i32),
    /// `--user NAME`.
    User { name: String, why: UserProblem },
    /// `--home host` for a user without a home.
    NoHome(String),
    /// `--bind` or `--ro-bind`: relative paths (no source), or a source that is not there.
    Bind {
        option: &'static str,
        spec: String,
        source: Option<(PathBuf, io::Error)>,
    },
    /// A directory to keep for the sandbox is something else.
    NotADirectory(PathBuf),
    /// A directory to keep for the sandbox cannot be made.
    CreateDir { path: PathBuf, source: io::Error },
    /// A directory cannot be resolved.
    Resolve { path: PathBuf, source: io::Error },
    /// `--profile NAME` with characters a directory name should not have.
    ProfileName(String),
    /// `--profile` with nowhere to keep it.
    ProfileNeedsHome,
    /// `--setenv` without `=`.
    SetEnv(String),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::OptIn(e) => e.fmt(f),
            SpecError::Share { path, source } => {
                write!(f, "cannot share {}: {source}", path.display())
            }
            SpecError::NoSuchFd(fd) => write!(f, "--keep-fd {fd}: no such open file descriptor"),
            SpecError::User { name, why } => match why {
                UserProblem::NotRoot => write!(
                    f,
                    "--user {name}: only root can run the command as another user"
                ),
                UserProblem::Lookup(e) => write!(f, "--user {name}: {e}"),
                UserProblem::NoSuchUser => write!(f, "--user {name}: no such user"),
                UserProblem::Root => write!(
                    f,
                    "--user {name}: the command never runs as root (it would be host root)"
                ),
            },
            SpecError::NoHome(user) => {
                write!(f, "--home host: {user} has no home directory to share")
            }
            SpecError::Bind {
                option,
                spec,
                source: None,
            } => write!(f, "{option} {spec}: give absolute paths"),
            SpecError::Bind {
                option,
                spec,
                source: Some((path, e)),
            } => write!(f, "{option} {spec}: {}: {e}", path.display()),
            SpecError::NotADirectory(path) => write!(f, "{} is not a directory", path.display()),
            SpecError::CreateDir { path, source } => {
                write!(f, "creating {}: {source}", path.display())
            }
            SpecError::Resolve { path, source } => write!(f, "{}: {source}", path.display()),
            SpecError::ProfileName(name) => write!(
                f,
                "--profile {name:?}: use letters, digits, '.', '_' and '-' only"
            ),
            SpecError::ProfileNeedsHome => f.write_str("--profile: set HOME or XDG_DATA_HOME"),
            SpecError::SetEnv(pair) => write!(f, "--setenv {pair}: expected VAR=VALUE"),
        }
    }
}

impl std::error::Error for SpecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpecError::OptIn(e) => Some(e),
            SpecError::Share { source, .. }
            | SpecError::CreateDir { source, .. }
            | SpecError::Resolve { source, .. }
            | SpecError::Bind {
                source: Some((_, source)),
                ..
            } => Some(source),
            SpecError::User {
                why: UserProblem::Lookup(e),
                ..
            } => Some(e),
            _ => None,
        }
    }
}
