//! `torsocks-ns`: run a program in a network namespace whose only way out is Tor.
//!
//! The launcher's modules, in the order a run uses them:
//!
//! * [`cli`] — the command line (clap) and how options override `torsocks.conf`.
//! * [`settings`] — the configuration shared with preload mode (torsocks-core).
//! * [`tor_check`] — makes sure Tor's SOCKS port answers before anything starts.
//! * [`ns`] — the sandbox: user + network + mount namespaces, `tun0`, a private
//!   resolv.conf, the TUN fd passed back to the launcher.
//! * [`session`] — the userspace stack (crate `netstack`) on the TUN device, a task per
//!   TCP flow dialing Tor, a task per DNS query, signals and the exit status.
//! * [`tor`] — the one interface to Tor: open a stream, resolve a name or an address.
//! * [`dns`] — the DNS server every query of the sandbox reaches.
//! * [`stats`] — the `--stats` summary.

mod cli;
mod dns;
mod ns;
mod session;
mod settings;
mod stats;
mod tor;
mod tor_check;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use netstack::stack::StackConfig;
use torsocks_core::config::value::onion_range;
use torsocks_core::onion::OnionPool;
use torsocks_core::socks5::Auth;

/// Exit status for failures of torsocks-ns itself (as preload mode's bad configuration).
const EXIT_SETUP_FAILED: u8 = 1;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("torsocks-ns: {message}");
    ExitCode::from(EXIT_SETUP_FAILED)
}

fn main() -> ExitCode {
    let args = cli::Args::parse();
    if let Some(shell) = args.completions {
        let mut command = <cli::Args as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "torsocks-ns", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let config = match settings::load(&args) {
        Ok(config) => config,
        Err(message) => return fail(message),
    };
    let range = match onion_range(&args.virtual_range) {
        Ok(range) => range,
        Err(e) => return fail(format!("--virtual-range: {e}")),
    };
    if let Err(message) = tor_check::socks_port_answers(config.tor_endpoint()) {
        return fail(message);
    }
    let pid = std::process::id();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let auth = match config.socks_auth(pid, now) {
        Auth::NoAuth if !args.no_isolate => Auth::UserPass {
            username: format!("torsocks-ns-{pid}:{now}").into_bytes(),
            password: b"0".to_vec(),
        },
        auth => auth,
    };

    let buffer = args.buffer_kib as usize * 1024;
    let stack_config = StackConfig {
        rx_buffer: buffer,
        tx_buffer: buffer,
        max_flows: args.max_connections as usize,
        mtu: args.mtu as usize,
        ..StackConfig::default()
    };
    let plan = ns::NetPlan {
        program_v4: (Ipv4Addr::new(10, 241, 0, 2), stack_config.ipv4.1),
        stack_v4: stack_config.ipv4.0,
        program_v6: (
            Ipv6Addr::new(0xfd74, 0x6f72, 0, 0, 0, 0, 0, 2),
            stack_config.ipv6.1,
        ),
        stack_v6: stack_config.ipv6.0,
        mtu: stack_config.mtu as u32,
    };
    let resolv = match settings::write_resolv_conf(stack_config.ipv4.0) {
        Ok(file) => file,
        Err(e) => return fail(format!("writing the sandbox's resolv.conf: {e}")),
    };
    let program = ns::Program { argv: args.argv() };
    let sandbox = match ns::spawn(&program, &plan, resolv.path()) {
        Ok(sandbox) => sandbox,
        Err(message) => return fail(message),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("runtime: {e}")),
    };
    let session = session::SessionConfig {
        tor: tor::Tor::new(config.tor_endpoint(), auth),
        pool: Arc::new(OnionPool::new(range)),
        automap: args.automap,
        stack: stack_config,
        debug: args.debug,
    };
    let local = tokio::task::LocalSet::new();
    let (status, summary) = local.block_on(&runtime, async move {
        match sandbox.go() {
            Ok((child, tun)) => session::run(tun, session, child).await,
            Err(e) => {
                eprintln!("torsocks-ns: starting the command: {e}");
                (1, session::Summary::default())
            }
        }
    });
    drop(resolv);
    if args.stats || args.debug {
        eprint!("{}", stats::render(&summary));
    }
    ExitCode::from(status.clamp(0, 255) as u8)
}
