//! The exported C functions, one module per family of calls (spec §5). Each hook
//! passes straight through when torsocks itself is the caller (G-3), makes sure the
//! process is initialised (G-1), and never lets a panic cross into C (G-4).
//!
//! The safety contract of every exported function is that of its C prototype, which
//! the caller already honours; the hooks add none.
#![allow(clippy::missing_safety_doc)]

pub mod check;
pub mod connect;
pub mod dl;
pub mod fd;
pub mod inbound;
pub mod netdb;
pub mod peer;
pub mod process;
pub mod recv;
pub mod res;
pub mod send;
pub mod socket;
pub mod syscall;

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{guard, init};

/// Runs the body of a hook: `pass` when torsocks is already at work on this thread,
/// otherwise `body` inside the guard, after initialisation; `on_panic` if it panics.
pub(crate) fn run<T>(
    pass: impl FnOnce() -> T,
    on_panic: impl FnOnce() -> T,
    body: impl FnOnce() -> T,
) -> T {
    run_uninitialised(pass, on_panic, || {
        init::state();
        body()
    })
}

/// As [`run`], without starting initialisation (close, fclose: P-17).
pub(crate) fn run_uninitialised<T>(
    pass: impl FnOnce() -> T,
    on_panic: impl FnOnce() -> T,
    body: impl FnOnce() -> T,
) -> T {
    if guard::inside() {
        return pass();
    }
    let _inside = guard::enter();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| on_panic())
}
