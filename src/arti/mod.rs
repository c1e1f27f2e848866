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
mod error;
mod front;
pub(crate) mod process;
mod start_lock;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use arti_client::{BootstrapBehavior, TorClient};
use futures::StreamExt;

use crate::tor::control::bootstrap::Progress;
pub(crate) use error::ArtiError;

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
    /// The options of a run: its state under `tor_state` (`--tor-state`) or the XDG
    /// directories, `overlay` (`--arti-config`), its bootstrap deadline; progress as a
    /// bar when stderr is a terminal.
    pub(crate) fn for_run(
        tor_state: Option<&std::path::Path>,
        overlay: Option<PathBuf>,
        timeout: Duration,
        debug: bool,
    ) -> Result<Options, ArtiError> {
        use std::io::IsTerminal;
        Ok(Options {
            dirs: dirs::choose(tor_state, |name| std::env::var_os(name))?,
            overlay,
            timeout,
            tty: std::io::stderr().is_terminal(),
            debug,
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
    pub(crate) fn configure(options: &Options) -> Result<Configured, ArtiError> {
        let overlay = match &options.overlay {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ArtiError::ReadConfig {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let config = config::build(&options.dirs, overlay.as_deref()).map_err(|source| {
            ArtiError::Config {
                file: options.overlay.clone(),
                source,
            }
        })?;
        let storage = config::storage(&options.dirs, overlay.as_deref());
        for dir in storage.iter().flat_map(|d| [&d.state, &d.cache]) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| ArtiError::Directory {
                    path: dir.clone(),
                    source,
                })?;
        }
        // rustls needs one crypto provider for the process; ring is the one built in.
        // (Err means one is installed already, which is as good.)
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Configured { config, storage })
    }

    /// Starts the client and waits until it has bootstrapped, showing progress on
    /// stderr; the error says what was reached and what blocked it.
    pub(crate) fn start(configured: Configured, options: &Options) -> Result<Embedded, ArtiError> {
        let Configured { config, storage } = configured;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("arti")
            .enable_all()
            .build()
            .map_err(ArtiError::Runtime)?;
        let state = storage.map(|dirs| dirs.state);
        let socks = runtime.block_on(bootstrap(config, state.as_deref(), options))?;
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

/// Creates the client (one run at a time for a shared `state`: [`start_lock`]),
/// bootstraps it within the deadline, and starts the front.
async fn bootstrap(
    config: arti_client::TorClientConfig,
    state: Option<&std::path::Path>,
    options: &Options,
) -> Result<SocketAddr, ArtiError> {
    let starting = start_lock::StartLock::take(state, options.timeout).await?;
    let client = TorClient::builder()
        .config(config)
        .bootstrap_behavior(BootstrapBehavior::Manual)
        .create_unbootstrapped()
        .map_err(|e| ArtiError::CannotStart(Box::new(e)))?;
    drop(starting);
    let mut progress = Progress::new("the embedded Tor client", options.tty);
    let mut events = client.bootstrap_events();
    let deadline = tokio::time::sleep(options.timeout);
    let mut started = Box::pin(client.bootstrap());
    tokio::pin!(deadline);
    let bootstrapped: Result<(), ArtiError> = loop {
        tokio::select! {
            result = &mut started => match result {
                Ok(()) => break Ok(()),
                Err(e) => {
                    progress.abandon();
                    break Err(ArtiError::Bootstrap(Box::new(e)));
                }
            },
            Some(status) = events.next() => {
                let percent = (status.as_frac() * 100.0).round().clamp(0.0, 100.0) as u8;
                progress.show(percent, &phase(&status));
            }
            () = &mut deadline => {
                progress.abandon();
                let status = client.bootstrap_status();
                break Err(ArtiError::Timeout {
                    secs: options.timeout.as_secs(),
                    reached: status.to_string(),
                    hint: status.blocked().map(|blocked| hint(&blocked.kind())),
                });
            }
        }
    };
    drop(started);
    bootstrapped?;
    progress.done();
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(ArtiError::SocksPort)?;
    let addr = listener.local_addr().map_err(ArtiError::SocksPort)?;
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
