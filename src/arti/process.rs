//! The embedded client in a process of its own: `torsocks-arti`, started by the launcher
//! (or preload mode's helper) only when a run asks for the embedded client.
//!
//! Why a process: the launcher of a daemon run stays a 4 MB program (Arti's code is in
//! `torsocks-arti` alone, so it is neither loaded nor mapped by runs that do not use
//! it), and Arti's threads, memory and keys never share an address space with the
//! launcher that holds the sandbox's TUN device. Nothing else changes: the client
//! already served the launcher through its SOCKS port on loopback ([`super::front`]).
//!
//! The exchange is one line on the helper's stdout once bootstrapping has ended:
//! `socks ADDR` (its SOCKS port) or `error MESSAGE` (what to tell the user). Progress
//! goes to the inherited stderr. The helper lives until its stdin reaches end of file,
//! watched from its first moment (bootstrapping too): the launcher holds the other end,
//! so however the launcher ends (even by SIGKILL), the client ends with it. The
//! terminal's SIGINT and SIGQUIT are ignored by the helper: they are meant for the
//! program in the sandbox, not for its Tor.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;

use super::error::{ArtiError, PROGRAM};
use super::{dirs::Dirs, Embedded, Options};

/// A running, bootstrapped `torsocks-arti`. Dropping it ends the process.
#[derive(Debug)]
pub(crate) struct ClientProcess {
    /// Holds our end of its stdin (`child.stdin`): while it is open, the helper serves.
    child: Child,
    socks: SocketAddr,
}

impl ClientProcess {
    /// Starts `torsocks-arti` and waits until it has bootstrapped (it shows progress on
    /// stderr and keeps to `options.timeout`); the error is the message to print.
    pub(crate) fn start(options: &Options) -> Result<ClientProcess, ArtiError> {
        let program = locate(&std::env::current_exe().map_err(ArtiError::Exe)?)?;
        let mut command = Command::new(&program);
        command
            .arg("--state-dir")
            .arg(&options.dirs.state)
            .arg("--cache-dir")
            .arg(&options.dirs.cache)
            .arg("--bootstrap-timeout")
            .arg(options.timeout.as_secs().to_string());
        if let Some(overlay) = &options.overlay {
            command.arg("--arti-config").arg(overlay);
        }
        if options.tty {
            command.arg("--tty");
        }
        if options.debug {
            command.arg("--debug");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| ArtiError::Spawn {
                program: program.clone(),
                source,
            })?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        match parse_report(&line) {
            Ok(socks) => Ok(ClientProcess { child, socks }),
            Err(message) => {
                let _ = child.kill();
                let status = child.wait();
                Err(message.unwrap_or_else(|| match status {
                    Ok(status) => ArtiError::Ended(status),
                    Err(e) => ArtiError::Wait(e),
                }))
            }
        }
    }

    /// Its process id (the confined launcher may signal it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its SOCKS5 port on 127.0.0.1.
    pub(crate) fn socks_addr(&self) -> SocketAddr {
        self.socks
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        // Open streams die with the launcher anyway: nothing to wait for but the reaping.
        // (Had the launcher no chance to get here, its closed end of our stdin ends it.)
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the helper's report line says: its SOCKS address, or `Err(Some(message))`
/// for a failure it explained, `Err(None)` when it said nothing (it died).
fn parse_report(line: &str) -> Result<SocketAddr, Option<ArtiError>> {
    let line = line.trim_end_matches('\n');
    if let Some(addr) = line.strip_prefix("socks ") {
        return addr
            .parse()
            .map_err(|_| Some(ArtiError::Said(line.to_string())));
    }
    match line.strip_prefix("error ") {
        Some(message) => Err(Some(ArtiError::Reported(message.to_string()))),
        None if line.is_empty() => Err(None),
        None => Err(Some(ArtiError::Said(line.to_string()))),
    }
}

/// Where `torsocks-arti` is, for the launcher at `exe`: beside it (a cargo build), or
/// in the library directory `packaging/install.sh` uses (`PREFIX/lib/torsocks`, or
/// Debian's `/usr/lib/<multiarch>/torsocks`).
fn locate(exe: &Path) -> Result<PathBuf, ArtiError> {
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    let candidates = [
        dir.join(PROGRAM),
        dir.join("../lib/torsocks").join(PROGRAM),
        dir.join("../lib")
            .join(multiarch)
            .join("torsocks")
            .join(PROGRAM),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| ArtiError::NotInstalled {
            looked: candidates.to_vec(),
        })
}

/// The helper's command line, as [`ClientProcess::start`] writes it.
#[derive(Debug, Parser)]
#[command(
    name = "torsocks-arti",
    about = "The embedded Tor client of torsocks-ns, in a process of its own: started by \
             torsocks-ns, it serves SOCKS5 on loopback until its stdin closes."
)]
struct ProcessArgs {
    /// Arti's state directory.
    #[arg(long)]
    state_dir: PathBuf,
    /// Arti's cache directory.
    #[arg(long)]
    cache_dir: PathBuf,
    /// An Arti TOML file laid over the defaults.
    #[arg(long)]
    arti_config: Option<PathBuf>,
    /// Seconds bootstrapping may take.
    #[arg(long)]
    bootstrap_timeout: u64,
    /// Show a progress bar (stderr is a terminal).
    #[arg(long)]
    tty: bool,
    /// Report refused streams on stderr.
    #[arg(long)]
    debug: bool,
}

