//! A session: the userspace stack on the TUN device, one task per flow dialing Tor,
//! one task per DNS query, signals forwarded to the command, and its exit status.
//!
//! The layers, from the bottom up:
//!
//! * [`report`] — the vocabulary: what tasks report, how they wake the driver, the
//!   summary.
//! * [`driver`] — the sans-IO core: the stack and every flow's state.
//! * [`flow`], [`dns_tcp`], [`tasks`] — the tasks the driver asks for, and how they
//!   start.
//! * [`run`] — the async shell, a loop of named steps: wait for what happens (the
//!   command's exit, a signal, a packet, a task's report, the stack's timer), take it
//!   in, let the driver step and start its tasks, write what it sends.
//!
//! Flow tasks talk to the driver through bounded channels (so a slow side slows the
//! other: backpressure) and wake it through their [`report::Reporter`].

use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use netstack::stack::StackConfig;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::names::vpool::VirtualPool;
use crate::ns::tun;
use crate::tor::control::AsyncControl;
use crate::tor::Tor;

mod dns_tcp;
mod driver;
mod flow;
pub(crate) mod page_alloc;
pub(crate) mod report;
mod tasks;

use driver::Driver;
pub(crate) use report::Summary;
use report::{Inbox, Reporter};
use tasks::Tasks;

/// What the session needs.
pub(crate) struct SessionConfig {
    /// How to reach Tor.
    pub tor: Rc<Tor>,
    /// Virtual addresses for `.onion` (and automapped) names.
    pub pool: Rc<VirtualPool>,
    /// Map every name to a virtual address (names travel to Tor in CONNECT).
    pub automap: bool,
    /// The stack's setup.
    pub stack: StackConfig,
    /// The largest chunk moved between the stack and a Tor stream at once.
    pub chunk: usize,
    /// Report refused connections on stderr.
    pub debug: bool,
    /// How long a half-closed connection's Tor stream may stay silent before the
    /// half-close goes on to Tor (which then ends the stream).
    pub half_close_wait: Duration,
    /// DNS queries answered at once; more get SERVFAIL.
    pub max_dns_queries: usize,
    /// Tor's ControlPort, when configured (SIGNAL NEWNYM with a new identity).
    pub control: Option<Rc<tokio::sync::Mutex<AsyncControl>>>,
    /// Whether a new identity was asked for before the session (SIGUSR1 while
    /// starting); asked once the session listens for SIGUSR1 itself, so that none is
    /// lost in between.
    pub asked_before: fn() -> bool,
}

/// The sandbox's side of the session.
pub(crate) struct Sandbox {
    /// PID 1's pid (in the launcher's pid namespace), for signals.
    pub child: Pid,
    /// PID 1's pidfd, for its exit status.
    pub pidfd: OwnedFd,
    /// The TUN device.
    pub tun: OwnedFd,
    /// A namespace attached with `--attach` rather than a sandbox of ours: `child` is
    /// its process, which is never signalled; its end (or SIGINT, SIGTERM, SIGHUP,
    /// SIGQUIT to the launcher) ends the session.
    pub attached: bool,
}

/// Runs until the command exits; returns its shell-style status and the summary.
pub(crate) async fn run(sandbox: Sandbox, config: SessionConfig) -> (i32, Summary) {
    let (child, attached) = (sandbox.child, sandbox.attached);
    let Some((tun, exited)) = register(sandbox) else {
        return (1, Summary::default());
    };
    let Signals {
        mut forwarded,
        mut new_identity,
    } = Signals::listen();
    let mut shell = Shell::new(child, config);
    let exit = end_of(exited, attached);
    tokio::pin!(exit);
    // One timer for the stack's next deadline, moved each pass (not a new one).
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let notify = Rc::clone(&shell.inbox.notify);
    let status = loop {
        timer
            .as_mut()
            .reset(tokio::time::Instant::now() + shell.delay());
        tokio::select! {
            status = &mut exit => break status,
            Some(sig) = forwarded.recv() => match attached {
                true => if let Some(status) = ends_attachment(sig) { break status },
                false => shell.forward(sig),
            },
            Some(()) = async { new_identity.as_mut()?.recv().await } => shell.new_identity(),
            guard = tun.readable() => {
                if let Ok(guard) = guard {
                    shell.read_tun(guard);
                }
            }
            _ = notify.notified() => {}
            _ = &mut timer => {}
        }
        if let Some(e) = shell.tun_failed.take() {
            // The sandbox's only interface is gone: nothing can reach the network any
            // more. End the command and report its status.
            eprintln!("torsocks-ns: the sandbox's network device failed ({e}); ending the command");
            match attached {
                true => break 1,
                false => shell.forward(libc::SIGKILL),
            }
            break (&mut exit).await;
        }
        shell.step();
        shell.flush(&tun).await;
    };
    (status, shell.summary())
}

