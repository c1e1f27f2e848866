//! The launch of a run, in named phases, each carrying out its part of the
//! [`RunPlan`]:
//!
//! 1. [`prepare_tor`] — choose the daemon or the embedded client, reach the
//!    ControlPort, wait for Tor to bootstrap.
//! 2. [`make_sandbox`] — the sandbox's PID 1 cloned into its namespaces. The process
//!    must still have one thread ([`SingleThreaded`] proves it), so this comes before
//!    anything that starts one.
//! 3. [`start_embedded`] — the embedded client's process, after the clone: the
//!    sandbox's PID 1 never holds any of its state.
//! 4. [`bind_services`] — published ports and the onion service, bound once the
//!    sandbox exists so that its PID 1 never holds them.
//! 5. [`confine_launcher`] — the launcher's own confinement, once everything it
//!    opens is open: after this it can open, bind or start nothing.
//! 6. [`serve()`] — the session: the command runs, the stack serves it; at its end
//!    the onion service is removed.
//! 7. [`tear_down`] — the summary, the exit status.

mod attach;
mod client;
mod error;

use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use torsocks_core::config::Config;

use crate::confine;
use crate::join;
use crate::names::vpool::VirtualPool;
use crate::ns::{self, SingleThreaded};
use crate::run::plan::{PlanError, RunId, RunPlan};
use crate::run::{check, cli::Args, embedded_preload, files, settings, spec, stats};
use crate::serve::{self, Listeners};
use crate::session::{self, SessionConfig, Summary};
use crate::tor::control::{self, bootstrap, onion_service, Control};
use crate::tor::kind::{self, Chosen};
use crate::tor::stream::TorAddr;
use crate::tor::this_machine::ThisMachine;
use crate::tor::Tor;
use client::{Client, ClientOptions};
pub(crate) use error::LaunchError;

/// Exit status for failures of torsocks-ns itself (as preload mode's bad configuration).
const EXIT_SETUP_FAILED: u8 = 1;

fn fail(message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("torsocks-ns: {message}");
    ExitCode::from(EXIT_SETUP_FAILED)
}