/// `torsocks-arti`'s main: bootstrap, report, serve until stdin closes.
pub(crate) fn serve() -> ExitCode {
    let args = ProcessArgs::parse();
    let options = Options {
        dirs: Dirs {
            state: args.state_dir,
            cache: args.cache_dir,
        },
        overlay: args.arti_config,
        timeout: Duration::from_secs(args.bootstrap_timeout),
        tty: args.tty,
        debug: args.debug,
    };
    let _ignored = ignore_terminal_signals();
    let mut stdout = std::io::stdout();
    let configured = match Embedded::configure(&options).and_then(|configured| {
        confine(&configured, options.debug)?;
        Ok(configured)
    }) {
        Ok(configured) => configured,
        Err(message) => {
            let _ = writeln!(stdout, "error {}", message.to_string().replace('\n', " "));
            return ExitCode::from(1);
        }
    };
    // From the start, bootstrapping included: the launcher gone, nothing is left to do.
    let watcher = std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while stdin.read(&mut sink).is_ok_and(|n| n > 0) {}
        std::process::exit(0);
    });
    let client = match Embedded::start(configured, &options) {
        Ok(client) => client,
        Err(message) => {
            let _ = writeln!(stdout, "error {}", message.to_string().replace('\n', " "));
            return ExitCode::from(1);
        }
    };
    if writeln!(stdout, "socks {}", client.socks_addr())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    // Serve until the launcher closes our stdin (or is gone): the watcher then exits.
    let _ = watcher.join();
    drop(client);
    ExitCode::SUCCESS
}

/// Confines this process before its first thread (Landlock and seccomp bind the thread
/// that asks, and those it starts), to the directories `configured` names.
fn confine(configured: &super::Configured, debug: bool) -> Result<(), ArtiError> {
    let dirs = configured
        .storage
        .as_ref()
        .map(|d| [d.state.as_path(), d.cache.as_path()]);
    let lines = crate::confine::embedded_client(dirs, debug).map_err(ArtiError::Confine)?;
    if debug {
        for line in lines {
            eprintln!("torsocks-ns: {line}");
        }
    }
    Ok(())
}

/// Keeps SIGINT and SIGQUIT from ending the helper: a Ctrl-C at the terminal is for
/// the program in the sandbox (tokio's handlers stay installed for the process's life;
/// the returned streams are never read).
fn ignore_terminal_signals() -> Option<(tokio::runtime::Runtime, Vec<tokio::signal::unix::Signal>)>
{
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .ok()?;
    let signals = runtime.block_on(async {
        [SignalKind::interrupt(), SignalKind::quit()]
            .into_iter()
            .filter_map(|kind| signal(kind).ok())
            .collect()
    });
    Some((runtime, signals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_read() {
        assert_eq!(
            parse_report("socks 127.0.0.1:4567\n").unwrap(),
            "127.0.0.1:4567".parse::<SocketAddr>().unwrap()
        );
        assert!(matches!(
            parse_report("error it has not bootstrapped\n"),
            Err(Some(ArtiError::Reported(m))) if m == "it has not bootstrapped"
        ));
        assert!(matches!(parse_report(""), Err(None)));
        assert!(matches!(parse_report("socks nowhere\n"), Err(Some(_))));
        assert!(matches!(parse_report("something else\n"), Err(Some(_))));
    }

    #[test]
    fn the_helper_is_found_beside_or_in_the_library_directory() {
        let root =
            std::env::temp_dir().join(format!("torsocks-arti-locate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let bin = root.join("bin");
        let lib = root.join("lib/torsocks");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&lib).unwrap();
        let exe = bin.join("torsocks-ns");
        let err = locate(&exe).unwrap_err().to_string();
        assert!(err.contains("--tor daemon"), "{err}");
        std::fs::write(lib.join(PROGRAM), b"").unwrap();
        assert_eq!(
            locate(&exe).unwrap(),
            bin.join("../lib/torsocks").join(PROGRAM)
        );
        std::fs::write(bin.join(PROGRAM), b"").unwrap();
        assert_eq!(
            locate(&exe).unwrap(),
            bin.join(PROGRAM),
            "beside it comes first"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
