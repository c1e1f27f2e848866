//! The sandbox's PID 1: starts the command, forwards the signals the launcher passes
//! on, reaps every process that is reparented to it, and exits with the command's
//! status as soon as the command ends. When PID 1 exits the kernel kills every process
//! left in the PID namespace, so nothing the command started outlives it — nor the
//! launcher, since PID 1 dies with the launcher (PR_SET_PDEATHSIG).
#![allow(unsafe_code)]

use std::ffi::CString;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::harden;
use super::link::Link;

/// Signals passed on to the command: those the launcher forwards to PID 1 (INT, TERM,
/// HUP, QUIT, WINCH) and the user signals any process of the sandbox sends it.
const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGWINCH,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// What to exec.
pub(crate) struct Command<'a> {
    /// argv, program first (looked up on PATH).
    pub argv: &'a [CString],
    /// The whole environment, `NAME=value`.
    pub env: &'a [CString],
    /// fds above 2 that stay open.
    pub keep_fds: &'a [i32],
    /// Start a session of its own (no controlling terminal, no process group shared
    /// with the caller's job).
    pub new_session: bool,
    /// Bounds on processes and memory.
    pub bounds: &'a harden::Bounds,
}

/// Waits for a signal or a request from the launcher (connections into the sandbox,
/// [`super::inward`]).
fn next_event(signals: &SignalFd, link: &mut Option<Link>) -> Option<Signal> {
    use std::os::fd::AsFd;
    loop {
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(l) = link.as_ref() {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let request = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        let signal = fds[0].revents().is_some_and(|r| !r.is_empty());
        drop(fds);
        if request {
            if let Some(l) = link.as_ref() {
                if !super::inward::serve_one(l) {
                    *link = None; // the launcher is gone (PID 1 follows it)
                }
            }
        }
        if signal {
            if let Ok(Some(info)) = signals.read_signal() {
                return Signal::try_from(info.ssi_signo as i32).ok();
            }
        }
    }
}

/// Runs the command and returns its shell-style status (128+N when killed by N),
/// answering the launcher's requests on `link` meanwhile (PID 1 has it; a command
/// joined to a running sandbox, `crate::join`, has none).
pub(crate) fn run(command: &Command, link: Option<Link>) -> i32 {
    let mut link = link;
    let mut waited = SigSet::empty();
    for &sig in FORWARDED {
        waited.add(sig);
    }
    waited.add(Signal::SIGCHLD);
    if command.new_session && nix::unistd::setsid().is_err() {
        return 1;
    }
    if let Err(e) = command.bounds.apply() {
        eprintln!("torsocks-ns: {e}");
        return 1;
    }
    let mut previous = SigSet::empty();
    if nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&waited), Some(&mut previous))
        .is_err()
    {
        return 1;
    }
    // SAFETY: this process is single-threaded (the setup's runtime is gone), so the
    // child may run arbitrary code before exec.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
            let code = exec(command);
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("torsocks-ns: fork: {}", e.desc());
            return 1;
        }
    };
    let Ok(signals) = SignalFd::with_flags(&waited, SfdFlags::SFD_CLOEXEC) else {
        let _ = kill(child, Signal::SIGKILL);
        return 1;
    };
    loop {
        let Some(sig) = next_event(&signals, &mut link) else {
            continue;
        };
        if sig != Signal::SIGCHLD {
            let _ = kill(child, sig);
            continue;
        }
        if let Some(status) = reap(child) {
            return status;
        }
    }
}

/// Blanks the launcher's command line in this process's copy of it: `/proc/1/cmdline`
/// is readable by everyone in the sandbox and may hold SOCKS credentials (`-p`).
pub(crate) fn hide_command_line() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the parenthesised command name; arg_start and arg_end are fields 48
    // and 49 of proc_pid_stat(5), the first field after ")" being field 3.
    let Some((_, fields)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<usize>().ok());
    let (Some(start), Some(end)) = (field(48), field(49)) else {
        return;
    };
    if start == 0 || end <= start {
        return;
    }
    let name = b"torsocks-ns";
    // SAFETY: [start, end) is this process's argument area as the kernel reports it:
    // mapped and writable. Only std::env::args reads it, and the command line was
    // parsed (copied) long before; nothing in the sandbox's PID 1 reads it again.
    unsafe {
        std::ptr::write_bytes(start as *mut u8, 0, end - start);
        std::ptr::copy_nonoverlapping(
            name.as_ptr(),
            start as *mut u8,
            name.len().min(end - start - 1),
        );
    }
}

/// Reaps every exited process; the command's status once it has exited.
fn reap(command: Pid) -> Option<i32> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => return Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => {
                return Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// The command's side of the fork: nothing inherited but stdio and the kept fds.
fn exec(command: &Command) -> i32 {
    if let Err(message) = harden::close_fds(command.keep_fds) {
        eprintln!("torsocks-ns: {message}");
        return 1;
    }
    let err = match nix::unistd::execvpe(&command.argv[0], command.argv, command.env) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let name = command.argv[0].to_string_lossy();
    if err == nix::errno::Errno::ENOENT {
        eprintln!("torsocks-ns: {name}: command not found");
        127
    } else {
        eprintln!("torsocks-ns: {name}: {}", err.desc());
        126
    }
}
