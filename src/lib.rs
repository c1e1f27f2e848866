//! `torsocks-ns`: run a program in a network namespace whose only way out is Tor.
//!
//! Two programs are built from this library: `torsocks-ns` (the launcher, [`main`]) and,
//! with the `embedded-tor` feature, `torsocks-arti` ([`arti_main`]), the embedded Tor
//! client in a process of its own that the launcher starts only when a run asks for it.
//!
//! The launcher's wings, from the top (what a run does) down (what everything uses):
//!
//! * [`run`] — a run, from the command line to the exit status: the options
//!   ([`run::cli`], [`run::settings`]), the pure [`run::plan`] that decides everything
//!   they ask for, the [`run::launch`] in named phases, the sandbox's spec, `--check`,
//!   preload mode with the embedded client, `--stats`.
//! * [`join`] — named sandboxes: `--name` registers one, `--list` shows them, `--join`
//!   runs a command inside a running one.
//! * [`session`] — the userspace stack on the TUN device: a sans-IO driver, a task per
//!   TCP flow dialing Tor, a task per DNS query, signals and the exit status.
//! * `arti` — the embedded Tor client (Arti) in `torsocks-arti`, with its SOCKS front.
//! * [`serve`] — the launcher's listening services: the sandbox's SOCKS port, published
//!   ports, caps on clients.
//! * [`names`] — the sandbox's DNS server and the virtual addresses that stand for
//!   names.
//! * [`ns`] — the sandbox: its PID 1 in new namespaces, `tun0`, the mounts from a plan,
//!   every privilege dropped, and the typed link between PID 1 and the launcher.
//! * [`tor`] — the one interface to Tor (open a stream, resolve), which Tor to use,
//!   isolation, what names this machine, Tor's ControlPort (bootstrap, NEWNYM, onion
//!   services).
//! * [`confine`] — the launcher (and the embedded client) confining themselves: own
//!   namespaces, empty root, no capabilities, Landlock, seccomp.
//! * [`limits`] — every bound of the launcher: the memory budget, the open files.
//!
//! Each wing has one error type (or a few, one per part) whose `Display` is the user's
//! sentence and whose `source()` is the system's reason; [`run::launch::LaunchError`]
//! gathers them.

// Unsafe code lives only in the modules that make system calls, each of which says so.
#![deny(unsafe_code)]
// This page is a guided tour of the private modules: `cargo doc --document-private-items`
// renders it whole; the library's public face is only the two programs' entry points.
#![allow(rustdoc::private_intra_doc_links)]

#[cfg(feature = "embedded-tor")]
mod arti;
mod confine;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod join;
mod limits;
mod names;
mod ns;
mod run;
mod serve;
mod session;
mod tor;

/// Held by a test while a forked child of the test process lives, and by tests whose
/// assertions a fork would upset: a forked child holds a copy of every descriptor of
/// the process (other tests' listeners among them) until it runs and closes them.
#[cfg(test)]
pub(crate) static FORKS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Large allocations (the stack's buffers) are mappings of their own: see
/// [`session::page_alloc`].
#[global_allocator]
static ALLOCATOR: session::page_alloc::PageMapped = session::page_alloc::PageMapped;

/// The launcher, `torsocks-ns`: not dumpable and without core files from its first
/// instruction, SIGUSR1 noted until the session takes it, then [`run::launch`].
pub fn main() -> std::process::ExitCode {
    confine::from_the_start();
    run::early_signals::install();
    run::launch::main()
}

/// The embedded Tor client's process, `torsocks-arti`: see `arti::process`.
#[cfg(feature = "embedded-tor")]
pub fn arti_main() -> std::process::ExitCode {
    confine::from_the_start();
    arti::process::serve()
}
