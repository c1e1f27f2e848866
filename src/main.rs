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
//! * [`vpool`] — virtual addresses for `.onion` and automapped names, bounded.
//! * [`stats`] — the `--stats` summary.

mod cli;
mod dns;
mod ns;
mod session;
mod settings;
mod stats;
mod tor;
mod tor_check;
mod vpool;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use netstack::stack::StackConfig;
use torsocks_core::config::value::onion_range;
use torsocks_core::socks5::Auth;

use ns::policy;

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
    let mut stack_config = StackConfig {
        rx_buffer: buffer,
        tx_buffer: buffer,
        max_flows: args.max_connections as usize,
        mtu: args.mtu as usize,
        // RandomState's keys come from the operating system's randomness, per process.
        random_seed: std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), pid),
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
    let spec = match sandbox_spec(&args, plan, stack_config.ipv4.0) {
        Ok(spec) => spec,
        Err(message) => return fail(message),
    };
    let sandbox = match ns::spawn(&spec) {
        Ok(sandbox) => sandbox,
        Err(message) => return fail(message),
    };
    // Only now, so that the command keeps the usual limit.
    let (max_flows, max_dns_queries) = fd_budget(args.max_connections, args.max_dns_queries);
    stack_config.max_flows = max_flows as usize;
    if args.debug {
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
    let session = session::SessionConfig {
        tor: tor::Tor::new(
            config.tor_endpoint(),
            auth,
            tor::Deadlines {
                connect: seconds(args.connect_timeout, config.connect_timeout, 120),
                resolve: seconds(args.resolve_timeout, config.resolve_timeout, 30),
            },
        ),
        max_dns_queries: max_dns_queries as usize,
        pool: vpool::VirtualPool::new(range),
        automap: args.automap,
        stack: stack_config,
        debug: args.debug,
    };
    let local = tokio::task::LocalSet::new();
    let (status, summary, tun) = local.block_on(&runtime, async move {
        match sandbox.go() {
            Ok((child, tun)) => session::run(tun, session, child).await,
            Err(e) => {
                eprintln!("torsocks-ns: starting the command: {e}");
                (1, session::Summary::default(), None)
            }
        }
    });
    drop(local);
    drop(runtime);
    if let Some(tun) = tun {
        ns::tun::release_later(tun);
    }
    if args.stats || args.debug {
        eprint!("{}", stats::render(&summary));
    }
    ExitCode::from(status.clamp(0, 255) as u8)
}

/// The sandbox as the options and the host's facts make it.
fn sandbox_spec(args: &cli::Args, net: ns::NetPlan, dns: Ipv4Addr) -> Result<ns::Spec, String> {
    let opt_ins = policy::OptIns {
        sockets: args.allow_socket.clone(),
        x11: args.x11,
        wayland: args.wayland,
        ssh_agent: args.ssh_agent,
        keep_env: args.keep_env.clone(),
    };
    let shares =
        policy::shares(&opt_ins, |name| std::env::var_os(name)).map_err(|e| e.to_string())?;
    for path in &shares.binds {
        if let Err(e) = std::fs::metadata(path) {
            return Err(format!("cannot share {}: {e}", path.display()));
        }
    }
    for &fd in &args.keep_fd {
        if !Path::new(&format!("/proc/self/fd/{fd}")).exists() {
            return Err(format!("--keep-fd {fd}: no such open file descriptor"));
        }
    }
    let mut env = policy::scrub_env(std::env::vars_os(), &shares.keep_env);
    let run_as = match &args.run_as {
        None => None,
        Some(name) => {
            let (run_as, home) = user_named(name)?;
            env.retain(|(k, _)| !["HOME", "USER", "LOGNAME"].iter().any(|v| k == *v));
            env.push(("HOME".into(), home.into_os_string()));
            env.push(("USER".into(), name.into()));
            env.push(("LOGNAME".into(), name.into()));
            Some(run_as)
        }
    };
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute());
    let masked_dirs = policy::masked_dirs(runtime_dir.as_deref());
    let argv = args.argv();
    let mut binds = shares.binds;
    for path in policy::named_paths(
        &argv,
        std::env::var_os("PATH").as_deref(),
        &masked_dirs,
        |p| std::fs::metadata(p).is_ok_and(|m| m.is_file() || m.is_dir()),
    ) {
        if !binds.contains(&path) {
            binds.push(path);
        }
    }
    let resolv = PathBuf::from("/etc/resolv.conf");
    let mounts = ns::MountPlan {
        masked_dirs,
        host_sockets: std::fs::read("/proc/net/unix")
            .map(|table| policy::unix_socket_paths(&table))
            .unwrap_or_default(),
        binds,
        cwd: std::env::current_dir().ok(),
        runtime_dir,
        resolv_target: link_target(&resolv),
        resolv: policy::resolv_conf(dns),
        nsswitch: std::fs::read_to_string("/etc/nsswitch.conf")
            .ok()
            .map(|host| policy::nsswitch_conf(&host)),
    };
    // On a terminal the command stays in its session, for job control; otherwise it
    // gets a session of its own, and kill(0) reaches nothing of the caller's job.
    use std::io::IsTerminal;
    let on_a_terminal = std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal();
    Ok(ns::Spec {
        argv,
        env,
        keep_fds: args.keep_fd.clone(),
        net,
        mounts,
        run_as,
        new_session: args.new_session || !on_a_terminal,
    })
}

