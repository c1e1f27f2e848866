//! What can keep the embedded client from serving: the user's sentence in `Display`,
//! the system's (or Arti's) reason in `source()`.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::confine::ConfineError;

/// What is wrong with the client's configuration.
#[derive(Debug)]
pub(crate) enum ConfigProblem {
    /// `--arti-config` is not TOML, or not Arti's.
    Toml(toml::de::Error),
    /// Arti refused the configuration.
    Build(arti_client::config::ConfigBuildError),
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigProblem::Toml(e) => e.fmt(f),
            ConfigProblem::Build(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConfigProblem {}

/// Why the embedded client is not serving.
#[derive(Debug)]
pub(crate) enum ArtiError {
    /// No HOME nor XDG variable to keep its state under.
    NoStateDir { var: &'static str },
    /// `--arti-config` cannot be read.
    ReadConfig { path: PathBuf, source: io::Error },
    /// The configuration (from `file`, when there is one) is refused.
    Config {
        file: Option<PathBuf>,
        source: ConfigProblem,
    },
    /// Its state or cache directory cannot be made.
    Directory { path: PathBuf, source: io::Error },
    /// Another run kept the start lock of the shared state for too long.
    StartLock { path: PathBuf, secs: u64 },
    /// Its runtime cannot be built.
    Runtime(io::Error),
    /// Arti cannot create the client.
    CannotStart(Box<arti_client::Error>),
    /// Arti failed to bootstrap.
    Bootstrap(Box<arti_client::Error>),
    /// Not bootstrapped in time: what it reached, and what might help.
    Timeout {
        secs: u64,
        reached: String,
        hint: Option<&'static str>,
    },
    /// Its SOCKS port cannot listen.
    SocksPort(io::Error),
    /// It cannot confine itself.
    Confine(ConfineError),
    /// `torsocks-arti` is not installed beside the launcher.
    NotInstalled { looked: Vec<PathBuf> },
    /// The launcher's own path is unknown.
    Exe(io::Error),
    /// `torsocks-arti` cannot be started.
    Spawn { program: PathBuf, source: io::Error },
    /// `torsocks-arti` explained its failure (the text of its report line).
    Reported(String),
    /// `torsocks-arti` said something else than its report.
    Said(String),
    /// `torsocks-arti` ended without a word.
    Ended(std::process::ExitStatus),
    /// Waiting for `torsocks-arti` failed.
    Wait(io::Error),
}

/// The helper's file name, installed beside `torsocks-inspect`.
pub(crate) const PROGRAM: &str = "torsocks-arti";

/// How the messages name the client.
const CLIENT: &str = "the embedded Tor client";

/// [`ArtiError::Timeout`]'s message.
fn timed_out(
    f: &mut fmt::Formatter<'_>,
    secs: u64,
    reached: &str,
    hint: Option<&str>,
) -> fmt::Result {
    write!(
        f,
        "{CLIENT} has not bootstrapped within {secs} s: it reached {reached}"
    )?;
    match hint {
        Some(hint) => write!(f, " ({hint})"),
        None => Ok(()),
    }
}

/// [`ArtiError::NotInstalled`]'s message.
fn not_installed(f: &mut fmt::Formatter<'_>, looked: &[PathBuf]) -> fmt::Result {
    let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    write!(
        f,
        "{CLIENT} ({PROGRAM}) is not installed with this torsocks-ns (looked for {}): \
         reinstall torsocks-rs, or use a tor daemon (--tor daemon)",
        looked.join(", ")
    )
}

impl fmt::Display for ArtiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtiError::NoStateDir { var } => write!(
                f,
                "{CLIENT} needs a place for its state: set HOME or {var}, or give --tor-state DIR"
            ),
            ArtiError::ReadConfig { path, source } => {
                write!(f, "--arti-config {}: {source}", path.display())
            }
            ArtiError::Config {
                file: Some(path),
                source,
            } => write!(f, "--arti-config {}: {source}", path.display()),
            ArtiError::Config { file: None, source } => {
                write!(f, "{CLIENT}'s configuration: {source}")
            }
            ArtiError::Directory { path, source } => {
                write!(f, "{CLIENT}'s directory {}: {source}", path.display())
            }
            ArtiError::StartLock { path, secs } => write!(
                f,
                "{CLIENT} waited {secs} s for another run to create its client (the lock {} \
                 is held); give this run a state of its own with --tor-state DIR",
                path.display()
            ),
            ArtiError::Runtime(e) => write!(f, "{CLIENT}'s runtime: {e}"),
            ArtiError::CannotStart(e) => write!(f, "{CLIENT} cannot start: {}", report(e)),
            ArtiError::Bootstrap(e) => write!(f, "{CLIENT} could not bootstrap: {}", report(e)),
            ArtiError::Timeout {
                secs,
                reached,
                hint,
            } => timed_out(f, *secs, reached, hint.as_deref()),
            ArtiError::SocksPort(e) => write!(f, "{CLIENT}'s SOCKS port: {e}"),
            ArtiError::Confine(e) => write!(f, "{CLIENT} cannot confine itself: {e}"),
            ArtiError::NotInstalled { looked } => not_installed(f, looked),
            ArtiError::Exe(e) => e.fmt(f),
            ArtiError::Spawn { program, source } => {
                write!(f, "{CLIENT} ({}): {source}", program.display())
            }
            ArtiError::Reported(message) => f.write_str(message),
            ArtiError::Said(line) => write!(f, "{CLIENT} said {line:?}"),
            ArtiError::Ended(status) => write!(f, "{CLIENT} ended ({status})"),
            ArtiError::Wait(e) => write!(f, "{CLIENT}: {e}"),
        }
    }
}

impl std::error::Error for ArtiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ArtiError::ReadConfig { source, .. }
            | ArtiError::Directory { source, .. }
            | ArtiError::Spawn { source, .. }
            | ArtiError::Runtime(source)
            | ArtiError::SocksPort(source)
            | ArtiError::Exe(source)
            | ArtiError::Wait(source) => Some(source),
            ArtiError::Config { source, .. } => Some(source),
            ArtiError::CannotStart(e) | ArtiError::Bootstrap(e) => Some(&**e),
            ArtiError::Confine(e) => Some(e),
            _ => None,
        }
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
