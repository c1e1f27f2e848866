//! Why a sandbox could not be set up: one error type for every step of [`super::spawn`],
//! its PID 1's setup included, each naming the step and keeping the system's reason
//! as its [`source`](std::error::Error::source).
//!
//! PID 1 runs in its own copy of the launcher's memory, so its errors cross the control
//! socket as their text ([`SetupError::InSandbox`]).

use std::error::Error;
use std::fmt;

use nix::errno::Errno;

/// Why a sandbox could not be set up. The Display text is the message users see, after
/// `torsocks-ns: `.
#[derive(Debug)]
pub(crate) enum SetupError {
    /// A step failed for a reason the system gave.
    Step {
        /// What was being done ("bringing lo up", "mounting a fresh /proc").
        doing: String,
        /// Why it failed.
        source: Reason,
    },
    /// The namespaces could not be created.
    Namespaces(Errno),
    /// `/dev/net/tun` could not be opened or the device created.
    Tun(std::io::Error),
    /// A precondition no system call reported (a NUL byte in an argument, no command).
    Invalid(String),
    /// The sandbox's PID 1 failed; its own message.
    InSandbox(String),
    /// The sandbox's PID 1 ended before its network was ready.
    Ended,
}

/// The system's reason for a failed step.
#[derive(Debug)]
pub(crate) enum Reason {
    /// An errno from a nix call.
    Errno(Errno),
    /// An I/O error.
    Io(std::io::Error),
    /// Any other library's error (netlink, seccomp, capabilities).
    Other(Box<dyn Error + Send + Sync>),
}

impl SetupError {
    /// `doing` failed with a nix errno.
    pub(crate) fn errno(doing: impl fmt::Display) -> impl FnOnce(Errno) -> SetupError {
        move |e| SetupError::step(doing, Reason::Errno(e))
    }

    /// `doing` failed with an I/O error.
    pub(crate) fn io(doing: impl fmt::Display) -> impl FnOnce(std::io::Error) -> SetupError {
        move |e| SetupError::step(doing, Reason::Io(e))
    }

    /// `doing` failed with another library's error.
    pub(crate) fn other<E: Error + Send + Sync + 'static>(
        doing: impl fmt::Display,
    ) -> impl FnOnce(E) -> SetupError {
        move |e| SetupError::step(doing, Reason::Other(Box::new(e)))
    }

    /// `doing` failed; errno says why.
    pub(crate) fn last_os(doing: impl fmt::Display) -> SetupError {
        SetupError::io(doing)(std::io::Error::last_os_error())
    }

    fn step(doing: impl fmt::Display, source: Reason) -> SetupError {
        SetupError::Step {
            doing: doing.to_string(),
            source,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // nix's own Display adds the errno's name; the message keeps the sentence.
            Reason::Errno(e) => f.write_str(e.desc()),
            Reason::Io(e) => e.fmt(f),
            Reason::Other(e) => e.fmt(f),
        }
    }
}

impl Error for Reason {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Reason::Errno(e) => Some(e),
            Reason::Io(e) => Some(e),
            Reason::Other(e) => Some(e.as_ref()),
        }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Step { doing, source } => write!(f, "{doing}: {source}"),
            SetupError::Namespaces(e) => {
                write!(f, "cannot create the sandbox's namespaces: {}", e.desc())?;
                if *e == Errno::EPERM || *e == Errno::ENOSPC {
                    f.write_str(
                        ". Unprivileged user namespaces are disabled: check `sysctl \
                         user.max_user_namespaces` (must be > 0), \
                         `kernel.unprivileged_userns_clone` (Debian: 1) and \
                         `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 24.04 and \
                         later: the AppArmor profile that allows torsocks-ns user namespaces \
                         must be loaded: `sudo apparmor_parser -r /etc/apparmor.d/torsocks-ns`, \
                         shipped by the package and in packaging/apparmor/; or set the sysctl \
                         to 0)",
                    )?;
                }
                Ok(())
            }
            SetupError::Tun(e) => match e.raw_os_error() {
                Some(libc::ENOENT) => {
                    f.write_str("/dev/net/tun is missing: load the tun module (modprobe tun)")
                }
                Some(libc::EACCES | libc::EPERM) => write!(
                    f,
                    "/dev/net/tun is not usable ({e}): it must be readable and writable by you \
                     (mode 0666 on most distributions)"
                ),
                _ => write!(f, "creating the TUN device: {e}"),
            },
            SetupError::Invalid(what) => f.write_str(what),
            SetupError::InSandbox(message) => f.write_str(message),
            SetupError::Ended => f.write_str("the sandbox ended before its network was ready"),
        }
    }
}

impl Error for SetupError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            SetupError::Step { source, .. } => Some(source),
            SetupError::Namespaces(e) => Some(e),
            SetupError::Tun(e) => Some(e),
            SetupError::Invalid(_) | SetupError::InSandbox(_) | SetupError::Ended => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_step_and_keep_the_reason_as_source() {
        let e = SetupError::errno("bringing lo up")(Errno::EPERM);
        assert_eq!(e.to_string(), "bringing lo up: Operation not permitted");
        let reason = e.source().unwrap();
        assert_eq!(
            reason.source().unwrap().to_string(),
            Errno::EPERM.to_string()
        );
        let io =
            SetupError::io("writing /etc/hosts")(std::io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(io
            .to_string()
            .starts_with("writing /etc/hosts: No space left on device"));
    }

    #[test]
    fn namespace_and_tun_errors_say_how_to_fix_them() {
        assert!(SetupError::Namespaces(Errno::EPERM)
            .to_string()
            .contains("user.max_user_namespaces"));
        assert!(!SetupError::Namespaces(Errno::ENOMEM)
            .to_string()
            .contains("sysctl"));
        let missing = SetupError::Tun(std::io::Error::from_raw_os_error(libc::ENOENT));
        assert!(missing.to_string().contains("modprobe tun"));
        let denied = SetupError::Tun(std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(denied.to_string().contains("mode 0666"));
    }
}
