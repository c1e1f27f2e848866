//! `torsocks-ns`: run a program in a network namespace whose only way out is Tor.
//!
//! Two programs are built from this library: `torsocks-ns` (the launcher, [`main`]) and,
//! with the `embedded-tor` feature, `torsocks-arti` ([`arti_main`]), the embedded Tor
//! client in a process of its own that the launcher starts only when a run asks for it.
//!
//! The launcher's modules, in the order a run uses them:
//!
//! * [`cli`] — the command line (clap) and how options override `torsocks.conf`.
//! * [`settings`] — the configuration shared with preload mode (torsocks-core).
//! * [`confine`] — the launcher not dumpable and without core files from its start,
//!   and confined (own namespaces, empty root, no capabilities, Landlock, seccomp)
//!   once the sandbox runs.
//! * [`tor_check`] — makes sure Tor's SOCKS port answers before anything starts.
//! * [`tor_kind`] — which Tor a run uses: the daemon, or the [`embedded`] client
//!   (Arti, in the `torsocks-arti` process started after the sandbox is forked,
//!   serving SOCKS on loopback).
//! * [`helper`] — preload mode with the embedded client (`torsocks --embedded`).
//! * [`control`] — Tor's ControlPort, when configured: [`bootstrap`] progress, onion
//!   services ([`onion_service`]), NEWNYM.
//! * [`spec`] — what the sandbox is made of, decided from the options and the host.
//! * [`ns`] — the sandbox: its PID 1 in new user, network, mount, PID, UTS and IPC
//!   namespaces, `tun0`, the mounts, every privilege dropped, the TUN fd passed back.
//! * [`limits`] — the open-file limit against the connections to hold.
//! * [`page_alloc`] — the allocator: large buffers in pages of their own.
//! * [`session`] — the userspace stack (crate `netstack`) on the TUN device, a task per
//!   TCP flow dialing Tor, a task per DNS query, signals and the exit status.
//! * [`tor`] — the one interface to Tor: open a stream, resolve a name or an address.
//! * [`listening`] — whether Tor's SOCKS port on this machine still listens (sock_diag).
//! * [`this_machine`] — destinations that name the machine itself, refused.
//! * [`isolation`] — which SOCKS credentials (and so which circuits) each request gets.
//! * [`publish`] — published ports: host connections relayed into the sandbox.
//! * [`dns`] — the DNS server every query of the sandbox reaches.
//! * [`socks_port`] — the sandbox's own SOCKS port, for Tor-aware programs.
//! * [`slots`] — caps on what is in flight (DNS queries, SOCKS clients).
//! * [`accept`] — serving the launcher's listening sockets under such a cap.
//! * [`vpool`] — virtual addresses for `.onion` and automapped names, bounded.
//! * [`stats`] — the `--stats` summary.
//! * [`early_signals`] — a new identity asked for before the session runs.
//! * [`files`] — files written for the user, never through a planted link.
//! * [`check`] — `--check`: is the machine ready, does the sandbox hold.

// Unsafe code lives only in the modules that make system calls, each of which says so.
#![deny(unsafe_code)]
// This page is a guided tour of the private modules: `cargo doc --document-private-items`
// renders it whole; the library's public face is only the two programs' entry points.
#![allow(rustdoc::private_intra_doc_links)]

#[cfg(feature = "embedded-tor")]
mod arti;
mod confine;
/// Held by a test while a forked child of the test process lives, and by tests whose
/// assertions a fork would upset: a forked child holds a copy of every descriptor of
/// the process (other tests' listeners among them) until it runs and closes them.
#[cfg(test)]
pub(crate) static FORKS: std::sync::Mutex<()> = std::sync::Mutex::new(());
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod limits;
mod names;
mod ns;
mod run;
mod serve;
mod session;
mod tor;

/// Large allocations (the stack's buffers) are mappings of their own: see [`session::page_alloc`].
#[global_allocator]
static ALLOCATOR: session::page_alloc::PageMapped = session::page_alloc::PageMapped;

#[cfg(feature = "embedded-tor")]
use arti as embedded;
use names::vpool;
use run::{check, cli, early_signals, embedded_preload as helper, files, settings, spec, stats};
use serve::publish;
use tor::control::{self, bootstrap, onion_service};
use tor::{isolation, kind as tor_kind, this_machine};

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;

use clap::Parser;
use netstack::stack::StackConfig;
use torsocks_core::config::value::onion_range;
use torsocks_core::socks5::Auth;

