//! Landlock, where the kernel has it: no file of any kind may be opened, created or
//! executed, TCP connections go only to Tor's ports, nothing is bound, abstract unix
//! sockets of the host (in the host's network namespace, which the launcher shares)
//! cannot be reached. A second wall behind the empty root, and the only one on the
//! file system when the kernel refuses the launcher a user namespace.

#[cfg(feature = "embedded-tor")]
use std::path::Path;

use landlock::{
    Access, AccessFs, AccessNet, NetPort, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope, ABI,
};
#[cfg(feature = "embedded-tor")]
use landlock::{PathBeneath, PathFd};

use super::error::{ConfineError, Step};

/// The newest ABI this program knows; an older kernel gets what it has (best effort).
const NEWEST: ABI = ABI::V6;

/// How much of it the kernel enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enforced {
    Fully,
    Partly,
    /// This kernel has no Landlock (or it is not enabled at boot).
    Not,
}

/// Restricts this process (and threads and children it creates from now on): only
/// TCP connections to `tor_ports`.
pub(crate) fn restrict(tor_ports: &[u16]) -> Result<Enforced, ConfineError> {
    let fail = |e: landlock::RulesetError| ConfineError::new(Step::Landlock, e);
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(NEWEST))
        .map_err(fail)?
        .handle_access(AccessNet::from_all(NEWEST))
        .map_err(fail)?
        .scope(Scope::AbstractUnixSocket)
        .map_err(fail)?
        .create()
        .map_err(fail)?;
    for &port in tor_ports {
        ruleset = ruleset
            .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
            .map_err(fail)?;
    }
    let status = ruleset.restrict_self().map_err(fail)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Enforced::Fully,
        RulesetStatus::PartiallyEnforced => Enforced::Partly,
        _ => Enforced::Not,
    })
}

#[cfg(feature = "embedded-tor")]
/// The embedded client's walls: files only beneath its state and cache directories
/// (and cgroup files read, for Arti's memory quota), TCP bound only to an ephemeral
/// port (its SOCKS port), no abstract unix socket and no signal outside itself.
/// Connections stay open to any port: relays listen where they like. Without `dirs`
/// (a configuration that names them through a variable), the file system is not
/// limited.
pub(crate) fn restrict_client(dirs: Option<[&Path; 2]>) -> Result<Enforced, ConfineError> {
    let fail = |e: landlock::RulesetError| ConfineError::new(Step::Landlock, e);
    let mut ruleset = Ruleset::default();
    if dirs.is_some() {
        ruleset = ruleset
            .handle_access(AccessFs::from_all(NEWEST))
            .map_err(fail)?;
    }
    let mut ruleset = ruleset
        .handle_access(AccessNet::BindTcp)
        .map_err(fail)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)
        .map_err(fail)?
        .create()
        .map_err(fail)?
        .add_rule(NetPort::new(0, AccessNet::BindTcp))
        .map_err(fail)?;
    if let Some(dirs) = dirs {
        let own = AccessFs::from_all(NEWEST) & !AccessFs::Execute;
        for dir in dirs {
            let fd =
                PathFd::new(dir).map_err(ConfineError::at(Step::LandlockDir(dir.to_path_buf())))?;
            ruleset = ruleset.add_rule(PathBeneath::new(fd, own)).map_err(fail)?;
        }
        if let Ok(fd) = PathFd::new("/sys/fs/cgroup") {
            let read = AccessFs::from_read(NEWEST) & !AccessFs::Execute;
            ruleset = ruleset.add_rule(PathBeneath::new(fd, read)).map_err(fail)?;
        }
    }
    let status = ruleset.restrict_self().map_err(fail)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced if dirs.is_some() => Enforced::Fully,
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Enforced::Partly,
        _ => Enforced::Not,
    })
}