/// The file `path` ends at after its symlinks, whether or not that file exists (a
/// systemd-resolved `/etc/resolv.conf` points into /run, which the sandbox replaces,
/// so the mount must cover the link's target, created there).
fn link_target(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        let Ok(next) = std::fs::read_link(&current) else {
            break;
        };
        current = match current.parent() {
            Some(dir) if next.is_relative() => dir.join(next),
            _ => next,
        };
    }
    // `..` and `.` resolved by the text (the target's directories may not exist).
    let mut clean = PathBuf::new();
    for part in current.components() {
        match part {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    clean
}

/// `--user NAME`: the user's ids and home; root only.
fn user_named(name: &str) -> Result<(ns::RunAs, PathBuf), String> {
    if !nix::unistd::getuid().is_root() {
        return Err(format!(
            "--user {name}: only root can run the command as another user"
        ));
    }
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| format!("--user {name}: {e}"))?
        .ok_or_else(|| format!("--user {name}: no such user"))?;
    Ok((
        ns::RunAs {
            uid: user.uid,
            gid: user.gid,
        },
        user.dir,
    ))
}

/// The option, else the configuration's directive, else the default.
fn seconds(option: Option<u64>, directive: Option<u32>, default: u64) -> std::time::Duration {
    std::time::Duration::from_secs(option.or(directive.map(u64::from)).unwrap_or(default))
}

/// fds the launcher needs besides one per connection and per DNS query in flight.
const FD_RESERVE: u64 = 64;

/// Raises the soft fd limit to the hard one (each connection holds a Tor stream, each
/// DNS query in flight one more) and returns `--max-connections` and
/// `--max-dns-queries`, lowered with a warning when even that limit cannot hold them:
/// DNS gets at most a quarter of what the limit leaves.
fn fd_budget(max_connections: u32, max_dns_queries: u32) -> (u32, u32) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return (max_connections, max_dns_queries);
    };
    let limit = if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let budget = limit.saturating_sub(FD_RESERVE);
    let wanted = u64::from(max_connections) + u64::from(max_dns_queries);
    if wanted <= budget {
        return (max_connections, max_dns_queries);
    }
    let dns = u64::from(max_dns_queries).min(budget / 4).max(1);
    let connections = u64::from(max_connections)
        .min(budget.saturating_sub(dns))
        .max(1);
    eprintln!(
        "torsocks-ns: warning: the open-file limit ({limit}) allows {connections} connections \
         and {dns} DNS queries at once, not {max_connections} and {max_dns_queries}: lowered \
         (raise `ulimit -Hn` for more)"
    );
    (connections as u32, dns as u32)
}
