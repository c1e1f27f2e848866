//! No way back: the last step of the sandbox's PID 1 before it starts the command.
//! The caller's session keyring is left behind, supplementary groups go where the
//! kernel lets them, the command's user is taken ([`RunAs`]: never host root), every
//! capability goes (bounding, ambient, inheritable, permitted, effective), the
//! securebits are locked so that uid 0 regains none at exec, no-new-privs is set, and
//! seccomp filters refuse the socket families that no namespace scopes, io_uring, new
//! user namespaces and the kernel interfaces of [`REFUSED_CALLS`], and typing into the
//! terminal. From then on no program inside can undo a mount or reach past the network
//! namespace. [`Bounds`] and [`new_clocks`] are set up here too.
#![allow(unsafe_code)]

use super::error::SetupError;
use std::collections::BTreeMap;

use nix::unistd::{Gid, Uid};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Socket families the command may create. All are scoped by the network namespace
/// (or purely local); every other family — AF_VSOCK (the hypervisor), AF_BLUETOOTH,
/// AF_NFC, AF_QIPCRTR and the rest of the radio and legacy families, some of which no
/// namespace confines — fails with EAFNOSUPPORT.
pub(crate) const ALLOWED_FAMILIES: &[libc::c_int] = &[
    libc::AF_UNIX,
    libc::AF_INET,
    libc::AF_INET6,
    libc::AF_NETLINK,
    libc::AF_PACKET,
    libc::AF_ALG,
];

/// The x32 ABI's system-call bit (x86_64): the same calls under other numbers.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// keyctl(2)'s KEYCTL_JOIN_SESSION_KEYRING (linux/keyctl.h).
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// ioctl(2) requests that type into a terminal (asm-generic/ioctls.h).
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;

/// The x32 ABI's own number for ioctl (it takes a compat argument).
#[cfg(target_arch = "x86_64")]
const X32_IOCTL: i64 = 514;

/// Who the command runs as: the caller, or for a root-run `nobody` or `--user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunAs {
    /// The user's uid.
    pub uid: Uid,
    /// Its primary group; supplementary groups are dropped where the kernel lets us.
    pub gid: Gid,
}

/// Bounds on what the command may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// Processes (and threads) of the command's user inside the sandbox
    /// (RLIMIT_NPROC, counted in the sandbox's own user namespace).
    pub max_procs: u64,
    /// Address space per process (RLIMIT_AS), when asked for.
    pub memory: Option<u64>,
}

/// The highest OOM score: when memory runs out, the kernel takes the sandbox's
/// processes first, never the launcher or the caller's session.
const OOM_SCORE_ADJ: &str = "1000";

impl Bounds {
    /// Applies the bounds to this process (PID 1, before it forks the command), which
    /// the command inherits.
    pub(crate) fn apply(&self) -> Result<(), SetupError> {
        use nix::sys::resource::{setrlimit, Resource};
        setrlimit(Resource::RLIMIT_NPROC, self.max_procs, self.max_procs)
            .map_err(SetupError::errno("--max-procs"))?;
        if let Some(bytes) = self.memory {
            setrlimit(Resource::RLIMIT_AS, bytes, bytes).map_err(SetupError::errno("--memory"))?;
        }
        Ok(())
    }
}

/// Makes the sandbox the OOM killer's first choice (before privileges go: the score is
/// set through PID 1's own /proc file, which is root's once PID 1 is not dumpable).
pub(crate) fn first_to_go() -> Result<(), SetupError> {
    std::fs::write("/proc/self/oom_score_adj", OOM_SCORE_ADJ)
        .map_err(SetupError::io("raising the sandbox's OOM score"))
}

/// A boot time of the sandbox's own: its children live in a new time namespace whose
/// monotonic and boot clocks run ahead of the host's by a random offset (up to 30
/// days), so that `/proc/uptime` and `/proc/stat`'s btime do not link runs to the
/// host's boot. Where the kernel has no time namespaces, the host's clocks show.
pub(crate) fn new_clocks() -> bool {
    let mut random = [0u8; 4];
    if nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(
        libc::CLONE_NEWTIME,
    ))
    .is_err()
        || std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut random))
            .is_err()
    {
        return false;
    }
    let offset = 3600 + u64::from(u32::from_le_bytes(random)) % (30 * 86_400);
    let offsets = format!("monotonic {offset} 0\nboottime {offset} 0\n");
    std::fs::write("/proc/self/timens_offsets", offsets).is_ok()
}

fn succeeded(rc: libc::c_int, what: &str) -> Result<(), SetupError> {
    if rc < 0 {
        Err(SetupError::last_os(what))
    } else {
        Ok(())
    }
}

