//! The sandbox: the command runs under a small PID 1 in new user, network, mount, PID,
//! UTS, IPC, cgroup and time namespaces whose only network interface is a TUN device.
//!
//! [`spawn`] clones the sandbox's PID 1 straight into the new namespaces. It maps the
//! ids ([`Identity`]: never host root for the command), names the host `localhost`,
//! creates and configures `tun0` ([`tun`], [`netconf`]), builds a new root from the
//! mount plan ([`plan`], applied by [`mounts`]), drops every privilege ([`harden`]),
//! hands the TUN fd to the launcher over their [`link`] and waits for its go. Then it starts the command and stays as its init ([`init`]). What each step
//! gives and hides is decided beforehand, as data, by [`policy`] and [`plan`].
//! The launcher keeps the fd and runs the stack; PID 1 dies with the launcher
//! (PR_SET_PDEATHSIG), and everything in the sandbox dies with PID 1.
#![allow(unsafe_code)]

pub(crate) mod attach;
pub(crate) mod error;
pub(crate) mod harden;
pub(crate) mod init;
pub(crate) mod inward;
pub(crate) mod link;
pub(crate) mod mounts;
pub(crate) mod netconf;
pub(crate) mod plan;
pub(crate) mod policy;
pub(crate) mod tun;

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use nix::sched::CloneFlags;
use nix::unistd::{Gid, Pid, Uid};

use link::{Link, LinkError, Message};

pub(crate) use error::SetupError;
pub(crate) use harden::RunAs;
pub(crate) use netconf::NetPlan;

/// The name of the TUN interface inside the sandbox.
pub(crate) const TUN_NAME: &str = "tun0";

/// Proof that the process has one thread, which [`spawn`] needs: its clone copies
/// only the calling thread, and a copy of a process with threads may hold locks that
/// no thread of the copy will ever release.
#[derive(Debug)]
pub(crate) struct SingleThreaded(());

impl SingleThreaded {
    /// The proof, if the kernel lists one thread of this process.
    pub(crate) fn now() -> Result<SingleThreaded, SetupError> {
        let threads = std::fs::read_dir("/proc/self/task")
            .map_err(SetupError::io("counting the launcher's threads"))?
            .count();
        match threads {
            1 => Ok(SingleThreaded(())),
            n => Err(SetupError::Invalid(format!(
                "the launcher has {n} threads where making the sandbox needs one"
            ))),
        }
    }
}

/// Stack of the cloned PID 1 until it execs or forks: the setup runs a small tokio
/// runtime for netlink. Pages are only touched as used.
const CHILD_STACK: usize = 8 << 20;

/// Everything the sandbox is made of, decided by the launcher.
pub(crate) struct Spec {
    /// The command line, program first (looked up on PATH).
    pub argv: Vec<OsString>,
    /// The command's whole environment.
    pub env: Vec<(OsString, OsString)>,
    /// fds above 2 the command keeps.
    pub keep_fds: Vec<i32>,
    /// The network inside.
    pub net: NetPlan,
    /// The file system: the new root's setup operations.
    pub mounts: plan::Plan,
    /// The user the command runs as: the caller, or for a root-run an unprivileged user
    /// (`nobody`, or `--user`), never host root.
    pub run_as: RunAs,
    /// Bounds on the command's processes and memory.
    pub bounds: harden::Bounds,
    /// Run in a session of its own ([`init::Command::new_session`]).
    pub new_session: bool,
    /// The port of the sandbox's own SOCKS port, if it has one.
    pub socks_port: Option<u16>,
    /// `--allow-userns`: the command may create user namespaces.
    pub allow_userns: bool,
}

/// A running sandbox: its PID 1, and the TUN device's fd.
pub(crate) struct Sandbox {
    /// PID 1's pid (in the caller's pid namespace).
    pub child: Pid,
    /// A pidfd of PID 1: readable once it has exited (waited for without a thread).
    pidfd: OwnedFd,
    /// The TUN device.
    pub tun: OwnedFd,
    /// How many host sockets the mounts masked.
    pub masked_sockets: usize,
    /// The listening sockets of the sandbox's SOCKS port.
    pub socks_listeners: Vec<OwnedFd>,
    link: Link,
}

impl Sandbox {
    /// Lets the sandbox start the command.
    pub(crate) fn go(self) -> std::io::Result<Started> {
        self.link.send(&Message::Go, &[])?;
        Ok(Started {
            child: self.child,
            pidfd: self.pidfd,
            tun: self.tun,
            link: self.link,
        })
    }
}

/// A sandbox whose command runs.
pub(crate) struct Started {
    /// PID 1's pid (in the caller's pid namespace), for signals.
    pub child: Pid,
    /// PID 1's pidfd, for its exit status.
    pub pidfd: OwnedFd,
    /// The TUN device.
    pub tun: OwnedFd,
    /// The link to PID 1, for connections into the sandbox (published ports:
    /// [`inward::Connector`]).
    pub link: Link,
}

