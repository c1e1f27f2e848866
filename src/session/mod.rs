//! A session: the userspace stack on the TUN device, one task per flow dialing Tor,
//! one task per DNS query, signals forwarded to the command, and its exit status.
//!
//! The sans-IO [`driver`] owns the stack and every flow's state; [`run`] is the async
//! shell around it: it reads the TUN device, starts the tasks the driver asks for, hands
//! it their messages, and writes what it sends. Flow tasks talk to the driver through
//! bounded channels (so a slow side slows the other: backpressure) and wake it with a
//! shared `Notify`.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use netstack::stack::{FlowId, StackConfig};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, Notify};

use crate::limits::CHANNEL_CHUNKS;
use crate::names::dns;
use crate::names::vpool::VirtualPool;
use crate::ns::{tun, Started};
use crate::serve::accept;
use crate::serve::publish;
use crate::serve::slots::Slots;
use crate::serve::socks_port;
use crate::tor::Tor;

mod dns_tcp;
mod driver;
mod flow;
pub(crate) mod page_alloc;

use dns_tcp::dns_over_tcp;
use driver::{Driver, Spawn};
use flow::flow_task;

/// What the session needs.
pub(crate) struct SessionConfig {
    /// How to reach Tor.
    pub tor: Tor,
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
    /// DNS queries answered at once; more get SERVFAIL.
    pub max_dns_queries: usize,
    /// The sandbox's SOCKS port's listening sockets (none with --no-socks-port).
    pub socks_listeners: Vec<OwnedFd>,
    /// Clients of the SOCKS port served at once (and, as many, of published ports).
    pub max_socks_clients: usize,
    /// Published ports: the host's listening socket, and the port inside.
    pub published: Vec<(std::net::TcpListener, u16)>,
    /// Tor's ControlPort, when configured (SIGNAL NEWNYM with a new identity).
    pub control: Option<Rc<std::cell::RefCell<crate::tor::control::Control>>>,
}

/// Why a connection of the program was reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ResetCause {
    /// The Tor stream failed (a read or write error).
    StreamFailed,
    /// Tor itself went away (its SOCKS port stopped answering).
    TorGone,
}

/// The session summary (`--stats`).
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// The stack's counters.
    pub stack: netstack::stack::Counters,
    /// DNS queries by (type, outcome).
    pub dns: BTreeMap<(u16, dns::Outcome), u64>,
    /// Connections still open when the command exited.
    pub flows_at_exit: usize,
    /// Connections reset, by cause.
    pub resets: BTreeMap<ResetCause, u64>,
    /// New identities asked for (SIGUSR1).
    pub new_identities: u64,
}

enum Control {
    Opened {
        flow: FlowId,
        to_tor: mpsc::Sender<Vec<u8>>,
        from_tor: mpsc::Receiver<Vec<u8>>,
    },
    Refused(FlowId),
    /// The Tor stream broke: reset the program's connection.
    Failed(FlowId, ResetCause),
    DnsCounted {
        qtype: u16,
        outcome: dns::Outcome,
    },
    DnsReply {
        src: SocketAddr,
        dst: SocketAddr,
        response: Option<Vec<u8>>,
        qtype: u16,
        outcome: dns::Outcome,
    },
}

/// How tasks wake the driver: which flow has work, and a nudge. The set of ready flows
/// holds each flow once, so it is bounded by the flows open, however often tasks wake.
#[derive(Clone)]
struct Wake {
    notify: Rc<Notify>,
    ready: Rc<std::cell::RefCell<HashSet<FlowId>>>,
}

impl Wake {
    /// `flow`'s channels changed: pump it.
    fn flow(&self, flow: FlowId) {
        self.ready.borrow_mut().insert(flow);
        self.notify.notify_one();
    }

    /// Something else changed (a DNS answer).
    fn nudge(&self) {
        self.notify.notify_one();
    }
}

