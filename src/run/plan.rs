//! The plan of a run: every merge of the command line over `torsocks.conf` and
//! `TORSOCKS_*`, every parse of an option's value and every rule between options,
//! decided at once by [`RunPlan::build`], a pure function (no file, socket or clock:
//! what it needs of the process comes in a [`RunId`]). The launch then only carries
//! the plan out; a run whose options cannot work ends here, before anything starts.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use netstack::stack::StackConfig;
use torsocks_core::config::value::onion_range;
use torsocks_core::config::{Config, ConfigErrorKind};
use torsocks_core::onion::OnionRange;
use torsocks_core::socks5::Auth;

use crate::limits::{self, BudgetError, BufferPlan};
use crate::ns::NetPlan;
use crate::run::cli::Args;
use crate::serve::publish::{self, BadPublish, Publish};
use crate::tor::control::onion_service::{self, BadMapping};
use crate::tor::control::{Credentials, Endpoint};
use crate::tor::isolation::{Isolation, Mode};
use crate::tor::kind::{Chosen, TorKind};
use crate::tor::stream::TorAddr;
use crate::tor::Deadlines;

/// What a run takes from its process: who it is to Tor, and the stack's seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunId {
    /// The launcher's pid.
    pub pid: u32,
    /// Its start, in seconds since the epoch.
    pub unix_time: u64,
    /// A random seed for the stack (initial sequence numbers, ports).
    pub random_seed: u64,
}

/// Everything a run will do, decided from its options.
#[derive(Debug)]
pub(crate) struct RunPlan {
    /// Which Tor was asked for (`--tor`, `TorClient`).
    pub tor_kind: TorKind,
    /// The daemon's SOCKS port (`-a`/`-P`, `TorAddress`/`TorPort`, `TorSocket`).
    pub daemon: TorAddr,
    /// Tor's ControlPort, when one is configured.
    pub control: Option<Endpoint>,
    /// The memory budget's split into buffers and connections.
    pub buffers: BufferPlan,
    /// The stack and the sandbox's addresses.
    pub network: NetworkPlan,
    /// `--virtual-range`.
    pub virtual_range: OnionRange,
    /// `--publish`, each checked.
    pub publishes: Vec<Publish>,
    /// `--onion-service` and its files.
    pub onion: OnionPlan,
    /// Which SOCKS credentials each request gets.
    pub isolation: Isolation,
    /// How long a CONNECT and a lookup may take.
    pub deadlines: Deadlines,
    /// How long Tor may take to bootstrap.
    pub bootstrap_timeout: Duration,
    /// `--half-close-wait`.
    pub half_close_wait: Duration,
}

/// The stack's configuration and the sandbox's side of the same link.
#[derive(Debug, Clone)]
pub(crate) struct NetworkPlan {
    /// The stack's setup (its flow cap is set again once the fd limit is known).
    pub stack: StackConfig,
    /// The addresses and MTU of `tun0` inside.
    pub net: NetPlan,
}

/// The onion service a run publishes (none when `mappings` is empty).
#[derive(Debug, Default)]
pub(crate) struct OnionPlan {
    /// (virtual port, sandbox port) pairs.
    pub mappings: Vec<(u16, u16)>,
    /// `--onion-key`.
    pub key: Option<PathBuf>,
    /// `--onion-address-file`.
    pub address_file: Option<PathBuf>,
}

/// Options that cannot work, as the user gave them.
#[derive(Debug)]
pub(crate) enum PlanError {
    /// `--buffer-budget`, `--buffer-kib` and `--max-connections` do not fit.
    Budget(BudgetError),
    /// `--virtual-range` is not a range.
    VirtualRange(ConfigErrorKind),
    /// A `--publish` is malformed or not allowed.
    Publish(BadPublish),
    /// An `--onion-service` is malformed.
    OnionService(BadMapping),
    /// `--control` is not an address.
    Control(String),
    /// `--isolate` beside credentials that are sent as they are.
    IsolationWithCredentials(Mode),
    /// `--onion-service` or `--control` with the embedded client.
    NeedsDaemon,
    /// `--onion-service` without a ControlPort.
    NeedsControlPort,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Budget(e) => e.fmt(f),
            PlanError::VirtualRange(e) => write!(f, "--virtual-range: {e}"),
            PlanError::Publish(e) => e.fmt(f),
            PlanError::OnionService(e) => e.fmt(f),
            PlanError::Control(text) => {
                write!(f, "--control {text}: expected ADDR:PORT, PORT or unix:PATH")
            }
            PlanError::IsolationWithCredentials(mode) => write!(
                f,
                "--isolate {}: SOCKS5Username/-u credentials are sent as they are; drop them \
                 to isolate",
                mode.name()
            ),
            PlanError::NeedsDaemon => f.write_str(
                "--onion-service and --control need a tor daemon's ControlPort; the embedded \
                 Tor client has none (give --tor daemon)",
            ),
            PlanError::NeedsControlPort => f.write_str(
                "--onion-service needs Tor's ControlPort: give --control ADDR:PORT (or \
                 TorControlPort in torsocks.conf), and its password or cookie",
            ),
        }
    }
}

impl std::error::Error for PlanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlanError::Budget(e) => Some(e),
            PlanError::Publish(e) => Some(e),
            PlanError::OnionService(e) => Some(e),
            _ => None,
        }
    }
}

