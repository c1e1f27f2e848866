//! Re-entrancy guard (G-3): while torsocks itself is working on a thread — during
//! initialisation or inside a hook — intercepted calls made on that thread (by Rust's
//! standard library, by the C library) pass straight through.

use std::cell::Cell;

thread_local! {
    // `const` initialisation: no allocation and no destructor registration, so the
    // flag is usable from any hook at any time, even during thread exit.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// True when the current thread is already inside torsocks.
pub fn inside() -> bool {
    DEPTH.try_with(|d| d.get() > 0).unwrap_or(true)
}

/// Marks the thread as inside torsocks until the returned value is dropped.
pub fn enter() -> Entered {
    let _ = DEPTH.try_with(|d| d.set(d.get() + 1));
    Entered(())
}

/// Proof of being inside torsocks; leaving on drop.
pub struct Entered(());

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
    }
}