/// `torsocks-ns`: the command line, then one of its modes: completions, a sandbox's
/// own check, preload mode with the embedded client, `--check`, or a run.
pub(crate) fn main() -> ExitCode {
    let mut args = Args::parse();
    if let Some(shell) = args.completions {
        let mut command = <Args as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "torsocks-ns", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    if let Some(leaked) = &args.check_inside {
        return check::inside::run(leaked);
    }
    if args.list {
        return join::list().map_or_else(|e| fail(&e), |()| ExitCode::SUCCESS);
    }
    if let Some(target) = &args.join {
        return match join::join(target, &args.command, args.new_session) {
            Ok(status) => ExitCode::from(status.clamp(0, 255) as u8),
            Err(e) => fail(&e),
        };
    }
    let config = match settings::load(&args) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    if let Err(e) = spec::apply_profile(&mut args) {
        return fail(&e);
    }
    if let Some(library) = &args.preload {
        return embedded_preload::run(&args, &config, library);
    }
    let plan = RunPlan::build(&args, &config, RunId::of_this_process());
    if let Some(pid) = args.attach {
        return match plan
            .map_err(LaunchError::from)
            .and_then(|plan| attach::launch(&args, plan, pid))
        {
            Ok(status) => ExitCode::from(status),
            Err(e) => fail(&e),
        };
    }
    if args.check {
        return check_readiness(&args, plan);
    }
    match plan
        .map_err(LaunchError::from)
        .and_then(|plan| launch(&args, &config, plan))
    {
        Ok(status) => ExitCode::from(status),
        Err(e) => fail(&e),
    }
}

/// `--check`: the checklist, with the policy this run would get.
fn check_readiness(args: &Args, plan: Result<RunPlan, PlanError>) -> ExitCode {
    let plan = match plan {
        Ok(plan) => plan,
        Err(e @ PlanError::Control(_)) => {
            println!("✗ {e}");
            return ExitCode::from(1);
        }
        Err(e) => return fail(&e),
    };
    let tor_args: Vec<std::ffi::OsString> = match &plan.daemon {
        TorAddr::Tcp(addr) => vec![
            "-a".into(),
            addr.ip().to_string().into(),
            "-P".into(),
            addr.port().to_string().into(),
        ],
        unix => vec!["-a".into(), unix.to_string().into()],
    };
    let version = match plan.control.as_ref().map(Control::connect) {
        Some(Ok(control)) => control.version.clone(),
        Some(Err(e)) => {
            println!("✗ {e}");
            return ExitCode::from(1);
        }
        None => None,
    };
    let mut policy = match spec::describe(args) {
        Ok(policy) => policy,
        Err(e) => return fail(&e),
    };
    policy.push(plan.buffers.describe());
    check::run(&plan.daemon, &tor_args, version, &policy)
}

/// A run: the phases in order; the command's exit status.
fn launch(args: &Args, config: &Config, mut plan: RunPlan) -> Result<u8, LaunchError> {
    if let Some(name) = &args.name {
        join::available(name)?;
    }
    let mut tor = prepare_tor(args, &mut plan)?;
    let (mut sandbox, run_as) = make_sandbox(args, config, &plan, SingleThreaded::now()?)?;
    let client = start_embedded(tor.client_options.as_ref())?;
    let endpoint = socks_port(client.as_ref(), &plan);
    let services = bind_services(&plan, &mut sandbox, tor.control.as_mut())?;
    let session = session_config(args, plan, endpoint.clone());
    // Before the confinement, which allows no new epoll instance.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LaunchError::Runtime)?;
    confine_launcher(args, &sandbox, run_as, client.as_ref(), endpoint)?;
    let (status, summary) = serve(&runtime, sandbox, services, tor.control, session);
    drop(client);
    Ok(tear_down(args, &summary, status))
}

/// The SOCKS port the session uses: the embedded client's, else the daemon's.
fn socks_port(client: Option<&Client>, plan: &RunPlan) -> TorAddr {
    match client {
        Some(client) => TorAddr::Tcp(client.socks_addr()),
        None => plan.daemon.clone(),
    }
}

/// What [`prepare_tor`] settled.
struct PreparedTor {
    /// The ControlPort, authenticated, Tor bootstrapped (a daemon's, when configured).
    control: Option<Control>,
    /// The embedded client's options, when it was chosen.
    client_options: Option<ClientOptions>,
}

/// Which Tor, its ControlPort, and Tor bootstrapped.
fn prepare_tor(args: &Args, plan: &mut RunPlan) -> Result<PreparedTor, LaunchError> {
    let daemon = plan.daemon.clone();
    let (chosen, why) = kind::choose(
        plan.tor_kind,
        |probe| {
            if let Some(notice) = kind::probe(&daemon, probe)? {
                eprintln!("torsocks-ns: {notice}");
            }
            Ok(())
        },
        kind::EMBEDDED_BUILT_IN,
    )?;
    if let (true, Some(why)) = (args.debug, &why) {
        eprintln!("torsocks-ns: {why}");
    }
    let client_options = match chosen {
        Chosen::Embedded => Some(
            client::options(
                plan,
                args.tor_state.as_deref(),
                args.arti_config.clone(),
                args.debug,
            )
            .map_err(LaunchError::Client)?,
        ),
        Chosen::Daemon => None,
    };
    let debian = match (chosen, &plan.control) {
        (Chosen::Daemon, None) => debian_control(args, plan)?,
        _ => None,
    };
    plan.for_tor(chosen, args.control.is_some())?;
    let mut control = match debian {
        Some(control) => Some(control),
        None => plan.control.as_ref().map(Control::connect).transpose()?,
    };
    if let Some(control) = control.as_mut() {
        use std::io::IsTerminal;
        bootstrap::wait(
            control,
            plan.bootstrap_timeout,
            std::io::stderr().is_terminal(),
        )?;
    }
    Ok(PreparedTor {
        control,
        client_options,
    })
}

/// Debian's ControlPort when none is configured and it serves the run's Tor: then the
/// plan's. An onion service needs it, so then why it cannot be used is the error;
/// otherwise the run goes on without (no bootstrap wait, no NEWNYM), `-d` says why.
fn debian_control(args: &Args, plan: &mut RunPlan) -> Result<Option<Control>, LaunchError> {
    match control::debian(&plan.daemon) {
        None => Ok(None),
        Some(Ok((endpoint, control))) => {
            if args.debug {
                eprintln!("torsocks-ns: using Tor's ControlPort at {}", endpoint.addr);
            }
            plan.control = Some(endpoint);
            Ok(Some(control))
        }
        Some(Err(e)) if !plan.onion.mappings.is_empty() => Err(e.into()),
        Some(Err(e)) => {
            if args.debug {
                eprintln!("torsocks-ns: not using {}: {e}", control::DEBIAN_SOCKET);
            }
            Ok(None)
        }
    }
}

/// The sandbox, set up and waiting for its go.
fn make_sandbox(
    args: &Args,
    config: &Config,
    plan: &RunPlan,
    one_thread: SingleThreaded,
) -> Result<(ns::Sandbox, ns::RunAs), LaunchError> {
    let launcher_files = spec::launcher_files(args, config);
    let net = plan.network.net;
    let spec = spec::sandbox_spec(args, net, plan.network.stack.ipv4.addr, launcher_files)?;
    let sandbox = ns::spawn(&spec, one_thread)?;
    if let Some(name) = &args.name {
        join::register(name, &registry_entry(&spec, &sandbox, args.new_session))?;
    }
    if args.debug {
        for line in spec::describe(args).unwrap_or_default() {
            eprintln!("torsocks-ns: {line}");
        }
        eprintln!("torsocks-ns: {}", plan.buffers.describe());
        eprintln!(
            "torsocks-ns: {} host sockets masked in the sandbox",
            sandbox.masked_sockets
        );
    }
    Ok((sandbox, spec.run_as))
}

/// What `--join` needs to know of this sandbox: its PID 1 and what its command got.
fn registry_entry(
    spec: &ns::Spec,
    sandbox: &ns::Sandbox,
    new_session: bool,
) -> join::registry::Entry {
    let pid1 = sandbox.child.as_raw();
    join::registry::Entry {
        pid1,
        start: join::start_time_of(pid1).unwrap_or(0),
        launcher: std::process::id() as i32,
        uid: spec.run_as.uid.as_raw(),
        gid: spec.run_as.gid.as_raw(),
        max_procs: spec.bounds.max_procs,
        memory: spec.bounds.memory,
        new_session,
        command: spec.argv.clone(),
        env: spec.env.clone(),
        cwd: std::env::current_dir().ok(),
        allow_userns: spec.allow_userns,
    }
}

/// The embedded client, when it was chosen, bootstrapped.
fn start_embedded(options: Option<&ClientOptions>) -> Result<Option<Client>, LaunchError> {
    options
        .map(Client::start)
        .transpose()
        .map_err(LaunchError::Client)
}

/// What [`bind_services`] opened.
struct Services {
    listeners: Listeners,
    /// The onion service's id, to remove at exit.
    onion_id: Option<String>,
}

/// Published ports bound, the onion service published, its address told.
fn bind_services(
    plan: &RunPlan,
    sandbox: &mut ns::Sandbox,
    control: Option<&mut Control>,
) -> Result<Services, LaunchError> {
    let mut published = Vec::new();
    for p in &plan.publishes {
        let listener =
            std::net::TcpListener::bind(p.host).map_err(|source| LaunchError::Publish {
                addr: p.host,
                source,
            })?;
        published.push((listener, p.sandbox_port));
    }
    let mut onion_id = None;
    if let (Some(control), false) = (control, plan.onion.mappings.is_empty()) {
        let mappings = &plan.onion.mappings;
        let service = onion_service::publish(control, mappings, plan.onion.key.as_deref())?;
        let address = format!("{}.onion", service.id);
        for &(virt, port) in mappings {
            eprintln!(
                "torsocks-ns: onion service {address}: port {virt} is the sandbox's port {port}"
            );
        }
        if let Some(path) = &plan.onion.address_file {
            files::replace(path, format!("{address}\n").as_bytes()).map_err(|source| {
                LaunchError::AddressFile {
                    path: path.clone(),
                    source,
                }
            })?;
        }
        published.extend(service.listeners);
        onion_id = Some(service.id);
    }
    Ok(Services {
        listeners: Listeners {
            socks: std::mem::take(&mut sandbox.socks_listeners),
            published,
        },
        onion_id,
    })
}

/// Everything the session needs from outside, read before the launcher is confined:
/// the open-file limit, this machine's addresses, the ControlPort's socket.
fn session_config(args: &Args, plan: RunPlan, endpoint: TorAddr) -> SessionConfig {
    // Only now, so that the command keeps the usual limit.
    let (max_flows, max_dns_queries) =
        crate::limits::fd_budget(plan.buffers.max_connections, args.max_dns_queries);
    let mut stack = plan.network.stack;
    stack.max_flows = max_flows as usize;
    let tor = Tor::new(endpoint, plan.isolation, plan.deadlines).refusing(ThisMachine::read());
    SessionConfig {
        tor: Rc::new(tor),
        pool: VirtualPool::new(plan.virtual_range),
        automap: args.automap,
        stack,
        chunk: plan.buffers.chunk,
        debug: args.debug,
        half_close_wait: plan.half_close_wait,
        max_dns_queries: max_dns_queries as usize,
        control: None,
        asked_before: crate::run::early_signals::take_new_identity,
    }
}

/// The launcher confined for the rest of its life: [`confine::launcher`].
fn confine_launcher(
    args: &Args,
    sandbox: &ns::Sandbox,
    run_as: ns::RunAs,
    client: Option<&Client>,
    endpoint: TorAddr,
) -> Result<(), LaunchError> {
    let signal_targets = std::iter::once(sandbox.child.as_raw())
        .chain(client.map(|c| c.pid() as i32))
        .collect();
    confine_serving(args, &sandbox.tun, signal_targets, run_as, endpoint)
}

/// The confinement itself, for whatever the session serves through `tun`: signals
/// only to `signal_targets`, a root-run's launcher as `run_as`.
fn confine_serving(
    args: &Args,
    tun: &std::os::fd::OwnedFd,
    signal_targets: Vec<i32>,
    run_as: ns::RunAs,
    endpoint: TorAddr,
) -> Result<(), LaunchError> {
    ns::tun::release_after_exit(tun);
    let confinement = confine::Confinement {
        account: nix::unistd::getuid().is_root().then_some(confine::Account {
            uid: run_as.uid,
            gid: run_as.gid,
        }),
        reach: confine::Reach {
            signal_targets,
            own_pid: std::process::id() as i32,
            ..confine::Reach::default()
        },
        tor: endpoint,
        name_refused_calls: args.debug,
    };
    let confined = confine::launcher(&confinement)?;
    if args.debug {
        for line in confined.describe() {
            eprintln!("torsocks-ns: {line}");
        }
    }
    Ok(())
}

/// The session, until the command exits: its status and the summary. The services
/// start and the ControlPort turns asynchronous in the session's runtime; the onion
/// service is removed at the end of it.
fn serve(
    runtime: &tokio::runtime::Runtime,
    sandbox: ns::Sandbox,
    services: Services,
    control: Option<Control>,
    mut session: SessionConfig,
) -> (i32, Summary) {
    let local = tokio::task::LocalSet::new();
    local.block_on(runtime, async move {
        let started = match sandbox.go() {
            Ok(started) => started,
            Err(e) => {
                eprintln!("torsocks-ns: starting the command: {e}");
                return (1, Summary::default());
            }
        };
        match ns::inward::Connector::new(started.link) {
            Ok(connector) => {
                let (tor, pool) = (Rc::clone(&session.tor), Rc::clone(&session.pool));
                // Each client holds two fds (its own and its Tor stream), within the
                // open-file limit the session's flow cap already follows.
                let max_clients = (session.stack.max_flows / 2).max(1);
                let connector = Rc::new(connector);
                serve::start(
                    services.listeners,
                    tor,
                    pool,
                    connector,
                    max_clients,
                    session.debug,
                );
            }
            Err(e) => eprintln!("torsocks-ns: the link to the sandbox: {e}"),
        }
        session.control = control.and_then(|c| match c.into_async() {
            Ok(c) => Some(Rc::new(tokio::sync::Mutex::new(c))),
            Err(e) => {
                eprintln!("torsocks-ns: Tor's ControlPort: {e}");
                None
            }
        });
        let control = session.control.clone();
        let running = session::Sandbox {
            child: started.child,
            pidfd: started.pidfd,
            tun: started.tun,
            attached: false,
        };
        let outcome = session::run(running, session).await;
        if let (Some(control), Some(id)) = (control, &services.onion_id) {
            if let Err(e) = control.lock().await.del_onion(id).await {
                eprintln!("torsocks-ns: {e}");
            }
        }
        outcome
    })
}

/// The summary printed; the exit status.
fn tear_down(args: &Args, summary: &Summary, status: i32) -> u8 {
    if args.stats || args.debug {
        eprint!("{}", stats::render(summary));
    }
    status.clamp(0, 255) as u8
}