/// Exit status for failures of torsocks-ns itself (as preload mode's bad configuration).
const EXIT_SETUP_FAILED: u8 = 1;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("torsocks-ns: {message}");
    ExitCode::from(EXIT_SETUP_FAILED)
}

/// The ControlPort connection, when one is configured (options over torsocks.conf).
fn control_port(
    args: &cli::Args,
    config: &torsocks_core::config::Config,
) -> Result<Option<control::Control>, String> {
    let addr = match &args.control {
        Some(text) => Some(
            torsocks_core::config::value::control_port(text)
                .map_err(|_| format!("--control {text}: expected ADDR:PORT or PORT"))?,
        ),
        None => config.control_port,
    };
    let Some(addr) = addr else {
        return Ok(None);
    };
    let credentials = match (&args.control_password, &args.control_cookie) {
        (Some(p), _) => control::Credentials::Password(p.clone().into_bytes()),
        (None, Some(c)) => control::Credentials::Cookie(c.clone()),
        (None, None) => match (&config.control_password, &config.control_cookie) {
            (Some(p), _) => control::Credentials::Password(p.clone()),
            (None, Some(c)) => control::Credentials::Cookie(c.clone()),
            (None, None) => control::Credentials::Auto,
        },
    };
    control::Control::connect(addr, &credentials).map(Some)
}