/// The filters, in the order they are installed. Built before any privilege is
/// dropped, so a failure is reported as a setup error.
pub(crate) fn filters(allow_userns: bool) -> Result<Vec<BpfProgram>, SetupError> {
    let arch: TargetArch = std::env::consts::ARCH
        .try_into()
        .map_err(SetupError::other("seccomp"))?;
    let bad = |e: seccompiler::BackendError| SetupError::other("seccomp filter")(e);
    let sockets = other_families().map_err(bad)?;
    // Each filter lets everything through but its rules' matches, which fail with one
    // errno.
    let refusing = |rules, errno: i32| {
        SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(errno as u32),
            arch,
        )
        .map_err(bad)
    };
    let families = refusing(sockets, libc::EAFNOSUPPORT)?;
    // io_uring creates sockets without socket(2) (IORING_OP_SOCKET): not offered, so
    // programs fall back to the system calls above.
    // clone3 passes its flags in memory, out of the filter's sight: without it, the C
    // library falls back to clone, whose flags the next filter reads.
    let mut absent: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in [libc::SYS_io_uring_setup, libc::SYS_clone3] {
        absent.insert(nr, vec![]);
        #[cfg(target_arch = "x86_64")]
        absent.insert(nr | X32_SYSCALL_BIT, vec![]);
    }
    let absent = refusing(absent, libc::ENOSYS)?;
    let kernel = refusing(kernel_surface(allow_userns).map_err(bad)?, libc::EPERM)?;
    // TIOCSTI pushes bytes into the terminal's input queue: a command could type into
    // the caller's shell, to run after the sandbox has ended (bubblewrap's
    // CVE-2017-5226). TIOCLINUX's selection paste on a virtual console does the same.
    let mut ttys: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let typing = [TIOCSTI, TIOCLINUX]
        .into_iter()
        .map(|request| {
            SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, request)
                .and_then(|c| SeccompRule::new(vec![c]))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    ttys.insert(libc::SYS_ioctl, typing.clone());
    #[cfg(target_arch = "x86_64")]
    ttys.insert(X32_IOCTL | X32_SYSCALL_BIT, typing);
    let ttys = refusing(ttys, libc::EPERM)?;
    [families, absent, kernel, ttys]
        .into_iter()
        .map(|f| BpfProgram::try_from(f).map_err(SetupError::other("seccomp filter")))
        .collect()
}

/// socket(domain, ...) and socketpair(domain, ...) with a domain outside
/// [`ALLOWED_FAMILIES`].
fn other_families() -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    let conditions = ALLOWED_FAMILIES
        .iter()
        .map(|&family| {
            SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, family as u64)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let family_rule = SeccompRule::new(conditions)?;
    let mut sockets: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in [libc::SYS_socket, libc::SYS_socketpair] {
        sockets.insert(nr, vec![family_rule.clone()]);
        #[cfg(target_arch = "x86_64")]
        sockets.insert(nr | X32_SYSCALL_BIT, vec![family_rule.clone()]);
    }
    Ok(sockets)
}

/// Kernel interfaces a sandboxed program has no business with, each a common road to a
/// kernel privilege escalation: new user namespaces (namespaced root over fresh network
/// and mount namespaces: nf_tables, tc, the new mount API), userfaultfd, the key
/// management calls, perf events, eBPF, kexec and kernel modules. ptrace stays, so that
/// debuggers work on the sandbox's own processes.
pub(crate) const REFUSED_CALLS: &[libc::c_long] = &[
    libc::SYS_userfaultfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_perf_event_open,
    libc::SYS_bpf,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
];

/// The rules of [`REFUSED_CALLS`], and (unless `allow_userns`) clone or unshare
/// asking for a user namespace.
fn kernel_surface(
    allow_userns: bool,
) -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in REFUSED_CALLS {
        rules.insert(nr, vec![]);
        #[cfg(target_arch = "x86_64")]
        rules.insert(nr | X32_SYSCALL_BIT, vec![]);
    }
    if allow_userns {
        return Ok(rules);
    }
    let newuser = libc::CLONE_NEWUSER as u64;
    let condition = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(newuser),
        newuser,
    )?;
    let rule = SeccompRule::new(vec![condition])?;
    for nr in [libc::SYS_clone, libc::SYS_unshare] {
        rules.insert(nr, vec![rule.clone()]);
        #[cfg(target_arch = "x86_64")]
        rules.insert(nr | X32_SYSCALL_BIT, vec![rule.clone()]);
    }
    Ok(rules)
}

/// Empties the bounding set, up to whatever the running kernel knows (EINVAL past its
/// last capability).
fn empty_bounding_set() -> Result<(), SetupError> {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                break;
            }
            return Err(SetupError::last_os(format_args!(
                "dropping capability {cap} from the bounding set"
            )));
        }
    }
    Ok(())
}

