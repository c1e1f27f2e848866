//! Process initialisation (G-1, CF-1..CF-3): logging first, then configuration, then
//! the onion pool. Runs once, from the library constructor.
#![allow(unsafe_code)]

use std::sync::OnceLock;

use torsocks_core::config::{self, Config, LoadOptions, ProcessEnvironment};
use torsocks_core::log::{self, LogSettings};
use torsocks_core::onion::OnionPool;
use torsocks_core::{log_debug, log_warn};

/// What initialisation established for the life of the process.
#[derive(Debug)]
pub struct State {
    /// The effective configuration.
    pub config: Config,
    /// The process's onion pool (O-1).
    pub onion_pool: OnionPool,
}

static STATE: OnceLock<State> = OnceLock::new();

/// The process state, initialising it on first use (a call made before the
/// constructor, e.g. from another library's constructor, G-1).
pub fn state() -> &'static State {
    STATE.get_or_init(initialize)
}

fn initialize() -> State {
    let env = ProcessEnvironment::new();
    let (settings, problem) = LogSettings::from_env(&env);
    log::init(&settings, problem.as_ref());

    let mut options = LoadOptions::default();
    options
        .default_paths
        .extend(crate::location::prefix_config_path());
    let loaded = match config::load(&env, &options) {
        Ok(loaded) => loaded,
        Err(error) => {
            log::fatal(
                format_args!("{error}"),
                log::Location {
                    function: "initialize",
                    file: file!(),
                    line: line!(),
                },
            );
            // CF-3: exit(1), never a signal. `exit` runs atexit handlers of the host
            // program, as the C original does.
            // SAFETY: exit has no preconditions.
            unsafe { libc::exit(1) };
        }
    };
    for warning in &loaded.warnings {
        log_warn!("{warning}");
    }
    let config = loaded.config;
    log_debug!(
        "Configuration: Tor at {}, onion range {}, {}",
        config.tor_endpoint(),
        config.onion_range,
        if config.enable_ipv6 {
            "IPv6 enabled"
        } else {
            "IPv6 disabled"
        }
    );
    State {
        onion_pool: OnionPool::new(config.onion_range),
        config,
    }
}

/// The library constructor: initialise as soon as the library is loaded.
#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = constructor;

extern "C" fn constructor() {
    // A panic must not unwind into the dynamic loader (G-4).
    let _ = std::panic::catch_unwind(|| {
        state();
    });
}
