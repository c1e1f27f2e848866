//! The confined launcher's system calls: an allow-list of what its loop makes once the
//! sandbox runs (moving bytes between the TUN device, Tor's port, the SOCKS and
//! published ports' clients; waiting for PID 1; signals), everything else fatal.
//!
//! What is not here, and so kills it: opening any file (`open`, `openat`, ...),
//! `execve`, `clone`, `fork` and threads (the session runs on one thread; PID 1's exit
//! is a pidfd), `ptrace`, `process_vm_*`, mounts and namespaces, `bind` and `listen`
//! (every listening socket exists before), sockets of any family but TCP over IPv4 and
//! IPv6 and the sock_diag netlink (and Unix streams, when Tor's SOCKS port is a Unix
//! socket), memory made executable, `prctl`, `keyctl`, `bpf`.
//! Signals reach only PID 1 and the embedded client's process.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
    SeccompFilter, SeccompRule,
};

use super::error::{ConfineError, Step};

/// A system call's number and name (for the message naming a refused call).
type Call = (i64, &'static str);

macro_rules! calls {
    ($($name:ident),* $(,)?) => { &[$((libc::$name, stringify!($name))),*] };
}

/// Allowed whatever the arguments.
const ANY_ARGUMENTS: &[Call] = calls!(
    // Bytes: the TUN device, Tor's streams, the ControlPort, clients, PID 1's socket.
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_close,
    SYS_recvfrom,
    SYS_sendto,
    SYS_recvmsg,
    SYS_sendmsg,
    SYS_connect,
    SYS_accept4,
    SYS_getsockopt,
    SYS_setsockopt,
    SYS_getsockname,
    SYS_getpeername,
    SYS_shutdown,
    SYS_fcntl,
    SYS_lseek,
    // tokio's reactor.
    SYS_epoll_pwait,
    SYS_epoll_pwait2,
    SYS_epoll_ctl,
    SYS_ppoll,
    SYS_eventfd2,
    // Memory (mmap and mprotect below: never executable).
    SYS_brk,
    SYS_munmap,
    SYS_mremap,
    SYS_madvise,
    SYS_futex,
    SYS_getrandom,
    // Signals and the end.
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_sigaltstack,
    SYS_restart_syscall,
    SYS_exit,
    SYS_exit_group,
    SYS_waitid,
    SYS_wait4,
    SYS_getpid,
    SYS_gettid,
    SYS_sched_yield,
    // Time (the vDSO answers, unless the clock source needs the kernel).
    SYS_clock_gettime,
    SYS_clock_nanosleep,
    SYS_nanosleep,
    SYS_gettimeofday,
    // std's stat of an already open file (a read of a socket or pipe to its end).
    SYS_fstat,
    SYS_newfstatat,
    SYS_statx,
);

/// The older spellings x86_64 still has and its C library still uses.
#[cfg(target_arch = "x86_64")]
const ANY_ARGUMENTS_X86_64: &[Call] = calls!(SYS_epoll_wait, SYS_poll);
#[cfg(not(target_arch = "x86_64"))]
const ANY_ARGUMENTS_X86_64: &[Call] = &[];

/// Allowed with some arguments only (see [`conditional_rules`]).
const SOME_ARGUMENTS: &[Call] = calls!(
    SYS_mmap,
    SYS_mprotect,
    SYS_socket,
    SYS_socketpair,
    SYS_kill,
    SYS_tgkill,
    SYS_ioctl
);

/// Names of calls that are refused but likely to be tried, for the message.
const REFUSED_NAMES: &[Call] = calls!(
    SYS_openat,
    SYS_openat2,
    SYS_fchown,
    SYS_fchownat,
    SYS_fchmodat,
    SYS_utimensat,
    SYS_symlinkat,
    SYS_linkat,
    SYS_mknodat,
    SYS_truncate,
    SYS_mremap,
    SYS_msync,
    SYS_execve,
    SYS_execveat,
    SYS_clone,
    SYS_clone3,
    SYS_ptrace,
    SYS_bind,
    SYS_listen,
    SYS_unshare,
    SYS_setns,
    SYS_mount,
    SYS_prctl,
    SYS_pidfd_open,
    SYS_pidfd_getfd,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_keyctl,
    SYS_bpf,
    SYS_memfd_create,
    SYS_sched_getaffinity,
    SYS_prlimit64,
    SYS_uname,
    SYS_close_range,
    SYS_rseq,
    SYS_set_robust_list,
    SYS_landlock_create_ruleset,
    SYS_seccomp,
);

/// The name of system call `nr`, when it is one the launcher knows.
pub(crate) fn name(nr: i64) -> Option<&'static str> {
    let tables = [
        ANY_ARGUMENTS,
        ANY_ARGUMENTS_X86_64,
        SOME_ARGUMENTS,
        REFUSED_NAMES,
    ];
    tables
        .into_iter()
        .flatten()
        .find(|(n, _)| *n == nr)
        .map(|(_, name)| *name)
}