/// The session's state between the steps of its loop.
struct Shell {
    child: Pid,
    driver: Driver,
    tasks: Tasks,
    inbox: Inbox,
    started: std::time::Instant,
    tor: Rc<Tor>,
    control: Option<Rc<tokio::sync::Mutex<AsyncControl>>>,
    new_identities: u64,
    tun_failed: Option<std::io::Error>,
    /// The largest MTU, and the virtio-net header before each packet.
    buf: Vec<u8>,
}

impl Shell {
    fn new(child: Pid, config: SessionConfig) -> Shell {
        let started = std::time::Instant::now();
        let (reporter, inbox): (Reporter, Inbox) = report::channel();
        let driver = Driver::new(
            config.stack.clone(),
            config.chunk,
            Rc::clone(&config.pool),
            clock(started),
        );
        let settings = flow::FlowSettings {
            chunk: config.chunk,
            debug: config.debug,
            half_close_wait: config.half_close_wait,
        };
        let tasks = Tasks::new(
            Rc::clone(&config.tor),
            config.pool,
            config.automap,
            config.max_dns_queries,
            settings,
            reporter,
        );
        let mut shell = Shell {
            child,
            driver,
            tasks,
            inbox,
            started,
            tor: config.tor,
            control: config.control,
            new_identities: 0,
            tun_failed: None,
            buf: vec![0u8; 65536 + netstack::vnet::HEADER_LEN],
        };
        if (config.asked_before)() {
            shell.new_identities = shell.tor.new_identity();
            eprintln!(
                "torsocks-ns: new identity ({}): asked for before the command started",
                shell.new_identities
            );
        }
        shell
    }

    fn now(&self) -> netstack::time::Instant {
        clock(self.started)
    }

    /// How long until the stack's next deadline (at most a second).
    fn delay(&mut self) -> Duration {
        let now = self.now();
        self.driver
            .poll_delay(now)
            .map(|d| Duration::from_micros(d.total_micros()))
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1))
    }

    /// A signal for the command: to its PID 1.
    fn forward(&self, sig: i32) {
        if let Ok(sig) = Signal::try_from(sig) {
            let _ = kill(self.child, sig);
        }
    }

    /// SIGUSR1: new credentials for new streams, and NEWNYM to Tor when its ControlPort
    /// is configured, in a task of its own (the loop never waits for Tor's answer).
    fn new_identity(&mut self) {
        self.new_identities = self.tor.new_identity();
        let count = self.new_identities;
        let Some(control) = self.control.clone() else {
            eprintln!("torsocks-ns: new identity ({count}): new connections get new circuits");
            return;
        };
        tokio::task::spawn_local(async move {
            let newnym = match control.lock().await.newnym().await {
                Ok(()) => "; Tor was sent NEWNYM".to_string(),
                Err(e) => format!("; NEWNYM failed: {e}"),
            };
            eprintln!(
                "torsocks-ns: new identity ({count}): new connections get new circuits{newnym}"
            );
        });
    }

    /// Takes in a burst of packets: the stack takes them in before more is read, so a
    /// program that writes faster than this loop reads cannot make the queue grow
    /// (still readable, the device wakes the next pass).
    fn read_tun(&mut self, mut guard: tokio::io::unix::AsyncFdReadyGuard<'_, OwnedFd>) {
        for _ in 0..crate::limits::READ_BURST {
            match tun::read_packet(guard.get_inner(), &mut self.buf) {
                Ok(Some(packet)) => {
                    let now = clock(self.started);
                    self.driver.receive(packet, now);
                }
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    guard.clear_ready();
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.tun_failed = Some(e);
                    break;
                }
            }
        }
    }

    /// The tasks' reports and wakes in, the driver's step, the tasks it asks for out.
    fn step(&mut self) {
        let now = self.now();
        for report in self.inbox.reports() {
            self.driver.report(report, now);
        }
        self.driver.ready(self.inbox.ready());
        for spawn in self.driver.step(now) {
            self.tasks.start(spawn, &mut self.driver, now);
        }
    }

    /// Writes every packet the stack has to send.
    async fn flush(&mut self, tun: &AsyncFd<OwnedFd>) {
        while let Some(mut packet) = self.driver.transmit() {
            write_tun(tun, &mut packet).await;
            self.driver.recycle(packet);
        }
    }

    fn summary(self) -> Summary {
        let mut summary = self.driver.summary();
        summary.new_identities = self.new_identities;
        summary.retried = self.tor.retries();
        summary
    }
}

