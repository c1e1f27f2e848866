//! Why a run could not start: one error for the launch, gathering each wing's. Its
//! `Display` is the sentence the user reads; `source()` is the system's reason.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::client::ClientError;
use crate::confine::ConfineError;
use crate::join::JoinError;
use crate::ns::SetupError;
use crate::run::plan::PlanError;
use crate::run::spec::SpecError;
use crate::tor::control::onion_service::OnionError;
use crate::tor::control::ControlError;
use crate::tor::kind::NoTor;

/// A run that could not start.
#[derive(Debug)]
pub(crate) enum LaunchError {
    /// The options cannot work.
    Plan(PlanError),
    /// No Tor to use.
    NoTor(NoTor),
    /// Tor's ControlPort failed (connecting, authenticating, bootstrapping).
    Control(ControlError),
    /// The sandbox cannot be made as asked.
    Spec(SpecError),
    /// The sandbox could not be set up.
    Sandbox(SetupError),
    /// The embedded client could not start.
    Client(ClientError),
    /// A `--publish` port cannot listen.
    Publish {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The onion service could not be published.
    Onion(OnionError),
    /// `--onion-address-file` cannot be written.
    AddressFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The session's runtime cannot be built.
    Runtime(std::io::Error),
    /// The launcher cannot confine itself.
    Confine(ConfineError),
    /// `--name` cannot be registered.
    Name(JoinError),
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::Plan(e) => e.fmt(f),
            LaunchError::NoTor(e) => e.fmt(f),
            LaunchError::Control(e) => e.fmt(f),
            LaunchError::Spec(e) => e.fmt(f),
            LaunchError::Sandbox(e) => e.fmt(f),
            LaunchError::Client(e) => e.fmt(f),
            LaunchError::Publish { addr, source } => {
                write!(f, "--publish: cannot listen on {addr}: {source}")
            }
            LaunchError::Onion(e) => e.fmt(f),
            LaunchError::AddressFile { path, source } => {
                write!(f, "--onion-address-file {}: {source}", path.display())
            }
            LaunchError::Runtime(e) => write!(f, "runtime: {e}"),
            LaunchError::Confine(e) => write!(f, "the launcher cannot confine itself: {e}"),
            LaunchError::Name(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LaunchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LaunchError::Plan(e) => e.source(),
            LaunchError::NoTor(e) => e.source(),
            LaunchError::Control(e) => e.source(),
            LaunchError::Spec(e) => e.source(),
            LaunchError::Sandbox(e) => e.source(),
            LaunchError::Client(e) => e.source(),
            LaunchError::Onion(e) => e.source(),
            LaunchError::Confine(e) => e.source(),
            LaunchError::Name(e) => e.source(),
            LaunchError::Publish { source, .. }
            | LaunchError::AddressFile { source, .. }
            | LaunchError::Runtime(source) => Some(source),
        }
    }
}

macro_rules! from {
    ($($variant:ident($error:ty)),* $(,)?) => {$(
        impl From<$error> for LaunchError {
            fn from(e: $error) -> LaunchError {
                LaunchError::$variant(e)
            }
        }
    )*};
}

from!(
    Plan(PlanError),
    NoTor(NoTor),
    Control(ControlError),
    Spec(SpecError),
    Sandbox(SetupError),
    Client(ClientError),
    Onion(OnionError),
    Confine(ConfineError),
    Name(JoinError),
);