/// What the rules with arguments depend on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reach {
    /// Processes it may signal: the sandbox's PID 1, the embedded client.
    pub signal_targets: Vec<i32>,
    /// Its own pid (an abort signals itself).
    pub own_pid: i32,
    /// Tor's SOCKS port is a Unix socket: stream sockets of AF_UNIX too (set by
    /// [`super::launcher`] from the confinement's Tor address).
    pub unix_stream: bool,
}

/// What happens on a call outside the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnRefusal {
    /// The process is killed at once (SIGSYS).
    Kill,
    /// SIGSYS is delivered, for a handler that names the call, then exits.
    Report,
}

impl OnRefusal {
    fn action(self) -> SeccompAction {
        match self {
            OnRefusal::Kill => SeccompAction::KillProcess,
            OnRefusal::Report => SeccompAction::Trap,
        }
    }
}

/// The launcher's filter.
pub(crate) fn launcher_filter(
    reach: &Reach,
    on_refusal: OnRefusal,
) -> Result<BpfProgram, ConfineError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &(nr, _) in ANY_ARGUMENTS.iter().chain(ANY_ARGUMENTS_X86_64) {
        rules.insert(nr, vec![]);
    }
    rules.extend(conditional_rules(reach).map_err(ConfineError::at(Step::Seccomp))?);
    compile(rules, on_refusal.action(), SeccompAction::Allow)
}

#[cfg(feature = "embedded-tor")]
/// What the embedded client's threads do beyond the launcher's loop: its files (state,
/// directory cache, SQLite), its threads, its SOCKS port.
const CLIENT_CALLS: &[Call] = calls!(
    SYS_openat,
    SYS_mkdirat,
    SYS_unlinkat,
    SYS_renameat,
    SYS_renameat2,
    SYS_readlinkat,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_fsync,
    SYS_fdatasync,
    SYS_ftruncate,
    SYS_pread64,
    SYS_pwrite64,
    SYS_flock,
    SYS_getdents64,
    SYS_fchmod,
    // SQLite run as root gives its journal the database's owner.
    SYS_fchown,
    SYS_fstatfs,
    SYS_statfs,
    SYS_bind,
    SYS_listen,
    SYS_epoll_create1,
    SYS_pipe2,
    SYS_sysinfo,
    SYS_set_robust_list,
    SYS_rseq,
    SYS_sched_getaffinity,
    SYS_set_tid_address,
    SYS_getuid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getegid,
    SYS_getresuid,
    SYS_getresgid,
    SYS_getgroups,
    SYS_membarrier,
    SYS_clone3,
);

#[cfg(feature = "embedded-tor")]
/// The older file calls x86_64 still has.
#[cfg(target_arch = "x86_64")]
const CLIENT_CALLS_X86_64: &[Call] = calls!(
    SYS_open,
    SYS_mkdir,
    SYS_unlink,
    SYS_rename,
    SYS_readlink,
    SYS_access,
    SYS_rmdir,
    SYS_stat,
    SYS_lstat
);
#[cfg(feature = "embedded-tor")]
#[cfg(not(target_arch = "x86_64"))]
const CLIENT_CALLS_X86_64: &[Call] = &[];