impl RunId {
    /// This process: its pid, the time, and a seed from the system's randomness
    /// (RandomState's keys are drawn per process).
    pub(crate) fn of_this_process() -> RunId {
        let pid = std::process::id();
        RunId {
            pid,
            unix_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            random_seed: std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), pid),
        }
    }
}

impl RunPlan {
    /// The plan of a run with `args` over `config`.
    pub(crate) fn build(args: &Args, config: &Config, id: RunId) -> Result<RunPlan, PlanError> {
        let buffers = limits::buffer_plan(
            args.buffer_budget,
            args.buffer_kib,
            args.max_connections,
            args.max_dns_queries,
            args.mtu as usize,
        )
        .map_err(PlanError::Budget)?;
        let virtual_range = onion_range(&args.virtual_range).map_err(PlanError::VirtualRange)?;
        let publishes = (args.publish.iter())
            .map(|p| publish::parse(p, args.publish_any))
            .collect::<Result<_, _>>()
            .map_err(PlanError::Publish)?;
        let mappings = (args.onion_service.iter())
            .map(|m| onion_service::parse_mapping(m))
            .collect::<Result<_, _>>()
            .map_err(PlanError::OnionService)?;
        Ok(RunPlan {
            tor_kind: args.tor_kind.unwrap_or_else(|| config.tor_client.into()),
            daemon: config.socks_addr(),
            control: control_endpoint(args, config)?,
            network: network(&buffers, args.mtu, id.random_seed),
            buffers,
            virtual_range,
            publishes,
            onion: OnionPlan {
                mappings,
                key: args.onion_key.clone(),
                address_file: args.onion_address_file.clone(),
            },
            isolation: isolation(args, config, id)?,
            deadlines: Deadlines::default().overridden(
                args.connect_timeout
                    .or(config.connect_timeout.map(u64::from)),
                args.resolve_timeout
                    .or(config.resolve_timeout.map(u64::from)),
            ),
            bootstrap_timeout: Duration::from_secs(args.bootstrap_timeout),
            half_close_wait: Duration::from_secs(args.half_close_wait),
        })
    }

    /// The rules that hang on which Tor was chosen: a ControlPort is a daemon's, and an
    /// onion service needs one. Drops the ControlPort of `torsocks.conf` for the
    /// embedded client (it is the daemon's).
    pub(crate) fn for_tor(&mut self, chosen: Chosen, control_asked: bool) -> Result<(), PlanError> {
        let onion = !self.onion.mappings.is_empty();
        if chosen == Chosen::Embedded {
            if onion || control_asked {
                return Err(PlanError::NeedsDaemon);
            }
            self.control = None;
        }
        match (onion, &self.control) {
            (true, None) => Err(PlanError::NeedsControlPort),
            _ => Ok(()),
        }
    }
}

/// The ControlPort and its credentials: options over torsocks.conf.
fn control_endpoint(args: &Args, config: &Config) -> Result<Option<Endpoint>, PlanError> {
    let addr = match &args.control {
        Some(text) => Some(
            torsocks_core::config::value::control_port(text)
                .map_err(|_| PlanError::Control(text.clone()))?,
        ),
        None => config.control_port.clone(),
    };
    let Some(addr) = addr else {
        return Ok(None);
    };
    let credentials = match (&args.control_password, &args.control_cookie) {
        (Some(p), _) => Credentials::Password(p.clone().into_bytes()),
        (None, Some(c)) => Credentials::Cookie(c.clone()),
        (None, None) => match (&config.control_password, &config.control_cookie) {
            (Some(p), _) => Credentials::Password(p.clone()),
            (None, Some(c)) => Credentials::Cookie(c.clone()),
            (None, None) => Credentials::Auto,
        },
    };
    Ok(Some(Endpoint { addr, credentials }))
}

/// The user's own credentials are sent as they are (as in preload mode); otherwise the
/// mode decides (IsolatePID asks for what the session does anyway).
fn isolation(args: &Args, config: &Config, id: RunId) -> Result<Isolation, PlanError> {
    let configured = match config.socks_auth(id.pid, id.unix_time) {
        auth @ Auth::UserPass { .. } if !config.isolate_pid => Some(auth),
        _ => None,
    };
    let mode = match (args.isolation_mode(), &configured) {
        (Some(mode), Some(_)) if mode != Mode::None => {
            return Err(PlanError::IsolationWithCredentials(mode))
        }
        (mode, _) => mode.unwrap_or(Mode::Session),
    };
    let tag = format!("torsocks-ns-{}:{}", id.pid, id.unix_time);
    Ok(Isolation::new(mode, configured, tag))
}

/// The stack over `buffers`, and the sandbox's addresses on the same link.
fn network(buffers: &BufferPlan, mtu: u32, random_seed: u64) -> NetworkPlan {
    let stack = StackConfig {
        rx_buffer: buffers.buffer,
        tx_buffer: buffers.buffer,
        max_flows: buffers.max_connections as usize,
        mtu: mtu as usize,
        random_seed,
        // The TUN device carries virtio-net headers (ns::tun).
        checksum_offload: true,
        ..StackConfig::default()
    };
    let net = NetPlan {
        program_v4: (Ipv4Addr::new(10, 241, 0, 2), stack.ipv4.prefix),
        stack_v4: stack.ipv4.addr,
        program_v6: (
            Ipv6Addr::new(0xfd74, 0x6f72, 0, 0, 0, 0, 0, 2),
            stack.ipv6.prefix,
        ),
        stack_v6: stack.ipv6.addr,
        mtu,
    };
    NetworkPlan { stack, net }
}

#[cfg(test)]
mod tests;
