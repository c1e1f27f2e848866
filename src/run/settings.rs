//! The configuration of a run: `torsocks.conf` and `TORSOCKS_*` (exactly as preload mode
//! reads them), then the command-line options on top.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use torsocks_core::config::{self, env, Config, Environment, LoadOptions, ProcessEnvironment};

use crate::run::cli::Args;

/// The process environment with the command-line options laid over it.
struct WithOptions {
    process: ProcessEnvironment,
    options: HashMap<&'static str, OsString>,
}

impl Environment for WithOptions {
    fn var(&self, name: &str) -> Option<OsString> {
        self.options
            .get(name)
            .cloned()
            .or_else(|| self.process.var(name))
    }
}

/// `<prefix>/etc/torsocks.conf` for a binary installed as `<prefix>/bin/torsocks-ns`.
fn prefix_config() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join("etc").join("torsocks.conf"))
}

/// A configuration that cannot be used; its Display is one line naming file and line.
#[derive(Debug)]
pub(crate) struct SettingsError(config::ConfigError);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.detailed())
    }
}

impl std::error::Error for SettingsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Loads the configuration; warnings are printed on stderr.
pub(crate) fn load(args: &Args) -> Result<Config, SettingsError> {
    let mut options = HashMap::new();
    let pairs = [
        (env::TOR_ADDRESS, &args.tor_address),
        (env::TOR_PORT, &args.tor_port),
        (env::USERNAME, &args.username),
        (env::PASSWORD, &args.password),
    ];
    for (var, value) in pairs {
        if let Some(value) = value {
            options.insert(var, OsString::from(value));
        }
    }
    let environment = WithOptions {
        process: ProcessEnvironment::new(),
        options,
    };
    let mut load_options = LoadOptions::default();
    load_options.default_paths.extend(prefix_config());
    let loaded = config::load(&environment, &load_options).map_err(SettingsError)?;
    for warning in &loaded.warnings {
        eprintln!("torsocks-ns: warning: {warning}");
    }
    Ok(loaded.config)
}
