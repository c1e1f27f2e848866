//! The embedded Tor client (Arti), for machines without a tor daemon.
//!
//! It runs in `torsocks-arti` ([`process`]), a process of its own that the launcher
//! starts only after the sandbox's PID 1 has been forked, and only for runs that ask
//! for it: the sandbox never holds a copy of the client's keys or state, Arti never
//! sees a `fork`, and the launcher of a daemon run does not carry Arti's code. There,
//! on a runtime of its own (two worker threads named `arti`), the client bootstraps
//! and then serves SOCKS5 on an ephemeral port of 127.0.0.1 ([`front`]), and
//! everything else reaches it the way it reaches a tor daemon: the launcher's
//! [`crate::tor::Tor`] connector (the stack, the DNS server and the sandbox's SOCKS
//! port all use it), or `libtorsocks` in preload mode ([`crate::run::embedded_preload`]). One front
//! serves both modes and keeps the connector's semantics (isolation by credentials,
//! liveness, deadlines) identical for either kind of Tor.
//!
//! Like a tor daemon's SocksPort, the port is reachable by other users of this
//! machine while the run lasts; the sandboxed program cannot reach it (it has its own
//! network namespace).

pub(crate) mod config;
pub(crate) mod dirs;
mod front;
pub(crate) mod process;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use arti_client::{BootstrapBehavior, TorClient};
use futures::StreamExt;

use crate::tor::control::bootstrap::Progress;

/// What starting the embedded client needs.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Its state and cache directories.
    pub dirs: dirs::Dirs,
    /// An Arti TOML file laid over the defaults (`--arti-config`).
    pub overlay: Option<PathBuf>,
    /// How long bootstrapping may take.
    pub timeout: Duration,
    /// A progress bar (stderr is a terminal) or one line per phase.
    pub tty: bool,
    /// Report refused streams on stderr.
    pub debug: bool,
}

impl Options {
    /// The options the command line gives (`--tor-state`, `--arti-config`,
    /// `--bootstrap-timeout`, `-d`).
    pub(crate) fn from_args(args: &crate::run::cli::Args) -> Result<Options, String> {
        use std::io::IsTerminal;
        Ok(Options {
            dirs: dirs::choose(args.tor_state.as_deref(), |name| std::env::var_os(name))?,
            overlay: args.arti_config.clone(),
            timeout: Duration::from_secs(args.bootstrap_timeout),
            tty: std::io::stderr().is_terminal(),
            debug: args.debug,
        })
    }
}

/// A running, bootstrapped embedded client. Dropping it stops the client.
#[derive(Debug)]
pub(crate) struct Embedded {
    runtime: Option<tokio::runtime::Runtime>,
    socks: SocketAddr,
}

/// The client's configuration, read and checked, and the directories it will use.
pub(crate) struct Configured {
    config: arti_client::TorClientConfig,
    /// Its state and cache directories (created when missing); `None` when the
    /// configuration names them through a variable.
    pub storage: Option<dirs::Dirs>,
}

impl Embedded {
    /// Reads `--arti-config` and builds the configuration; creates the state and
    /// cache directories when missing (private, as Arti makes them), so that they can be
    /// named in the process's confinement before anything of Arti runs.
    pub(crate) fn configure(options: &Options) -> Result<Configured, String> {
        let overlay = match &options.overlay {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--arti-config {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let config =
            config::build(&options.dirs, overlay.as_deref()).map_err(|e| {
                match &options.overlay {
                    Some(path) => format!("--arti-config {}: {e}", path.display()),
                    None => format!("the embedded Tor client's configuration: {e}"),
                }
            })?;
        let storage = config::storage(&options.dirs, overlay.as_deref());
        for dir in storage.iter().flat_map(|d| [&d.state, &d.cache]) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    format!("the embedded Tor client's directory {}: {e}", dir.display())
                })?;
        }
        // rustls needs one crypto provider for the process; ring is the one built in.
        // (Err means one is installed already, which is as good.)
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Configured { config, storage })
    }

    /// Starts the client and waits until it has bootstrapped, showing progress on
    /// stderr; the error says what was reached and what blocked it.
    pub(crate) fn start(configured: Configured, options: &Options) -> Result<Embedded, String> {
        let config = configured.config;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("arti")
            .enable_all()
            .build()
            .map_err(|e| format!("the embedded Tor client's runtime: {e}"))?;
        let socks = runtime.block_on(bootstrap(config, options))?;
        Ok(Embedded {
            runtime: Some(runtime),
            socks,
        })
    }

    /// Its SOCKS5 port on 127.0.0.1.
    pub(crate) fn socks_addr(&self) -> SocketAddr {
        self.socks
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Open streams die with the launcher anyway; waiting for Arti's tasks to
            // notice would only delay the exit.
            runtime.shutdown_background();
        }
    }
}

/// Creates the client, bootstraps it within the deadline, and starts the front.
async fn bootstrap(
    config: arti_client::TorClientConfig,
    options: &Options,
) -> Result<SocketAddr, String> {
    let client = TorClient::builder()
        .config(config)
        .bootstrap_behavior(BootstrapBehavior::Manual)
        .create_unbootstrapped()
        .map_err(|e| format!("the embedded Tor client cannot start: {}", report(&e)))?;
    let mut progress = Progress::new("the embedded Tor client", options.tty);
    let mut events = client.bootstrap_events();
    let deadline = tokio::time::sleep(options.timeout);
    let mut started = Box::pin(client.bootstrap());
    tokio::pin!(deadline);
    let bootstrapped: Result<(), String> = loop {
        tokio::select! {
            result = &mut started => match result {
                Ok(()) => break Ok(()),
                Err(e) => {
                    progress.abandon();
                    break Err(format!(
                        "the embedded Tor client could not bootstrap: {}",
                        report(&e)
                    ));
                }
            },
            Some(status) = events.next() => {
                let percent = (status.as_frac() * 100.0).round().clamp(0.0, 100.0) as u8;
                progress.show(percent, &phase(&status));
            }
            () = &mut deadline => {
                progress.abandon();
                let status = client.bootstrap_status();
                let mut message = format!(
                    "the embedded Tor client has not bootstrapped within {} s: it reached {status}",
                    options.timeout.as_secs()
                );
                if let Some(blocked) = status.blocked() {
                    message.push_str(&format!(" ({})", hint(&blocked.kind())));
                }
                break Err(message);
            }
        }
    };
    drop(started);
    bootstrapped?;
    progress.done();
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| format!("the embedded Tor client's SOCKS port: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("the embedded Tor client's SOCKS port: {e}"))?;
    tokio::spawn(front::serve(listener, client, options.debug));
    Ok(addr)
}

/// The phase part of Arti's status line (its Display starts with the percentage).
fn phase(status: &arti_client::status::BootstrapStatus) -> String {
    let text = status.to_string();
    match text.split_once("%: ") {
        Some((_, rest)) => rest.to_string(),
        None => text,
    }
}

/// What to do about a blockage Arti reports.
fn hint(kind: &arti_client::status::BlockageKind) -> &'static str {
    use arti_client::status::BlockageKind as K;
    match kind {
        K::Offline => "this machine seems to be offline: check its network connection",
        K::Filtering => {
            "connections to Tor relays seem to be filtered: a bridge or a tor daemon \
             configured with one may help"
        }
        K::ClockSkewed => "this machine's clock seems to be wrong: set it and try again",
        K::CantReachTor => "no Tor relay answered: check the network, or --arti-config",
        _ => "the Tor directory could not be fetched: check the network, or --arti-config",
    }
}

/// An Arti error with its causes, one line.
fn report(e: &arti_client::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
