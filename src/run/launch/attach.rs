//! `--attach PID`: the launch for a network namespace that already exists
//! ([`ns::attach`]): Tor prepared, the namespace attached (its interfaces replaced by
//! `tun0`), the embedded client started, the launcher confined, the session served
//! until the process ends or the launcher is told to stop. No sandbox of ours, so no
//! services into it and no signal to its process.

use std::rc::Rc;

use super::{confine_serving, prepare_tor, session_config, start_embedded, tear_down};
use super::{socks_port, LaunchError};
use crate::ns::{self, SingleThreaded};
use crate::run::cli::Args;
use crate::run::plan::RunPlan;
use crate::session;

/// A root-run's launcher serves as `nobody`: it needs nothing but its descriptors.
const NOBODY: ns::RunAs = ns::RunAs {
    uid: nix::unistd::Uid::from_raw(65534),
    gid: nix::unistd::Gid::from_raw(65534),
};

/// The run: the namespace's Tor-only network until the process `pid` ends (status 0)
/// or a signal ends it (128 + the signal); then the namespace has no network.
pub(super) fn launch(args: &Args, mut plan: RunPlan, pid: i32) -> Result<u8, LaunchError> {
    let tor = prepare_tor(args, &mut plan)?;
    let net = plan.network.net;
    let attached = ns::attach::attach(pid, &net, SingleThreaded::now()?)?;
    for name in &attached.removed {
        eprintln!("torsocks-ns: --attach {pid}: ✓ {name} removed (a way out of the namespace)");
    }
    eprintln!(
        "torsocks-ns: --attach {pid}: ✓ tun0 added ({}/{}, {}/{}), every connection and DNS \
         query through Tor; when torsocks-ns ends, the namespace has no network",
        net.program_v4.0, net.program_v4.1, net.program_v6.0, net.program_v6.1
    );
    let client = start_embedded(tor.client_options.as_ref())?;
    let endpoint = socks_port(client.as_ref(), &plan);
    let mut session = session_config(args, plan, endpoint.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LaunchError::Runtime)?;
    let signal_targets = client.iter().map(|c| c.pid() as i32).collect();
    confine_serving(args, &attached.tun, signal_targets, NOBODY, endpoint)?;
    let local = tokio::task::LocalSet::new();
    let (status, summary) = local.block_on(&runtime, async move {
        session.control = tor
            .control
            .and_then(|c| c.into_async().ok())
            .map(|c| Rc::new(tokio::sync::Mutex::new(c)));
        let served = session::Sandbox {
            child: nix::unistd::Pid::from_raw(pid),
            pidfd: attached.pidfd,
            tun: attached.tun,
            attached: true,
        };
        session::run(served, session).await
    });
    drop(client);
    eprintln!("torsocks-ns: --attach {pid}: detached; the namespace has no network now");
    Ok(tear_down(args, &summary, status))
}
