//! The torsocks log (spec §3).
//!
//! A line looks like `1700000000 WARNING torsocks[4242]: <message> (in fn() at file:line)`.
//! [`LogSettings::from_env`] reads `TORSOCKS_LOG_LEVEL`, `_TIME` and `_FILE_PATH`;
//! [`init`] installs them process-wide; the macros [`log_error!`](crate::log_error),
//! [`log_warn!`](crate::log_warn), [`log_debug!`](crate::log_debug) and
//! [`log_perror!`](crate::log_perror) write lines. Formatting happens in a fixed
//! 4096-byte buffer on the stack and each line is one `write(2)` (L-7), so logging
//! allocates nothing and is safe inside the preload library. The sink never changes the
//! errno the application sees (L-10) and stops for good when the application closes the
//! log's fd (L-9, [`forget_fd`]).

mod line;
mod sink;

use std::fmt;

pub use line::{format_line, LineBuf, MAX_LINE};
pub use sink::{emit, fatal, forget_fd, init, is_enabled, Location};

use crate::config::env::{self as vars, Environment};
use crate::config::value::atoi;

/// Message severities (L-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// ERROR, shown at level ≥ 2.
    Error,
    /// PERROR (an ERROR with `strerror(errno)` appended), shown at level ≥ 2.
    PError,
    /// WARNING, shown at level ≥ 3 (the default).
    Warning,
    /// DEBUG, shown at level 5.
    Debug,
}

impl Level {
    /// The lowest `TORSOCKS_LOG_LEVEL` that shows this severity.
    pub fn threshold(self) -> u8 {
        match self {
            Level::Error | Level::PError => 2,
            Level::Warning => 3,
            Level::Debug => 5,
        }
    }

    /// The word in the log line.
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::PError => "PERROR",
            Level::Warning => "WARNING",
            Level::Debug => "DEBUG",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard error (fd 2).
    Stderr,
    /// A file opened for appending (L-3).
    File(std::path::PathBuf),
}

/// The logging configuration of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// 1..=5, or `None` when logging is disabled (L-2).
    pub level: Option<u8>,
    /// Whether lines start with the Unix time (L-4).
    pub time: bool,
    /// Where lines go.
    pub destination: Destination,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: Some(3),
            time: true,
            destination: Destination::Stderr,
        }
    }
}

/// A problem with the logging variables, reported on stderr by [`init`] (L-2, L-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSetupError {
    /// `TORSOCKS_LOG_LEVEL` outside 1..5.
    UnknownLevel(i64),
    /// The log file could not be opened.
    UnopenableFile(String),
}

impl fmt::Display for LogSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogSetupError::UnknownLevel(n) => write!(f, "[tsocks] Unknown loglevel {n}"),
            LogSetupError::UnopenableFile(p) => write!(f, "[tsocks] Unable to open log file {p}"),
        }
    }
}

impl LogSettings {
    /// Reads the three logging variables (L-1..L-4). An invalid level disables logging;
    /// the returned error is for the caller to print on stderr.
    pub fn from_env(env: &dyn Environment) -> (LogSettings, Option<LogSetupError>) {
        let mut settings = LogSettings::default();
        let mut problem = None;
        if let Some(raw) = env.var(vars::LOG_LEVEL) {
            let n = atoi(&raw.to_string_lossy());
            if (1..=5).contains(&n) {
                settings.level = Some(n as u8);
            } else {
                settings.level = None;
                problem = Some(LogSetupError::UnknownLevel(n));
            }
        }
        if let Some(raw) = env.var(vars::LOG_TIME) {
            settings.time = atoi(&raw.to_string_lossy()) != 0;
        }
        if let Some(path) = env.var(vars::LOG_FILE_PATH) {
            settings.destination = Destination::File(path.into());
        }
        (settings, problem)
    }

    /// Whether a line of `level` is written.
    pub fn shows(&self, level: Level) -> bool {
        self.level.is_some_and(|l| l >= level.threshold())
    }
}

/// The name of the enclosing function, for the `(in f() at …)` suffix.
#[doc(hidden)]
#[macro_export]
macro_rules! __function_name {
    () => {{
        fn f() {}
        fn name_of<T>(_: T) -> &'static str {
            ::core::any::type_name::<T>()
        }
        let name = name_of(f);
        let name = name.strip_suffix("::f").unwrap_or(name);
        let name = name.trim_end_matches("::{{closure}}");
        match name.rfind("::") {
            Some(i) => &name[i + 2..],
            None => name,
        }
    }};
}

/// Writes a line of the given level with the caller's location.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_at {
    ($level:expr, $($arg:tt)*) => {
        $crate::log::emit(
            $level,
            ::core::format_args!($($arg)*),
            None,
            $crate::log::Location {
                function: $crate::__function_name!(),
                file: ::core::file!(),
                line: ::core::line!(),
            },
        )
    };
}

/// Logs an ERROR line (level ≥ 2).
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::__log_at!($crate::log::Level::Error, $($arg)*) };
}

/// Logs a WARNING line (level ≥ 3).
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => { $crate::__log_at!($crate::log::Level::Warning, $($arg)*) };
}

/// Logs a DEBUG line (level 5).
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => { $crate::__log_at!($crate::log::Level::Debug, $($arg)*) };
}

/// Logs a PERROR line: the message, `: `, and `strerror(errno)` (L-6).
#[macro_export]
macro_rules! log_perror {
    ($errno:expr, $($arg:tt)*) => {
        $crate::log::emit(
            $crate::log::Level::PError,
            ::core::format_args!($($arg)*),
            Some($errno),
            $crate::log::Location {
                function: $crate::__function_name!(),
                file: ::core::file!(),
                line: ::core::line!(),
            },
        )
    };
}

#[cfg(test)]
mod tests;
