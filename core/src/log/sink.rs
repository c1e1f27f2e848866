//! The process-wide log sink: three atomics and `write(2)`.
//!
//! This is the only `unsafe` of the logging module: raw `write`, `getpid`, errno access
//! and `strerror_r`. Atomics (not a lock) hold the state so that a line can be written
//! from any thread, a signal handler or a forked child without deadlock.
#![allow(unsafe_code)]

use std::fmt;
use std::os::fd::IntoRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};

use super::line::{format_line, LineBuf};
use super::{Destination, Level, LogSettings, LogSetupError};

/// The log's fd; -1 once logging is disabled.
static FD: AtomicI32 = AtomicI32::new(libc::STDERR_FILENO);
/// The level, 1..=5; 0 when disabled.
static LEVEL: AtomicU8 = AtomicU8::new(3);
/// Whether lines start with the Unix time.
static TIME: AtomicBool = AtomicBool::new(true);

/// Where a line was logged from (the `(in f() at file:line)` suffix).
#[derive(Debug, Clone, Copy)]
pub struct Location {
    /// The function's name.
    pub function: &'static str,
    /// The source file.
    pub file: &'static str,
    /// The source line.
    pub line: u32,
}

/// Installs `settings` for the whole process; setup problems go to stderr (L-2, L-3).
pub fn init(settings: &LogSettings, problem: Option<&LogSetupError>) {
    TIME.store(settings.time, Ordering::Relaxed);
    if let Some(problem) = problem {
        stderr_line(format_args!("{problem}"));
    }
    let Some(level) = settings.level else {
        disable();
        return;
    };
    let fd = match &settings.destination {
        Destination::Stderr => libc::STDERR_FILENO,
        Destination::File(path) => {
            // Rust opens files with O_CLOEXEC; append mode keeps concurrent writers' lines whole.
            let opened = if path.as_os_str().is_empty() {
                None
            } else {
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(path)
                    .ok()
            };
            match opened {
                Some(file) => file.into_raw_fd(),
                None => {
                    let text = path.to_string_lossy();
                    stderr_line(format_args!(
                        "{}",
                        LogSetupError::UnopenableFile(text.into_owned())
                    ));
                    disable();
                    return;
                }
            }
        }
    };
    let old = FD.swap(fd, Ordering::AcqRel);
    if old > libc::STDERR_FILENO && old != fd {
        // SAFETY: `old` was a log file this module opened and owns.
        unsafe { libc::close(old) };
    }
    LEVEL.store(level, Ordering::Release);
}

/// Whether a line of `level` would be written now.
pub fn is_enabled(level: Level) -> bool {
    LEVEL.load(Ordering::Acquire) >= level.threshold() && FD.load(Ordering::Acquire) >= 0
}

/// Writes one line if `level` is enabled. `errno` is set for PERROR lines (L-6).
pub fn emit(level: Level, message: fmt::Arguments<'_>, errno: Option<i32>, location: Location) {
    if !is_enabled(level) {
        return;
    }
    let fd = FD.load(Ordering::Acquire);
    write_line(fd, level, message, errno, &location, true);
}

/// Writes a fatal ERROR line (CF-3): to the log when ERROR lines are enabled, otherwise
/// to stderr, so a fatal error is never silent (D-28).
pub fn fatal(message: fmt::Arguments<'_>, location: Location) {
    let fd = if is_enabled(Level::Error) {
        FD.load(Ordering::Acquire)
    } else {
        libc::STDERR_FILENO
    };
    write_line(fd, Level::Error, message, None, &location, false);
}

/// Tells the log that the application closed (or replaced) `fd` (L-9). If it was the
/// log's fd, logging stops silently.
pub fn forget_fd(fd: i32) {
    if fd >= 0 {
        let _ = FD.compare_exchange(fd, -1, Ordering::AcqRel, Ordering::Acquire);
    }
}

fn disable() {
    LEVEL.store(0, Ordering::Release);
}

fn write_line(
    fd: i32,
    level: Level,
    message: fmt::Arguments<'_>,
    errno: Option<i32>,
    location: &Location,
    stop_on_failure: bool,
) {
    let saved = errno_get();
    let mut buf = LineBuf::new();
    let time = TIME.load(Ordering::Relaxed).then(unix_time);
    let mut reason = [0u8; 256];
    let strerror = errno.map(|e| strerror(e, &mut reason));
    // SAFETY: getpid has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    format_line(&mut buf, time, level, pid, message, strerror, location);
    let line = buf.finish();
    // SAFETY: `line` is a valid, initialised buffer of `line.len()` bytes.
    let written = unsafe { libc::write(fd, line.as_ptr().cast(), line.len()) };
    if written < 0 && stop_on_failure {
        FD.store(-1, Ordering::Release);
        stderr_line(format_args!("[tsocks] logging failed. Stopping logging."));
    }
    errno_set(saved);
}

/// Writes `[tsocks] …` lines straight to stderr (L-2, L-3, L-8).
fn stderr_line(message: fmt::Arguments<'_>) {
    let saved = errno_get();
    let mut buf = LineBuf::new();
    let _ = fmt::Write::write_fmt(&mut buf, message);
    let line = buf.finish();
    // SAFETY: `line` is a valid, initialised buffer; a failed write is ignored.
    unsafe { libc::write(libc::STDERR_FILENO, line.as_ptr().cast(), line.len()) };
    errno_set(saved);
}

fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `strerror_r` into `buf`, without allocating.
fn strerror(errno: i32, buf: &mut [u8; 256]) -> &str {
    // SAFETY: buf is writable for its whole length; the XSI strerror_r writes a
    // NUL-terminated string that fits, or fails and leaves it untouched (zeroed).
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    if rc != 0 || len == 0 {
        return "Unknown error";
    }
    std::str::from_utf8(&buf[..len]).unwrap_or("Unknown error")
}

fn errno_get() -> i32 {
    // SAFETY: __errno_location always returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn errno_set(value: i32) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = value };
}

#[cfg(test)]
pub(super) fn test_strerror(errno: i32) -> String {
    let mut buf = [0u8; 256];
    strerror(errno, &mut buf).to_string()
}
