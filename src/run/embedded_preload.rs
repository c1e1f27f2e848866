//! Preload mode with the embedded Tor client (`torsocks --embedded CMD`, which runs
//! `torsocks-ns --preload LIB -- CMD`): no sandbox. The embedded client starts and
//! serves SOCKS5 on loopback ([`crate::arti`]); the command runs with `LIB`
//! preloaded and `TORSOCKS_TOR_ADDRESS`/`TORSOCKS_TOR_PORT` pointing at that port, so
//! the library's connections and name lookups (RESOLVE, RESOLVE_PTR) go through it.
//! The helper waits for the command, passes its exit status on, and the client stops
//! with it. With `--tor auto` and a daemon that answers, the command simply replaces
//! the helper (exec) with the library preloaded, as the wrapper would have done.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitCode};

use torsocks_core::config::Config;

use crate::run::cli::Args;
use crate::tor::kind::{self, Chosen};

/// LD_PRELOAD with `library` first (once).
fn preload_value(library: &Path, existing: Option<OsString>) -> OsString {
    let mut value = OsString::from(library);
    if let Some(existing) = existing.filter(|e| !e.is_empty()) {
        if existing != value {
            value.push(":");
            value.push(existing);
        }
    }
    value
}

/// The exit status to give for the command's: its code, or 128 + the signal.
#[cfg_attr(not(feature = "embedded-tor"), allow(dead_code))]
fn exit_code(status: std::process::ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code.clamp(0, 255) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => 1,
    }
}

/// Runs the command; the exit status is the command's.
pub(crate) fn run(args: &Args, config: &Config, library: &Path) -> ExitCode {
    let fail = |message: &dyn std::fmt::Display| {
        eprintln!("torsocks: {message}");
        ExitCode::from(1)
    };
    let Some((program, rest)) = args.command.split_first() else {
        return fail(&"--preload needs a command");
    };
    let kind = args.tor_kind.unwrap_or_else(|| config.tor_client.into());
    let endpoint = config.socks_addr();
    let (chosen, why) = match kind::choose(
        kind,
        |probe| kind::probe(&endpoint, probe).map(|_notice| ()),
        kind::EMBEDDED_BUILT_IN,
    ) {
        Ok(choice) => choice,
        Err(message) => return fail(&message),
    };
    if let (true, Some(why)) = (args.debug, &why) {
        eprintln!("torsocks: {why}");
    }
    let mut command = Command::new(program);
    command.args(rest).env(
        "LD_PRELOAD",
        preload_value(library, std::env::var_os("LD_PRELOAD")),
    );
    if chosen == Chosen::Daemon {
        let error = command.exec();
        return fail(&format_args!("{}: {error}", program.to_string_lossy()));
    }
    run_embedded(args, command, program)
}

#[cfg(feature = "embedded-tor")]
fn run_embedded(args: &Args, mut command: Command, program: &OsString) -> ExitCode {
    let options = crate::arti::Options::for_run(
        args.tor_state.as_deref(),
        args.arti_config.clone(),
        std::time::Duration::from_secs(args.bootstrap_timeout),
        args.debug,
    );
    let options = match options {
        Ok(options) => options,
        Err(message) => {
            eprintln!("torsocks: {message}");
            return ExitCode::from(1);
        }
    };
    let client = match crate::arti::process::ClientProcess::start(&options) {
        Ok(client) => client,
        Err(message) => {
            eprintln!("torsocks: {message}");
            return ExitCode::from(1);
        }
    };
    let socks = client.socks_addr();
    use torsocks_core::config::env;
    command
        .env(env::TOR_ADDRESS, socks.ip().to_string())
        .env(env::TOR_PORT, socks.port().to_string());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("torsocks: {}: {e}", program.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    crate::run::early_signals::forward_to(child.id());
    let status = child.wait();
    drop(client);
    match status {
        Ok(status) => ExitCode::from(exit_code(status)),
        Err(e) => {
            eprintln!("torsocks: waiting for {}: {e}", program.to_string_lossy());
            ExitCode::from(1)
        }
    }
}

#[cfg(not(feature = "embedded-tor"))]
fn run_embedded(_: &Args, _: Command, _: &OsString) -> ExitCode {
    // kind::choose never picks the embedded client without it.
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_goes_first_once() {
        let lib = Path::new("/usr/lib/torsocks/libtorsocks.so");
        assert_eq!(preload_value(lib, None), OsString::from(lib));
        assert_eq!(
            preload_value(lib, Some("/x.so".into())),
            OsString::from("/usr/lib/torsocks/libtorsocks.so:/x.so")
        );
        assert_eq!(preload_value(lib, Some(lib.into())), OsString::from(lib));
    }

    #[test]
    fn signals_become_128_plus() {
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(15)), 143);
    }
}
