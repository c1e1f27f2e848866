//! The embedded client as the launch sees it: the same few calls whether or not this
//! build has it (without it, the types are empty: no value of them can exist, and
//! [`crate::tor::kind::choose`] never picks it).

#[cfg(not(feature = "embedded-tor"))]
use std::net::SocketAddr;

use crate::run::plan::RunPlan;

#[cfg(feature = "embedded-tor")]
pub(crate) use crate::arti::process::ClientProcess as Client;
#[cfg(feature = "embedded-tor")]
pub(crate) use crate::arti::{ArtiError as ClientError, Options as ClientOptions};

/// The embedded client (not in this build).
#[cfg(not(feature = "embedded-tor"))]
#[derive(Debug)]
pub(crate) enum Client {}

/// Its options (not in this build).
#[cfg(not(feature = "embedded-tor"))]
#[derive(Debug)]
pub(crate) enum ClientOptions {}

/// Its errors: in this build, only that it is not there.
#[cfg(not(feature = "embedded-tor"))]
#[derive(Debug)]
pub(crate) enum ClientError {
    /// This build has no embedded client.
    NotBuiltIn,
}

#[cfg(not(feature = "embedded-tor"))]
impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "this torsocks-ns was built without the embedded Tor client (cargo feature \
             embedded-tor): use a tor daemon",
        )
    }
}

#[cfg(not(feature = "embedded-tor"))]
impl std::error::Error for ClientError {}

#[cfg(not(feature = "embedded-tor"))]
impl Drop for Client {
    fn drop(&mut self) {
        match *self {}
    }
}

#[cfg(not(feature = "embedded-tor"))]
impl Client {
    pub(super) fn start(options: &ClientOptions) -> Result<Client, ClientError> {
        match *options {}
    }

    pub(super) fn socks_addr(&self) -> SocketAddr {
        match *self {}
    }

    pub(super) fn pid(&self) -> u32 {
        match *self {}
    }
}

/// The client's options for a run of `plan` (`--tor-state`, `--arti-config`, `-d`).
#[cfg(feature = "embedded-tor")]
pub(super) fn options(
    plan: &RunPlan,
    tor_state: Option<&std::path::Path>,
    overlay: Option<std::path::PathBuf>,
    debug: bool,
) -> Result<ClientOptions, ClientError> {
    ClientOptions::for_run(tor_state, overlay, plan.bootstrap_timeout, debug)
}

/// No options: the embedded client is not in this build (and never chosen without it).
#[cfg(not(feature = "embedded-tor"))]
pub(super) fn options(
    _: &RunPlan,
    _: Option<&std::path::Path>,
    _: Option<std::path::PathBuf>,
    _: bool,
) -> Result<ClientOptions, ClientError> {
    Err(ClientError::NotBuiltIn)
}
