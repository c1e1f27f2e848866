//! `torsocks-ns`: run a program in a network namespace whose only way out is Tor.
//!
//! The launcher's modules, in the order a run uses them:
//!
//! * [`cli`] — the command line (clap) and how options override `torsocks.conf`.
//! * [`settings`] — the configuration shared with preload mode (torsocks-core), read
//!   from `/etc/tor/torsocks.conf`, then the installation prefix, then `TORSOCKS_*`.
//! * [`tor_check`] — makes sure Tor's SOCKS port answers before anything starts, so a
//!   user whose Tor is down gets an error that names the address and says what to do.
//!
//! The namespace itself (user + network + mount namespaces, TUN device, userspace
//! stack) is described in `docs/architecture.md`; until it is built, `torsocks-ns`
//! checks configuration and Tor, then says that it cannot run the command.

mod cli;
mod settings;
mod tor_check;

use std::process::ExitCode;

use clap::Parser;

/// Exit status for failures of torsocks-ns itself (sysexits' EX_SOFTWARE would hide
/// them among the command's own statuses; 1 is what preload mode uses for bad config).
const EXIT_SETUP_FAILED: u8 = 1;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let config = match settings::load(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("torsocks-ns: {message}");
            return ExitCode::from(EXIT_SETUP_FAILED);
        }
    };
    if let Err(message) = tor_check::socks_port_answers(config.tor_endpoint()) {
        eprintln!("torsocks-ns: {message}");
        return ExitCode::from(EXIT_SETUP_FAILED);
    }
    eprintln!(
        "torsocks-ns: Tor answers at {}, but this build of torsocks-rs has no namespace \
         sandbox yet; use `torsocks {}` (preload mode) instead.",
        config.tor_endpoint(),
        args.describe_target()
    );
    ExitCode::from(EXIT_SETUP_FAILED)
}
