//! SIGUSR1 before the session listens for it: its default action would end
//! torsocks-ns (while it waits for Tor to bootstrap, say). A handler installed first
//! thing notes it instead, and the session starts with that new identity. A handler is
//! not inherited across exec, so the command still gets the default action.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

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
