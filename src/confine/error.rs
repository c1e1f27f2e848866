//! Why a confinement step failed: the step in the user's words, the system's reason as
//! the source. A step that fails means the process must not go on.

use std::fmt;
#[cfg(feature = "embedded-tor")]
use std::path::PathBuf;

/// A confinement step.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// PR_SET_NO_NEW_PRIVS.
    NoNewPrivs,
    /// The handler that names a refused call under `-d`.
    SigsysHandler,
    /// Building or applying a seccomp filter.
    Seccomp,
    /// Clearing the capability sets.
    Capabilities,
    /// setgroups([]).
    Groups,
    /// setresgid.
    Group(u32),
    /// setresuid.
    User(u32),
    /// One operation of the launcher's empty root.
    EmptyRoot(&'static str),
    /// Tor's SOCKS port on a Unix socket, out of the launcher's reach as the user it
    /// became.
    TorSocket(std::path::PathBuf),
    /// A Landlock ruleset.
    Landlock,
    /// A directory the embedded client's Landlock rules must open.
    #[cfg(feature = "embedded-tor")]
    LandlockDir(PathBuf),
}

/// A confinement step that failed, and why.
#[derive(Debug)]
pub(crate) struct ConfineError {
    step: Step,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl ConfineError {
    /// `step` failed for `source`.
    pub(crate) fn new(
        step: Step,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ConfineError {
            step,
            source: source.into(),
        }
    }

    /// A function that makes this error of `step` from its cause (for `map_err`).
    pub(crate) fn at<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
        step: Step,
    ) -> impl FnOnce(E) -> ConfineError {
        move |source| ConfineError::new(step, source)
    }
}

impl fmt::Display for ConfineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = &self.source;
        match &self.step {
            Step::NoNewPrivs => write!(f, "no new privileges: {source}"),
            Step::SigsysHandler => write!(f, "a SIGSYS handler: {source}"),
            Step::Seccomp => write!(f, "the seccomp filter: {source}"),
            Step::Capabilities => write!(f, "dropping capabilities: {source}"),
            Step::Groups => write!(f, "dropping supplementary groups: {source}"),
            Step::Group(gid) => write!(f, "changing to group {gid}: {source}"),
            Step::User(uid) => write!(f, "changing to user {uid}: {source}"),
            Step::EmptyRoot(what) => write!(f, "the launcher's empty root: {what}: {source}"),
            Step::TorSocket(path) => write!(
                f,
                "Tor's SOCKS socket {}: {source}: the launcher runs as the command's user \
                 (uid {}), with the socket's group as its only other group; make the socket \
                 and its directories reachable by that user or group",
                path.display(),
                nix::unistd::getuid()
            ),
            Step::Landlock => write!(f, "Landlock: {source}"),
            #[cfg(feature = "embedded-tor")]
            Step::LandlockDir(dir) => write!(
                f,
                "Landlock: {}: {source} (the client keeps no capability, root-run too: its \
                 directories must be reachable by its uid alone)",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for ConfineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
