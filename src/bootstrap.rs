//! Waiting for Tor to bootstrap (with a ControlPort): a progress bar on a terminal,
//! one line per phase otherwise, and a clear error when it does not finish in time.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::control::Control;

/// How often the bootstrap status is asked for.
const POLL: Duration = Duration::from_millis(250);

/// Returns once Tor reports 100 %, or an error naming where it stopped.
pub(crate) fn wait(control: &mut Control, limit: Duration, tty: bool) -> Result<(), String> {
    let started = Instant::now();
    let mut last = None;
    loop {
        let phase = control.bootstrap()?;
        if phase.progress >= 100 {
            if tty && last.is_some() {
                eprintln!("\r\x1b[2Ktorsocks-ns: Tor has bootstrapped");
            }
            return Ok(());
        }
        let line = format!("{}% {}", phase.progress, phase.summary);
        if last.as_ref() != Some(&line) {
            if tty {
                let filled = usize::from(phase.progress) / 5;
                eprint!(
                    "\r\x1b[2Ktorsocks-ns: waiting for Tor [{}{}] {line}",
                    "#".repeat(filled),
                    " ".repeat(20 - filled)
                );
                let _ = std::io::stderr().flush();
            } else {
                eprintln!("torsocks-ns: waiting for Tor to bootstrap: {line}");
            }
            last = Some(line);
        }
        if started.elapsed() >= limit {
            if tty {
                eprintln!();
            }
            let mut message = format!(
                "Tor has not bootstrapped within {} s: it stopped at {}% ({})",
                limit.as_secs(),
                phase.progress,
                phase.summary
            );
            if let Some(warning) = phase.warning {
                message.push_str(&format!("; Tor warns: {warning}"));
            }
            return Err(message);
        }
        std::thread::sleep(POLL);
    }
}
