//! Landlock, where the kernel has it: no file of any kind may be opened, created or
//! executed, TCP connections go only to Tor's ports, nothing is bound, abstract unix
//! sockets of the host (in the host's network namespace, which the launcher shares)
//! cannot be reached. A second wall behind the empty root, and the only one on the
//! file system when the kernel refuses the launcher a user namespace.

use landlock::{
    Access, AccessFs, AccessNet, NetPort, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope, ABI,
};

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
pub(crate) fn restrict(tor_ports: &[u16]) -> Result<Enforced, String> {
    let fail = |e: landlock::RulesetError| format!("Landlock: {e}");
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