/// The session's clock for the stack: time since `started`.
fn clock(started: std::time::Instant) -> netstack::time::Instant {
    netstack::time::Instant::from_micros(started.elapsed().as_micros() as i64)
}

/// The signals the launcher takes: those it forwards to the command, and SIGUSR1.
struct Signals {
    forwarded: mpsc::UnboundedReceiver<i32>,
    /// SIGUSR1 is the launcher's own: a new identity, not a signal for the command.
    new_identity: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn listen() -> Signals {
        let (tx, forwarded) = mpsc::unbounded_channel::<i32>();
        for kind in [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::quit(),
            SignalKind::window_change(),
        ] {
            let Ok(mut s) = signal(kind) else { continue };
            let tx = tx.clone();
            tokio::task::spawn_local(async move {
                while s.recv().await.is_some() {
                    let _ = tx.send(kind.as_raw_value());
                }
            });
        }
        Signals {
            forwarded,
            new_identity: signal(SignalKind::user_defined1()).ok(),
        }
    }
}

/// The TUN device and the pidfd in the runtime; without them, the command is ended
/// (never an attached process).
fn register(sandbox: Sandbox) -> Option<(AsyncFd<OwnedFd>, AsyncFd<OwnedFd>)> {
    match (
        tun::register_fd(sandbox.tun),
        tun::register_fd(sandbox.pidfd),
    ) {
        (Ok(tun), Ok(exited)) => Some((tun, exited)),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("torsocks-ns: registering the TUN device and PID 1's pidfd: {e}");
            if !sandbox.attached {
                let _ = kill(sandbox.child, Signal::SIGKILL);
            }
            None
        }
    }
}

/// How the session ends: the command's status, or an attached process's end.
async fn end_of(exited: AsyncFd<OwnedFd>, attached: bool) -> i32 {
    match attached {
        true => ended(exited).await,
        false => exit_status(exited).await,
    }
}

/// A signal to an attached namespace's launcher ends the attachment (128 + it), but
/// a terminal's resize.
fn ends_attachment(sig: i32) -> Option<i32> {
    (sig != libc::SIGWINCH).then_some(128 + sig)
}

/// 0 once the attached process has exited (not a child: no status to read).
async fn ended(pidfd: AsyncFd<OwnedFd>) -> i32 {
    match pidfd.readable().await {
        Ok(_) => 0,
        Err(_) => 1,
    }
}

/// PID 1's shell-style exit status, once its pidfd says it has exited.
async fn exit_status(pidfd: AsyncFd<OwnedFd>) -> i32 {
    loop {
        let Ok(mut guard) = pidfd.readable().await else {
            return 1;
        };
        match waitid(Id::PIDFd(pidfd.get_ref().as_fd()), WaitPidFlag::WEXITED) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Err(nix::errno::Errno::EINTR) => {}
            Ok(_) => guard.clear_ready(),
            Err(_) => return 1,
        }
    }
}

async fn write_tun(tun: &AsyncFd<OwnedFd>, packet: &mut [u8]) {
    // Once per packet, not per attempt: it also rewrites the TCP checksum field.
    let header = netstack::vnet::outbound_header(packet);
    loop {
        match tun::write_packet(tun.get_ref(), &header, packet) {
            Ok(_) => return,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Ok(mut guard) = tun.writable().await {
                    guard.clear_ready();
                }
            }
            Err(_) => return, // the sandbox is gone, or the packet was refused
        }
    }
}