/// Drops everything; switches to `run_as` on the way. The filters come from
/// [`filters`].
pub(crate) fn drop_privileges(run_as: &RunAs, filters: &[BpfProgram]) -> Result<(), SetupError> {
    // Securebits first (needs CAP_SETPCAP): uid 0 gains no capability at exec, a uid
    // change does not touch capabilities (they are cleared explicitly below), and no
    // ambient capability can be raised again; each bit locked.
    let bits = libc::SECBIT_NOROOT
        | libc::SECBIT_NOROOT_LOCKED
        | libc::SECBIT_NO_SETUID_FIXUP
        | libc::SECBIT_NO_SETUID_FIXUP_LOCKED
        | libc::SECBIT_KEEP_CAPS_LOCKED
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits as libc::c_ulong, 0, 0, 0) };
    succeeded(rc, "locking securebits")?;
    empty_bounding_set()?;
    // A fresh session keyring: the caller's (Kerberos tickets, stored passwords) stays
    // outside. The user keyring already belongs to the new user namespace.
    // SAFETY: keyctl with integer arguments only.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
        return Err(SetupError::last_os("a new session keyring"));
    }
    caps::clear(None, caps::CapSet::Ambient).map_err(SetupError::other("ambient capabilities"))?;
    // Supplementary groups go where the kernel lets us (a root-run's); an unprivileged
    // caller's user namespace denies setgroups, and keeps them.
    let dropped = nix::unistd::setgroups(&[]);
    if nix::unistd::getuid().is_root() {
        dropped.map_err(SetupError::errno("dropping supplementary groups"))?;
    }
    nix::unistd::setresgid(run_as.gid, run_as.gid, run_as.gid)
        .map_err(SetupError::errno("setgid"))?;
    nix::unistd::setresuid(run_as.uid, run_as.uid, run_as.uid)
        .map_err(SetupError::errno("setuid"))?;
    for set in [
        caps::CapSet::Effective,
        caps::CapSet::Permitted,
        caps::CapSet::Inheritable,
    ] {
        caps::clear(None, set)
            .map_err(SetupError::other(format_args!("capabilities ({set:?})")))?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(SetupError::errno("no-new-privs"))?;
    for filter in filters {
        seccompiler::apply_filter(filter).map_err(SetupError::other("seccomp"))?;
    }
    // The sandbox's PID 1 holds a copy of the launcher's memory: not for the command
    // to read (ptrace, /proc/1/mem).
    nix::sys::prctl::set_dumpable(false).map_err(SetupError::errno("dumpable"))?;
    Ok(())
}

/// Closes every fd from 3 up, except `keep` (the caller's `--keep-fd`s).
pub(crate) fn close_fds(keep: &[i32]) -> Result<(), SetupError> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&fd| fd > 2)
        .map(|&fd| fd as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = 3u32;
    for fd in keep.into_iter().chain([u32::MAX]) {
        if fd > from {
            let last = if fd == u32::MAX { u32::MAX } else { fd - 1 };
            // SAFETY: close_range takes integers only; the fds it closes belong to this
            // process, which is about to exec and uses none of them.
            let rc = unsafe { libc::syscall(libc::SYS_close_range, from, last, 0u32) };
            if rc < 0 {
                return Err(SetupError::last_os("closing inherited fds"));
            }
        }
        from = fd.saturating_add(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_build_for_this_architecture() {
        for allow_userns in [false, true] {
            let filters = filters(allow_userns).unwrap();
            assert_eq!(filters.len(), 4);
            assert!(filters.iter().all(|f| !f.is_empty()));
        }
    }

    /// unshare(CLONE_NEWUSER) under the filters, in a forked child: its errno (0: done).
    fn new_user_namespace_under(filters: &[BpfProgram]) -> i32 {
        use nix::sys::wait::{waitpid, WaitStatus};
        let _forking = crate::FORKS.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the child makes system calls only, then _exits.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let applied = nix::sys::prctl::set_no_new_privs().is_ok()
                    && filters.iter().all(|f| seccompiler::apply_filter(f).is_ok());
                // SAFETY: an integer argument; the namespace is the child's alone.
                let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
                let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(1);
                let code = match (applied, rc) {
                    (false, _) => 99,
                    (true, 0) => 0,
                    (true, _) => errno,
                };
                // SAFETY: ends the child without unwinding into the test harness.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => code,
                other => panic!("{other:?}"),
            },
        }
    }

    #[test]
    fn a_user_namespace_only_with_allow_userns() {
        let free = new_user_namespace_under(&[]);
        if free != 0 {
            eprintln!("this machine refuses user namespaces (errno {free}): nothing to test");
            return;
        }
        assert_eq!(
            new_user_namespace_under(&filters(false).unwrap()),
            libc::EPERM
        );
        assert_eq!(new_user_namespace_under(&filters(true).unwrap()), 0);
    }

    #[test]
    fn families_are_the_namespaced_ones() {
        assert!(!ALLOWED_FAMILIES.contains(&libc::AF_VSOCK));
        assert!(!ALLOWED_FAMILIES.contains(&libc::AF_BLUETOOTH));
        assert!(ALLOWED_FAMILIES.contains(&libc::AF_INET6));
    }
}
