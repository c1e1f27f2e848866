//! The `torsocks-ns` command line.

use std::ffi::OsString;

use clap::Parser;

/// Run a program with all of its network traffic forced through Tor.
#[derive(Debug, Parser)]
#[command(name = "torsocks-ns", version = env!("CARGO_PKG_VERSION"))]
#[command(
    override_usage = "torsocks-ns [OPTIONS] [--] <COMMAND> [ARGS]...\n       torsocks-ns [OPTIONS] --shell"
)]
pub struct Args {
    /// Tor's SOCKS address (overrides TorAddress and TORSOCKS_TOR_ADDRESS).
    #[arg(short = 'a', long = "address", value_name = "ADDR")]
    pub tor_address: Option<String>,

    /// Tor's SOCKS port (overrides TorPort and TORSOCKS_TOR_PORT).
    #[arg(short = 'P', long = "port", value_name = "PORT")]
    pub tor_port: Option<String>,

    /// SOCKS5 username for stream isolation (overrides SOCKS5Username).
    #[arg(short = 'u', long = "user", value_name = "NAME")]
    pub username: Option<String>,

    /// SOCKS5 password for stream isolation (overrides SOCKS5Password).
    #[arg(short = 'p', long = "pass", value_name = "PASS")]
    pub password: Option<String>,

    /// Start an interactive shell (${SHELL:-/bin/sh}) instead of a command.
    #[arg(long, conflicts_with = "command")]
    pub shell: bool,

    /// The program to run and its arguments.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required_unless_present = "shell"
    )]
    pub command: Vec<OsString>,
}

impl Args {
    /// The command (or `--shell`) as a user would type it, for messages.
    pub fn describe_target(&self) -> String {
        if self.shell {
            return "--shell".to_string();
        }
        self.command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}