/// Runs until the command exits; returns its shell-style status and the summary.
pub(crate) async fn run(started: Started, config: SessionConfig) -> (i32, Summary) {
    let Started {
        child,
        pidfd,
        tun,
        connector,
    } = started;
    let (tun, exited) = match (tun::register_fd(tun), tun::register_fd(pidfd)) {
        (Ok(tun), Ok(exited)) => (tun, exited),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("torsocks-ns: registering the TUN device and PID 1's pidfd: {e}");
            let _ = kill(child, Signal::SIGKILL);
            return (1, Summary::default());
        }
    };
    let started = std::time::Instant::now();
    let now = || netstack::time::Instant::from_micros(started.elapsed().as_micros() as i64);
    let mut driver = Driver::new(
        config.stack.clone(),
        config.chunk,
        Rc::clone(&config.pool),
        now(),
    );
    let notify = Rc::new(Notify::new());
    let ready = Rc::new(std::cell::RefCell::new(HashSet::new()));
    let wake = Wake {
        notify: Rc::clone(&notify),
        ready: Rc::clone(&ready),
    };
    // Unbounded in type, bounded in fact: each flow task sends at most three messages
    // (opened or refused, then a failure from each direction) and each DNS task one,
    // and the tasks themselves are capped (--max-connections, --max-dns-queries).
    let (ctl_tx, mut ctl_rx) = mpsc::unbounded_channel::<Control>();
    let tor = Rc::new(config.tor);
    let pool = config.pool;
    let dns_slots = Slots::new(config.max_dns_queries);
    let mut tun_failed = None;
    let socks = socks_port::Context {
        tor: Rc::clone(&tor),
        pool: Rc::clone(&pool),
        slots: Slots::new(config.max_socks_clients),
        debug: config.debug,
    };
    let connector = Rc::new(std::cell::RefCell::new(connector));
    let published_slots = Slots::new(config.max_socks_clients);
    for (listener, port) in config.published {
        match accept::listener(listener) {
            Ok(listener) => {
                tokio::task::spawn_local(publish::serve(
                    listener,
                    port,
                    Rc::clone(&connector),
                    published_slots.clone(),
                ));
            }
            Err(e) => eprintln!("torsocks-ns: a published port: {e}"),
        }
    }
    for fd in config.socks_listeners {
        match accept::listener(std::net::TcpListener::from(fd)) {
            Ok(listener) => {
                tokio::task::spawn_local(socks_port::serve(listener, socks.clone()));
            }
            Err(e) => eprintln!("torsocks-ns: the sandbox's SOCKS port: {e}"),
        }
    }

    let exit = exit_status(exited);
    tokio::pin!(exit);
    let mut signals = Vec::new();
    for kind in [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
        SignalKind::quit(),
        SignalKind::window_change(),
    ] {
        if let Ok(s) = signal(kind) {
            signals.push((kind, s));
        }
    }
    // SIGUSR1 is the launcher's own: a new identity, not a signal for the command.
    let mut new_identity = signal(SignalKind::user_defined1()).ok();
    let mut new_identities = 0;
    if crate::run::early_signals::take_new_identity() {
        new_identities = tor.new_identity();
        eprintln!(
            "torsocks-ns: new identity ({new_identities}): asked for before the command started"
        );
    }
    let (sig_tx, mut sig_rx) = mpsc::unbounded_channel::<i32>();
    for (kind, mut s) in signals {
        let tx = sig_tx.clone();
        tokio::task::spawn_local(async move {
            while s.recv().await.is_some() {
                let _ = tx.send(kind.as_raw_value());
            }
        });
    }

    // The largest MTU, and the virtio-net header before each packet.
    let mut buf = vec![0u8; 65536 + netstack::vnet::HEADER_LEN];
    // One timer for the stack's next deadline, moved each pass (not a new one).
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let status = loop {
        let delay = driver
            .poll_delay(now())
            .map(|d| Duration::from_micros(d.total_micros()))
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        timer.as_mut().reset(tokio::time::Instant::now() + delay);
        tokio::select! {
            status = &mut exit => break status,
            Some(sig) = sig_rx.recv() => {
                if let Ok(sig) = Signal::try_from(sig) {
                    let _ = kill(child, sig);
                }
            }
            Some(()) = async { new_identity.as_mut()?.recv().await } => {
                new_identities = tor.new_identity();
                let newnym = match &config.control {
                    Some(control) => match control.borrow_mut().newnym() {
                        Ok(()) => "; Tor was sent NEWNYM".to_string(),
                        Err(e) => format!("; NEWNYM failed: {e}"),
                    },
                    None => String::new(),
                };
                eprintln!(
                    "torsocks-ns: new identity ({new_identities}): new connections get new circuits{newnym}"
                );
            }
            guard = tun.readable() => {
                if let Ok(mut guard) = guard {
                    // A burst at a time: the stack takes it in before more is read, so
                    // a program that writes faster than this loop reads cannot make the
                    // queue grow (still readable, the device wakes the next pass).
                    for _ in 0..crate::limits::READ_BURST {
                        match tun::read_packet(guard.get_inner(), &mut buf) {
                            Ok(Some(packet)) => driver.receive(packet, now()),
                            Ok(None) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                guard.clear_ready();
                                break;
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                tun_failed = Some(e);
                                break;
                            }
                        }
                    }
                }
            }
            _ = notify.notified() => {}
            _ = &mut timer => {}
        }
        if let Some(e) = tun_failed.take() {
            // The sandbox's only interface is gone: nothing can reach the network any
            // more. End the command and report its status.
            eprintln!("torsocks-ns: the sandbox's network device failed ({e}); ending the command");
            let _ = kill(child, Signal::SIGKILL);
            break (&mut exit).await;
        }
        while let Ok(control) = ctl_rx.try_recv() {
            driver.control(control, now());
        }
        driver.ready(ready.borrow_mut().drain());
        for spawn in driver.step(now()) {
            match spawn {
                Spawn::DnsTcp { flow } => {
                    tokio::task::spawn_local(dns_over_tcp(
                        flow,
                        Rc::clone(&tor),
                        Rc::clone(&pool),
                        config.automap,
                        dns_slots.clone(),
                        ctl_tx.clone(),
                        wake.clone(),
                    ));
                }
                Spawn::Flow { flow, host, port } => {
                    let task = tokio::task::spawn_local(flow_task(
                        flow,
                        host,
                        port,
                        Rc::clone(&tor),
                        ctl_tx.clone(),
                        wake.clone(),
                        flow::FlowSettings {
                            chunk: config.chunk,
                            debug: config.debug,
                        },
                    ));
                    let handle = task.abort_handle();
                    driver.attach(flow, Box::new(move || handle.abort()));
                }
                Spawn::DnsUdp { src, dst, payload } => {
                    let slot = (payload.len() <= crate::limits::MAX_DNS_QUERY)
                        .then(|| dns_slots.take())
                        .flatten();
                    let Some(slot) = slot else {
                        // Over the cap, or larger than any real query: SERVFAIL now, no
                        // task (a flood stays cheap, and within the memory budget).
                        let (response, qtype, outcome) = dns::over_limit(&payload);
                        let reply = Control::DnsReply {
                            src,
                            dst,
                            response,
                            qtype,
                            outcome,
                        };
                        driver.control(reply, now());
                        continue;
                    };
                    let (tor, pool, ctl, wake) = (
                        Rc::clone(&tor),
                        Rc::clone(&pool),
                        ctl_tx.clone(),
                        wake.clone(),
                    );
                    let automap = config.automap;
                    tokio::task::spawn_local(async move {
                        let (response, qtype, outcome) =
                            dns::answer(&payload, &tor, &pool, automap).await;
                        drop(slot);
                        let _ = ctl.send(Control::DnsReply {
                            src,
                            dst,
                            response,
                            qtype,
                            outcome,
                        });
                        wake.nudge();
                    });
                }
            }
        }
        while let Some(mut packet) = driver.transmit() {
            write_tun(&tun, &mut packet).await;
            driver.recycle(packet);
        }
    };
    let mut summary = driver.summary();
    summary.new_identities = new_identities;
    (status, summary)
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