/// The launcher, `torsocks-ns`.
pub fn main() -> ExitCode {
    confine::from_the_start();
    early_signals::install();
    let mut args = cli::Args::parse();
    if let Some(shell) = args.completions {
        let mut command = <cli::Args as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "torsocks-ns", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    if let Some(leaked) = &args.check_inside {
        return check::inside::run(leaked);
    }
    let config = match settings::load(&args) {
        Ok(config) => config,
        Err(message) => return fail(message),
    };
    if let Err(message) = spec::apply_profile(&mut args) {
        return fail(message);
    }
    if let Some(library) = &args.preload {
        return helper::run(&args, &config, library);
    }
    let buffers = match limits::buffer_plan(
        args.buffer_budget,
        args.buffer_kib,
        args.max_connections,
        args.max_dns_queries,
        args.mtu as usize,
    ) {
        Ok(plan) => plan,
        Err(message) => return fail(message),
    };
    if args.check {
        let endpoint = config.tor_endpoint();
        let tor_args: Vec<std::ffi::OsString> = vec![
            "-a".into(),
            endpoint.ip().to_string().into(),
            "-P".into(),
            endpoint.port().to_string().into(),
        ];
        let version = match control_port(&args, &config) {
            Ok(Some(control)) => control.version.clone(),
            Ok(None) => None,
            Err(message) => {
                println!("✗ {message}");
                return ExitCode::from(1);
            }
        };
        let policy = match spec::describe(&args) {
            Ok(mut policy) => {
                policy.push(buffers.describe());
                policy
            }
            Err(message) => return fail(message),
        };
        return check::run(endpoint, &tor_args, version, &policy);
    }
    let range = match onion_range(&args.virtual_range) {
        Ok(range) => range,
        Err(e) => return fail(format!("--virtual-range: {e}")),
    };
    let publishes: Vec<publish::Publish> = match args
        .publish
        .iter()
        .map(|p| publish::parse(p, args.publish_any))
        .collect()
    {
        Ok(p) => p,
        Err(message) => return fail(message),
    };
    let kind = args.tor_kind.unwrap_or_else(|| config.tor_client.into());
    let (chosen, why) = match tor_kind::choose(
        kind,
        |probe| {
            let notice = tor_kind::probe(config.tor_endpoint(), probe)?;
            if let Some(notice) = notice {
                eprintln!("torsocks-ns: {notice}");
            }
            Ok(())
        },
        tor_kind::EMBEDDED_BUILT_IN,
    ) {
        Ok(choice) => choice,
        Err(message) => return fail(message),
    };
    if let (true, Some(why)) = (args.debug, &why) {
        eprintln!("torsocks-ns: {why}");
    }
    let embedded_tor = chosen == tor_kind::Chosen::Embedded;
    #[cfg(feature = "embedded-tor")]
    let embedded_options = match embedded_tor.then(|| embedded::Options::from_args(&args)) {
        Some(Ok(options)) => Some(options),
        Some(Err(message)) => return fail(message),
        None => None,
    };
    let mappings: Vec<(u16, u16)> = match args
        .onion_service
        .iter()
        .map(|m| onion_service::parse_mapping(m))
        .collect()
    {
        Ok(m) => m,
        Err(message) => return fail(message),
    };
    if embedded_tor && (!mappings.is_empty() || args.control.is_some()) {
        return fail(
            "--onion-service and --control need a tor daemon's ControlPort; the embedded \
             Tor client has none (give --tor daemon)",
        );
    }
    // The embedded client has no ControlPort: a TorControlPort in torsocks.conf is for
    // the daemon.
    let mut control = match embedded_tor {
        true => None,
        false => match control_port(&args, &config) {
            Ok(control) => control,
            Err(message) => return fail(message),
        },
    };
    if control.is_none() && !mappings.is_empty() {
        return fail(
            "--onion-service needs Tor's ControlPort: give --control ADDR:PORT (or \
             TorControlPort in torsocks.conf), and its password or cookie",
        );
    }
    if let Some(control) = control.as_mut() {
        use std::io::IsTerminal;
        let limit = std::time::Duration::from_secs(args.bootstrap_timeout);
        if let Err(message) = bootstrap::wait(control, limit, std::io::stderr().is_terminal()) {
            return fail(message);
        }
    }
    let pid = std::process::id();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // The user's own credentials are sent as they are (as in preload mode); otherwise
    // the mode decides (IsolatePID asks for what `session` does anyway).
    let configured = match config.socks_auth(pid, now) {
        auth @ Auth::UserPass { .. } if !config.isolate_pid => Some(auth),
        _ => None,
    };
    let mode = match (args.isolation_mode(), &configured) {
        (Some(mode), Some(_)) if mode != isolation::Mode::None => {
            return fail(format!(
                "--isolate {}: SOCKS5Username/-u credentials are sent as they are; \
                 drop them to isolate",
                clap::ValueEnum::to_possible_value(&mode)
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            ))
        }
        (mode, _) => mode.unwrap_or(isolation::Mode::Session),
    };
    let isolation = isolation::Isolation::new(mode, configured, format!("torsocks-ns-{pid}:{now}"));

    let mut stack_config = StackConfig {
        rx_buffer: buffers.buffer,
        tx_buffer: buffers.buffer,
        max_flows: buffers.max_connections as usize,
        mtu: args.mtu as usize,
        // RandomState's keys come from the operating system's randomness, per process.
        random_seed: std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), pid),
        // The TUN device carries virtio-net headers (ns::tun).
        checksum_offload: true,
        ..StackConfig::default()
    };
    let plan = ns::NetPlan {
        program_v4: (Ipv4Addr::new(10, 241, 0, 2), stack_config.ipv4.prefix),
        stack_v4: stack_config.ipv4.addr,
        program_v6: (
            Ipv6Addr::new(0xfd74, 0x6f72, 0, 0, 0, 0, 0, 2),
            stack_config.ipv6.prefix,
        ),
        stack_v6: stack_config.ipv6.addr,
        mtu: stack_config.mtu as u32,
    };
    let launcher_files = spec::launcher_files(&args, &config);
    let spec = match spec::sandbox_spec(&args, plan, stack_config.ipv4.addr, launcher_files) {
        Ok(spec) => spec,
        Err(message) => return fail(message),
    };
    let mut sandbox = match ns::spawn(&spec) {
        Ok(sandbox) => sandbox,
        Err(message) => return fail(message),
    };
    // The embedded client starts only now, in the launcher alone: the sandbox's PID 1
    // was forked before any of its state or threads existed.
    #[cfg(feature = "embedded-tor")]
    let embedded_client = match &embedded_options {
        Some(options) => match embedded::process::Helper::start(options) {
            Ok(client) => Some(client),
            Err(message) => return fail(message),
        },
        None => None,
    };
    #[cfg(feature = "embedded-tor")]
    let tor_endpoint = embedded_client
        .as_ref()
        .map_or(config.tor_endpoint(), embedded::process::Helper::socks_addr);
    #[cfg(not(feature = "embedded-tor"))]
    let tor_endpoint = config.tor_endpoint();
    // Bound once the sandbox exists, so that its PID 1 never holds them.
    let mut published = Vec::new();
    for p in &publishes {
        match std::net::TcpListener::bind(p.host) {
            Ok(listener) => published.push((listener, p.sandbox_port)),
            Err(e) => return fail(format!("--publish: cannot listen on {}: {e}", p.host)),
        }
    }
    let mut onion_id = None;
    if let (Some(control), false) = (control.as_mut(), mappings.is_empty()) {
        match onion_service::publish(control, &mappings, args.onion_key.as_deref()) {
            Ok(service) => {
                let address = format!("{}.onion", service.id);
                for &(virt, port) in &mappings {
                    eprintln!(
                        "torsocks-ns: onion service {address}: port {virt} is the sandbox's port {port}"
                    );
                }
                if let Some(path) = &args.onion_address_file {
                    if let Err(e) = files::replace(path, format!("{address}\n").as_bytes()) {
                        return fail(format!("--onion-address-file {}: {e}", path.display()));
                    }
                }
                published.extend(service.listeners);
                onion_id = Some(service.id);
            }
            Err(message) => return fail(message),
        }
    }
    let control = control.map(|c| std::rc::Rc::new(std::cell::RefCell::new(c)));
    // Only now, so that the command keeps the usual limit.
    let (max_flows, max_dns_queries) =
        limits::fd_budget(buffers.max_connections, args.max_dns_queries);
    stack_config.max_flows = max_flows as usize;
    if args.debug {
        for line in spec::describe(&args).unwrap_or_default() {
            eprintln!("torsocks-ns: {line}");
        }
        eprintln!("torsocks-ns: {}", buffers.describe());
        eprintln!(
            "torsocks-ns: {} host sockets masked in the sandbox",
            sandbox.masked_sockets
        );
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("runtime: {e}")),
    };
    let tor = tor::Tor::new(
        tor_endpoint,
        isolation,
        tor::Deadlines::default().overridden(
            args.connect_timeout
                .or(config.connect_timeout.map(u64::from)),
            args.resolve_timeout
                .or(config.resolve_timeout.map(u64::from)),
        ),
    )
    .refusing(this_machine::ThisMachine::read());
    ns::tun::release_after_exit(&sandbox.tun);
    #[cfg(feature = "embedded-tor")]
    let helper_pid = embedded_client.as_ref().map(|c| c.pid() as i32);
    #[cfg(not(feature = "embedded-tor"))]
    let helper_pid = None;
    let signal_targets = std::iter::once(sandbox.child.as_raw())
        .chain(helper_pid)
        .collect();
    let confinement = confine::Confinement {
        account: nix::unistd::getuid().is_root().then_some(confine::Account {
            uid: spec.run_as.uid,
            gid: spec.run_as.gid,
        }),
        tor_port: tor_endpoint.port(),
        reach: confine::Reach {
            signal_targets,
            own_pid: pid as i32,
        },
        name_refused_calls: args.debug,
    };
    match confine::launcher(&confinement) {
        Ok(confined) if args.debug => {
            for line in confined.describe() {
                eprintln!("torsocks-ns: {line}");
            }
        }
        Ok(_) => {}
        Err(message) => return fail(format!("the launcher cannot confine itself: {message}")),
    }
    let session = session::SessionConfig {
        tor,
        max_dns_queries: max_dns_queries as usize,
        socks_listeners: std::mem::take(&mut sandbox.socks_listeners),
        published,
        control: control.clone(),
        // Each client holds two fds (its own and its Tor stream).
        max_socks_clients: (max_flows as usize / 2).max(1),
        pool: vpool::VirtualPool::new(range),
        automap: args.automap,
        stack: stack_config,
        chunk: buffers.chunk,
        debug: args.debug,
    };
    let local = tokio::task::LocalSet::new();
    let (status, summary) = local.block_on(&runtime, async move {
        match sandbox.go() {
            Ok(started) => session::run(started, session).await,
            Err(e) => {
                eprintln!("torsocks-ns: starting the command: {e}");
                (1, session::Summary::default())
            }
        }
    });
    drop(local);
    drop(runtime);
    #[cfg(feature = "embedded-tor")]
    drop(embedded_client);
    if let (Some(control), Some(id)) = (&control, &onion_id) {
        if let Err(message) = control.borrow_mut().del_onion(id) {
            eprintln!("torsocks-ns: {message}");
        }
    }
    if args.stats || args.debug {
        eprint!("{}", stats::render(&summary));
    }
    ExitCode::from(status.clamp(0, 255) as u8)
}

/// The embedded Tor client's process, `torsocks-arti`: see [`embedded::process`].
#[cfg(feature = "embedded-tor")]
pub fn arti_main() -> ExitCode {
    confine::from_the_start();
    embedded::process::serve()
}