#[cfg(feature = "embedded-tor")]
/// The embedded client's filters: its allow-list, and `clone3` answered ENOSYS (its
/// arguments are out of a filter's reach; the C library then uses `clone`, whose flags
/// must make a thread). Of two filters the kernel applies the stricter answer.
pub(crate) fn client_filters(on_refusal: OnRefusal) -> Result<Vec<BpfProgram>, ConfineError> {
    let fail = |e: seccompiler::BackendError| ConfineError::new(Step::Seccomp, e);
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let plain = [
        ANY_ARGUMENTS,
        ANY_ARGUMENTS_X86_64,
        CLIENT_CALLS,
        CLIENT_CALLS_X86_64,
    ];
    for &(nr, _) in plain.into_iter().flatten() {
        rules.insert(nr, vec![]);
    }
    let reach = Reach {
        signal_targets: Vec::new(),
        own_pid: std::process::id() as i32,
        unix_stream: false,
    };
    rules.extend(conditional_rules(&reach).map_err(fail)?);
    let thread = libc::CLONE_THREAD as u64;
    rules.insert(
        libc::SYS_clone,
        vec![rule(vec![cond(0, Op::MaskedEq(thread), thread)]).map_err(fail)?],
    );
    // Threads name themselves; nothing else of prctl.
    rules.insert(
        libc::SYS_prctl,
        vec![rule(vec![cond(0, Op::Eq, libc::PR_SET_NAME as u64)]).map_err(fail)?],
    );
    // Limits read, never set (a NULL new limit).
    rules.insert(
        libc::SYS_prlimit64,
        vec![SeccompRule::new(vec![
            SeccompCondition::new(2, Len::Qword, Op::Eq, 0).map_err(fail)?
        ])
        .map_err(fail)?],
    );
    let allow_list = compile(rules, on_refusal.action(), SeccompAction::Allow)?;
    let no_clone3 = compile(
        BTreeMap::from([(libc::SYS_clone3, vec![])]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
    )?;
    // In this order: applying a filter sets no-new-privs again (a prctl the allow-list
    // does not allow), so the allow-list comes last.
    Ok(vec![no_clone3, allow_list])
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> Result<BpfProgram, ConfineError> {
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| ConfineError::new(Step::Seccomp, format!("{e:?}")))?;
    let filter = SeccompFilter::new(rules, mismatch, matched, arch)
        .map_err(ConfineError::at(Step::Seccomp))?;
    filter
        .try_into()
        .map_err(ConfineError::at::<seccompiler::BackendError>(Step::Seccomp))
}

type Rules = Vec<(i64, Vec<SeccompRule>)>;

fn cond(arg: u8, op: Op, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(arg, Len::Dword, op, value)
}

fn rule(
    conditions: Vec<Result<SeccompCondition, seccompiler::BackendError>>,
) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(conditions.into_iter().collect::<Result<_, _>>()?)
}

/// mmap and mprotect never executable; sockets: TCP over IPv4 and IPv6 (Tor's port),
/// sock_diag (is Tor's port still listening), unix pairs (tokio's signal pipe), unix
/// streams only when Tor's SOCKS port is a Unix socket; kill
/// only PID 1 and the embedded client, tgkill only itself; ioctl only to set an fd
/// non-blocking or close-on-exec.
fn conditional_rules(reach: &Reach) -> Result<Rules, seccompiler::BackendError> {
    let exec = libc::PROT_EXEC as u64;
    let no_exec = |arg| rule(vec![cond(arg, Op::MaskedEq(exec), 0)]);
    let stream = libc::SOCK_STREAM as u64;
    // A stream socket of `family` (TCP for the two of IP).
    let tcp = |family: i32| {
        rule(vec![
            cond(0, Op::Eq, family as u64),
            cond(1, Op::MaskedEq(0xf), stream),
        ])
    };
    let sock_diag = rule(vec![
        cond(0, Op::Eq, libc::AF_NETLINK as u64),
        cond(2, Op::Eq, libc::NETLINK_SOCK_DIAG as u64),
    ]);
    let mut kill = Vec::new();
    for &pid in &reach.signal_targets {
        kill.push(rule(vec![cond(0, Op::Eq, pid as u32 as u64)])?);
    }
    let ioctl = [libc::FIONBIO, libc::FIOCLEX, libc::FIONCLEX]
        .into_iter()
        .map(|request| rule(vec![cond(1, Op::Eq, request)]))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sockets = vec![tcp(libc::AF_INET)?, tcp(libc::AF_INET6)?, sock_diag?];
    if reach.unix_stream {
        sockets.push(tcp(libc::AF_UNIX)?);
    }
    let mut rules = vec![
        (libc::SYS_mmap, vec![no_exec(2)?]),
        (libc::SYS_mprotect, vec![no_exec(2)?]),
        (libc::SYS_socket, sockets),
        (
            libc::SYS_socketpair,
            vec![rule(vec![cond(0, Op::Eq, libc::AF_UNIX as u64)])?],
        ),
        (
            libc::SYS_tgkill,
            vec![rule(vec![cond(0, Op::Eq, reach.own_pid as u32 as u64)])?],
        ),
        (libc::SYS_ioctl, ioctl),
    ];
    // An empty list of rules would allow the call with any arguments.
    if !kill.is_empty() {
        rules.push((libc::SYS_kill, kill));
    }
    Ok(rules)
}
