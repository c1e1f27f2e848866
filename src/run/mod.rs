//! A run of `torsocks-ns`, from the command line to the exit status.
//!
//! * [`cli`] — the command line (clap).
//! * [`settings`] — `torsocks.conf` and `TORSOCKS_*`, shared with preload mode.
//! * [`plan`] — every option merged, parsed and checked against the others, at once and
//!   without I/O: the [`plan::RunPlan`].
//! * [`launch`] — the run's named phases, carrying the plan out.
//! * [`spec`] — what the sandbox is made of, decided from the options and the host.
//! * [`check`] — `--check`: is the machine ready, does the sandbox hold.
//! * [`embedded_preload`] — preload mode with the embedded client (`torsocks --embedded`).
//! * [`early_signals`] — a new identity asked for before the session runs.
//! * [`files`] — files written for the user, never through a planted link.
//! * [`stats`] — the `--stats` summary.

pub(crate) mod check;
pub(crate) mod cli;
pub(crate) mod early_signals;
pub(crate) mod embedded_preload;
pub(crate) mod files;
pub(crate) mod launch;
pub(crate) mod plan;
pub(crate) mod settings;
pub(crate) mod spec;
pub(crate) mod stats;
