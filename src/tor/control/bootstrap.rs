//! Waiting for Tor to bootstrap: a progress bar on a terminal, one line per phase
//! otherwise, and a clear error when it does not finish in time. [`wait`] asks a tor
//! daemon's ControlPort; the embedded client ([`crate::arti`]) reports through
//! the same [`Progress`].

use std::io::Write;
use std::time::{Duration, Instant};

use crate::tor::control::{Control, ControlError};

/// How often the bootstrap status is asked for.
const POLL: Duration = Duration::from_millis(250);

/// Shows bootstrap progress on stderr: a bar redrawn in place on a terminal, one line
/// per change otherwise.
#[derive(Debug)]
pub(crate) struct Progress {
    tty: bool,
    /// What is bootstrapping ("Tor", "the embedded Tor client").
    what: &'static str,
    last: Option<String>,
}

impl Progress {
    /// A progress display for `what`.
    pub(crate) fn new(what: &'static str, tty: bool) -> Progress {
        Progress {
            tty,
            what,
            last: None,
        }
    }

    /// Shows `percent` and `summary`, when they differ from what is shown.
    pub(crate) fn show(&mut self, percent: u8, summary: &str) {
        let line = format!("{percent}% {summary}");
        if self.last.as_ref() == Some(&line) {
            return;
        }
        if self.tty {
            let filled = usize::from(percent.min(100)) / 5;
            eprint!(
                "\r\x1b[2Ktorsocks-ns: waiting for {} [{}{}] {line}",
                self.what,
                "#".repeat(filled),
                " ".repeat(20 - filled)
            );
            let _ = std::io::stderr().flush();
        } else {
            eprintln!(
                "torsocks-ns: waiting for {} to bootstrap: {line}",
                self.what
            );
        }
        self.last = Some(line);
    }

    /// Ends the display: bootstrapped.
    pub(crate) fn done(&self) {
        if self.tty && self.last.is_some() {
            eprintln!("\r\x1b[2Ktorsocks-ns: {} has bootstrapped", self.what);
        } else if !self.tty {
            eprintln!("torsocks-ns: {} has bootstrapped", self.what);
        }
    }

    /// Ends the display before an error message.
    pub(crate) fn abandon(&self) {
        if self.tty && self.last.is_some() {
            eprintln!();
        }
    }
}

/// Returns once Tor reports 100 %, or an error naming where it stopped.
pub(crate) fn wait(control: &mut Control, limit: Duration, tty: bool) -> Result<(), ControlError> {
    let started = Instant::now();
    let mut progress = Progress::new("Tor", tty);
    let mut shown = false;
    loop {
        let phase = control.bootstrap()?;
        if phase.progress >= 100 {
            if shown {
                progress.done();
            }
            return Ok(());
        }
        progress.show(phase.progress, &phase.summary);
        shown = true;
        if started.elapsed() >= limit {
            progress.abandon();
            return Err(ControlError::NotBootstrapped {
                limit_secs: limit.as_secs(),
                progress: phase.progress,
                summary: phase.summary,
                warning: phase.warning,
            });
        }
        std::thread::sleep(POLL);
    }
}