/// A pidfd for `pid`: from now on it names that process or nothing (Linux 5.3).
pub(crate) fn pidfd(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pidfd_open returned a new fd (close-on-exec) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A pidfd for `child`, this process's own child (so its pid cannot be reused before
/// it is waited for).
fn pidfd_of(child: Pid) -> Result<OwnedFd, SetupError> {
    pidfd(child.as_raw()).map_err(SetupError::io(
        "a pidfd for the sandbox's PID 1 (Linux 5.3 or later is needed)",
    ))
}

/// Who creates the sandbox and whom its command runs as.
#[derive(Debug, Clone, Copy)]
struct Identity {
    caller: Uid,
    caller_gid: Gid,
    run_as: RunAs,
}

impl Identity {
    /// Writes the maps of `child`'s user namespace, from the launcher (only a process
    /// outside the namespace may map more than its own id). A root-run maps host root
    /// (for the setup alone: PID 1 changes to the command's user before anything of
    /// the command runs, and nothing inside can change back) and the command's user;
    /// anyone else maps only their own uid and gid, and gains nothing.
    fn write_maps(self, child: Pid) -> Result<(), SetupError> {
        let write = |file: &str, map: String| {
            std::fs::write(format!("/proc/{child}/{file}"), map).map_err(SetupError::io(
                format_args!("mapping the sandbox's user ids: {file}"),
            ))
        };
        let root_and = |user: u32| match user {
            0 => "0 0 1\n".to_string(),
            _ => format!("0 0 1\n{user} {user} 1\n"),
        };
        if self.caller.is_root() {
            write("uid_map", root_and(self.run_as.uid.as_raw()))?;
            return write("gid_map", root_and(self.run_as.gid.as_raw()));
        }
        write("setgroups", "deny".into())?;
        write("uid_map", format!("{0} {0} 1", self.caller))?;
        write("gid_map", format!("{0} {0} 1", self.caller_gid))
    }
}

impl Identity {
    /// Maps the ids of the freshly cloned `child` once it says it may be mapped, and
    /// tells it so; a child that cannot be mapped is killed and reaped.
    fn map(self, link: &Link, child: Pid) -> Result<(), SetupError> {
        let mapped = match link.expect(&Message::Cloned) {
            Ok(()) => Ok(()),
            Err(LinkError::Io(e)) => Err(SetupError::io("starting the sandbox")(e)),
            Err(_) => Err(SetupError::Ended),
        }
        .and_then(|()| self.write_maps(child))
        .and_then(|()| {
            link.send(&Message::Mapped, &[])
                .map_err(SetupError::io("mapping the sandbox's user ids"))
        });
        if mapped.is_err() {
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
        }
        mapped
    }
}

fn c_strings(items: impl Iterator<Item = Vec<u8>>) -> Result<Vec<CString>, SetupError> {
    items
        .map(|a| {
            CString::new(a).map_err(|_| SetupError::Invalid("argument contains a NUL byte".into()))
        })
        .collect()
}

/// The namespaces the sandbox gets, every one new.
const NAMESPACES: CloneFlags = CloneFlags::CLONE_NEWUSER
    .union(CloneFlags::CLONE_NEWNET)
    .union(CloneFlags::CLONE_NEWNS)
    .union(CloneFlags::CLONE_NEWPID)
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWCGROUP);

/// A command's argv and environment as C strings (made before the clone: the child
/// allocates nothing it could fail on).
pub(crate) fn command_strings(
    argv: &[OsString],
    env: &[(OsString, OsString)],
) -> Result<(Vec<CString>, Vec<CString>), SetupError> {
    let argv = c_strings(argv.iter().map(|a| a.as_bytes().to_vec()))?;
    if argv.is_empty() {
        return Err(SetupError::Invalid("no command".into()));
    }
    let env = c_strings(env.iter().map(|(k, v)| {
        let mut pair = k.as_bytes().to_vec();
        pair.push(b'=');
        pair.extend_from_slice(v.as_bytes());
        pair
    }))?;
    Ok((argv, env))
}

