//! SIGUSR1 before the session listens for it: its default action would end
//! torsocks-ns (while it waits for Tor to bootstrap, say). A handler installed first
//! thing notes it instead, and the session starts with that new identity. A handler is
//! not inherited across exec, so the command still gets the default action.
//!
//! Preload mode's helper ([`crate::run::embedded_preload`]) also outlives its command's signals:
//! [`forward_to`] passes SIGTERM and SIGHUP on to the command and lets the terminal's
//! SIGINT and SIGQUIT (which reach the whole process group) be the command's to act on.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static NEW_IDENTITY: AtomicBool = AtomicBool::new(false);

extern "C" fn note(_: libc::c_int) {
    NEW_IDENTITY.store(true, Ordering::SeqCst);
}

/// Installs the handler.
pub(crate) fn install() {
    let action = SigAction::new(
        SigHandler::Handler(note),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let _ = unsafe { sigaction(Signal::SIGUSR1, &action) };
}

/// Whether SIGUSR1 arrived since [`install`]; clears the note.
pub(crate) fn take_new_identity() -> bool {
    NEW_IDENTITY.swap(false, Ordering::SeqCst)
}

/// The command's PID, for [`forward`].
static COMMAND: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let pid = COMMAND.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe; the PID is the helper's own child.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

extern "C" fn ignore(_: libc::c_int) {}

/// From now on SIGTERM and SIGHUP go on to `command`, and SIGINT and SIGQUIT leave
/// this process running (they are handled, not ignored, so that a program started
/// later still gets their default actions).
#[cfg_attr(not(feature = "embedded-tor"), allow(dead_code))]
pub(crate) fn forward_to(command: u32) {
    COMMAND.store(command as i32, Ordering::SeqCst);
    for (signal, handler) in [
        (Signal::SIGTERM, forward as extern "C" fn(libc::c_int)),
        (Signal::SIGHUP, forward),
        (Signal::SIGINT, ignore),
        (Signal::SIGQUIT, ignore),
    ] {
        let action = SigAction::new(
            SigHandler::Handler(handler),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handlers only read an atomic and call kill, both async-signal-safe.
        let _ = unsafe { sigaction(signal, &action) };
    }
}
