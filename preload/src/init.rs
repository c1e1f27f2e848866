//! Process initialisation (G-1, CF-1..CF-3): logging, the real C symbols,
//! configuration, the onion pool. Runs once, from the library constructor or from the
//! first intercepted call made before it, with the re-entrancy guard held so that the
//! C library calls it makes pass straight through (G-3).
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{MutexGuard, OnceLock};

use torsocks_core::config::{self, Config, LoadOptions, ProcessEnvironment};
use torsocks_core::log::{self, LogSettings};
use torsocks_core::onion::{OnionPool, PoolHold};
use torsocks_core::{log_debug, log_warn};

use crate::{guard, real};

/// What initialisation established for the life of the process.
#[derive(Debug)]
pub struct State {
    /// The effective configuration.
    pub config: Config,
    /// The process's onion pool (O-1).
    pub onion_pool: OnionPool,
    /// IsolatePID credentials: pid and time (CF-20), regenerated in fork children.
    isolation_pid: AtomicU32,
    isolation_time: AtomicU64,
}

impl State {
    /// The pid part of the IsolatePID username.
    pub fn isolation_pid(&self) -> u32 {
        self.isolation_pid.load(Ordering::Relaxed)
    }

    /// The time part of the IsolatePID username.
    pub fn isolation_time(&self) -> u64 {
        self.isolation_time.load(Ordering::Relaxed)
    }

    fn renew_isolation(&self) {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() } as u32;
        self.isolation_pid.store(pid, Ordering::Relaxed);
        self.isolation_time.store(unix_time(), Ordering::Relaxed);
    }
}

static STATE: OnceLock<State> = OnceLock::new();

/// The process state, initialising it on first use.
pub fn state() -> &'static State {
    STATE.get_or_init(|| {
        let _inside = guard::enter();
        initialize()
    })
}

fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn initialize() -> State {
    let env = ProcessEnvironment::new();
    let (settings, problem) = LogSettings::from_env(&env);
    log::init(&settings, problem.as_ref());
    real::resolve_all();

    let mut options = LoadOptions::default();
    options
        .default_paths
        .extend(crate::location::prefix_config_path());
    // A SOCKS port on a Unix socket serves torsocks-ns only.
    let loaded = config::load(&env, &options)
        .and_then(|loaded| loaded.config.tcp_socks_port().map(|_| loaded));
    let loaded = match loaded {
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
            // CF-3: exit(1), never a signal; the host program's atexit handlers run,
            // as with the C original.
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
    // SAFETY: registering plain extern "C" handlers with no preconditions.
    unsafe {
        libc::pthread_atfork(
            Some(before_fork),
            Some(after_fork_in_parent),
            Some(after_fork_in_child),
        )
    };
    let state = State {
        onion_pool: OnionPool::new(config.onion_range),
        config,
        isolation_pid: AtomicU32::new(0),
        isolation_time: AtomicU64::new(0),
    };
    state.renew_isolation();
    state
}

thread_local! {
    /// The locks the forking thread holds across fork (G-6).
    static FORK_HOLDS: RefCell<Option<ForkHolds>> = const { RefCell::new(None) };
}

/// The registry's and the pool's locks, taken in that order (the only order in which
/// torsocks ever holds both, so taking them cannot deadlock).
struct ForkHolds {
    _registry: MutexGuard<'static, Option<HashMap<i32, crate::registry::Entry>>>,
    _pool: Option<PoolHold<'static>>,
}

/// Before fork: take every torsocks lock, so that no other thread is inside one.
extern "C" fn before_fork() {
    let holds = ForkHolds {
        _registry: crate::registry::hold(),
        _pool: STATE.get().map(|s| s.onion_pool.hold()),
    };
    let _ = FORK_HOLDS.try_with(|h| *h.borrow_mut() = Some(holds));
}

fn release_fork_holds() {
    let _ = FORK_HOLDS.try_with(|h| h.borrow_mut().take());
}

extern "C" fn after_fork_in_parent() {
    release_fork_holds();
}

/// After fork in the child: release the locks, and (CF-20) new IsolatePID credentials.
extern "C" fn after_fork_in_child() {
    release_fork_holds();
    if let Some(state) = STATE.get() {
        state.renew_isolation();
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