/// Starts the sandbox and returns once its network is configured and its privileges
/// are gone. Must be called before the process starts any thread.
pub(crate) fn spawn(spec: &Spec, _one_thread: SingleThreaded) -> Result<Sandbox, SetupError> {
    let (argv, env) = command_strings(&spec.argv, &spec.env)?;
    let filters = harden::filters(spec.allow_userns)?;
    let (parent_end, child_end) = Link::pair().map_err(SetupError::io("socketpair"))?;
    let identity = Identity {
        caller: nix::unistd::getuid(),
        caller_gid: nix::unistd::getgid(),
        run_as: spec.run_as,
    };
    let mut stack = vec![0u8; CHILD_STACK];
    let mut child_end = Some(child_end);
    let setup = Setup {
        spec,
        filters: &filters,
        argv: &argv,
        env: &env,
    };
    let launcher_end = parent_end.as_raw_fd();
    let body = Box::new(|| {
        // The launcher's end is the launcher's alone: were the child to hold a copy, a
        // launcher that dies before PID 1 sets PR_SET_PDEATHSIG would never show as
        // the end of the socket, and PID 1 would wait for it forever.
        // SAFETY: closes this process's copy of an fd it owns and never uses again
        // (the child _exits without dropping its copy of `parent_end`).
        unsafe { libc::close(launcher_end) };
        let Some(control) = child_end.take() else {
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(1) }
        };
        let code = setup.child_main(control);
        // SAFETY: as above.
        unsafe { libc::_exit(code) }
    });
    // SAFETY: without CLONE_VM the child gets a copy of this single-threaded process
    // (see the function's contract), as with fork; it runs `body` on its own copy of
    // `stack` and never returns into this function's frames (it _exits).
    let child = unsafe { nix::sched::clone(body, &mut stack, NAMESPACES, Some(libc::SIGCHLD)) }
        .map_err(SetupError::Namespaces)?;
    drop(child_end);
    let pidfd = pidfd_of(child).inspect_err(|_| {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(child, None);
    })?;
    identity.map(&parent_end, child)?;
    let (tun, socks_listeners, masked_sockets) = receive_tun(&parent_end).inspect_err(|_| {
        let _ = nix::sys::wait::waitpid(child, None);
    })?;
    Ok(Sandbox {
        child,
        pidfd,
        tun,
        masked_sockets,
        socks_listeners,
        link: parent_end,
    })
}

/// Receives the TUN fd and the SOCKS port's listeners, or the sandbox's error message.
fn receive_tun(link: &Link) -> Result<(OwnedFd, Vec<OwnedFd>, usize), SetupError> {
    match link.receive() {
        Ok((Message::Ready { masked_sockets }, fds)) => {
            let mut fds = fds.into_iter();
            let tun = fds.next().ok_or(SetupError::Ended)?;
            Ok((tun, fds.collect(), masked_sockets as usize))
        }
        Ok((Message::SetupFailed(why), _)) => Err(SetupError::InSandbox(why)),
        Err(LinkError::Io(e)) => Err(SetupError::io("receiving the TUN device")(e)),
        Ok(_) | Err(_) => Err(SetupError::Ended),
    }
}

/// What the sandbox's PID 1 works from (its copy of the launcher's memory).
struct Setup<'a> {
    spec: &'a Spec,
    filters: &'a [seccompiler::BpfProgram],
    argv: &'a [CString],
    env: &'a [CString],
}

impl Setup<'_> {
    /// PID 1: returns the exit status (the command's, or 1 when setup fails).
    fn child_main(&self, link: Link) -> i32 {
        crate::confine::undo_for_the_sandbox();
        if link.send(&Message::Cloned, &[]).is_err() || link.expect(&Message::Mapped).is_err() {
            return 1;
        }
        let (tun, listeners, masked) = match self.prepare() {
            Ok(ready) => ready,
            Err(e) => {
                let _ = link.send(&Message::SetupFailed(e.to_string()), &[]);
                return 1;
            }
        };
        let ready = Message::Ready {
            masked_sockets: masked.try_into().unwrap_or(u32::MAX),
        };
        let fds: Vec<_> = std::iter::once(tun.as_fd())
            .chain(listeners.iter().map(|l| l.as_fd()))
            .collect();
        let sent = link.send(&ready, &fds);
        drop(fds);
        drop((tun, listeners));
        if sent.is_err() {
            return 1;
        }
        // Die with the launcher. Set after the last credential change (which clears
        // it); a launcher that died before this point shows as EOF on the socket.
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
        if link.expect(&Message::Go).is_err() {
            return 1;
        }
        init::run(
            &init::Command {
                argv: self.argv,
                env: self.env,
                keep_fds: &self.spec.keep_fds,
                new_session: self.spec.new_session,
                bounds: &self.spec.bounds,
            },
            Some(link),
        )
    }

    /// Ids, hostname, network, mounts, privileges: everything before the command.
    fn prepare(&self) -> Result<(OwnedFd, Vec<OwnedFd>, mounts::Masked), SetupError> {
        init::hide_command_line();
        nix::unistd::sethostname(policy::HOSTNAME).map_err(SetupError::other("hostname"))?;
        // SAFETY: the pointer and length describe a valid byte string.
        let rc = unsafe { libc::setdomainname(c"(none)".as_ptr(), "(none)".len()) };
        if rc < 0 {
            return Err(SetupError::last_os("domainname"));
        }
        let tun = tun::create(TUN_NAME).map_err(SetupError::Tun)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SetupError::io("runtime"))?;
        runtime.block_on(netconf::configure(TUN_NAME, &self.spec.net))?;
        drop(runtime);
        netconf::allow_low_ports();
        // Before the privileges go.
        let listeners = match self.spec.socks_port {
            Some(port) => netconf::socks_listeners(port)?,
            None => Vec::new(),
        };
        let _ = harden::new_clocks();
        harden::first_to_go()?;
        let owner = mounts::Owner {
            uid: self.spec.run_as.uid,
            gid: self.spec.run_as.gid,
        };
        let masked = mounts::apply(&self.spec.mounts, owner)?;
        harden::drop_privileges(&self.spec.run_as, self.filters)?;
        Ok((tun, listeners, masked))
    }
}
