//! A session: the userspace stack on the TUN device, one task per flow dialing Tor,
//! one task per DNS query, signals forwarded to the command, and its exit status.
//!
//! The driver owns the stack. Flow tasks talk to it through bounded channels (so a slow
//! side slows the other: backpressure) and wake it with a shared `Notify`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use netstack::stack::{Event, FlowId, Received, Stack, StackConfig};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, Notify};
use torsocks_core::onion::OnionPool;
use torsocks_core::socks5::ip_host;

use crate::dns;
use crate::ns::tun;
use crate::tor::{self, Tor};

/// Chunks of bytes in flight per direction and flow.
const CHANNEL_CHUNKS: usize = 8;
/// The largest chunk read from Tor or from the stack at once.
const CHUNK: usize = 16 * 1024;

/// What the session needs.
pub struct SessionConfig {
    /// How to reach Tor.
    pub tor: Tor,
    /// Virtual addresses for `.onion` (and automapped) names.
    pub pool: Arc<OnionPool>,
    /// Map every name to a virtual address (names travel to Tor in CONNECT).
    pub automap: bool,
    /// The stack's setup.
    pub stack: StackConfig,
    /// Report refused connections on stderr.
    pub debug: bool,
}

/// The session summary (`--stats`).
#[derive(Debug, Default)]
pub struct Summary {
    /// The stack's counters.
    pub stack: netstack::stack::Counters,
    /// DNS queries by (type, outcome).
    pub dns: BTreeMap<(u16, dns::Outcome), u64>,
}

enum Control {
    Opened {
        flow: FlowId,
        to_tor: mpsc::Sender<Vec<u8>>,
        from_tor: mpsc::Receiver<Vec<u8>>,
    },
    Refused(FlowId),
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

#[derive(Default)]
struct FlowIo {
    to_tor: Option<mpsc::Sender<Vec<u8>>>,
    from_tor: Option<mpsc::Receiver<Vec<u8>>>,
    pending: Option<(Vec<u8>, usize)>,
    open: bool,
}

/// Runs until the command exits; returns its shell-style status and the summary.
pub async fn run(tun_fd: OwnedFd, config: SessionConfig, child: Pid) -> (i32, Summary) {
    let tun = match tun::register(tun_fd) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("torsocks-ns: TUN device: {e}");
            let _ = kill(child, Signal::SIGKILL);
            return (1, Summary::default());
        }
    };
    let started = std::time::Instant::now();
    let now = || netstack::time::Instant::from_micros(started.elapsed().as_micros() as i64);
    let mut stack = Stack::new(config.stack.clone(), now());
    let notify = Rc::new(Notify::new());
    let (ctl_tx, mut ctl_rx) = mpsc::unbounded_channel::<Control>();
    let mut flows: HashMap<FlowId, FlowIo> = HashMap::new();
    let mut summary = Summary::default();
    let tor = Rc::new(config.tor);
    let pool = config.pool;

    let (exit_tx, mut exit_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let status = loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break 1,
            }
        };
        let _ = exit_tx.send(status);
    });
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
    let (sig_tx, mut sig_rx) = mpsc::unbounded_channel::<i32>();
    for (kind, mut s) in signals {
        let tx = sig_tx.clone();
        tokio::task::spawn_local(async move {
            while s.recv().await.is_some() {
                let _ = tx.send(kind.as_raw_value());
            }
        });
    }

    let mut buf = vec![0u8; 65536];
    let status = loop {
        let delay = stack
            .poll_delay(now())
            .map(|d| Duration::from_micros(d.total_micros()))
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        tokio::select! {
            status = &mut exit_rx => break status.unwrap_or(1),
            Some(sig) = sig_rx.recv() => {
                if let Ok(sig) = Signal::try_from(sig) {
                    let _ = kill(child, sig);
                }
            }
            guard = tun.readable() => {
                if let Ok(mut guard) = guard {
                    loop {
                        match tun::read_packet(guard.get_inner(), &mut buf) {
                            Ok(n) => stack.receive(&buf[..n], now()),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                guard.clear_ready();
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
            _ = notify.notified() => {}
            _ = tokio::time::sleep(delay) => {}
        }

        while let Ok(control) = ctl_rx.try_recv() {
            match control {
                Control::Opened {
                    flow,
                    to_tor,
                    from_tor,
                } => {
                    stack.accept(flow);
                    let io = flows.entry(flow).or_default();
                    io.to_tor = Some(to_tor);
                    io.from_tor = Some(from_tor);
                    io.open = true;
                }
                Control::Refused(flow) => {
                    stack.refuse(flow);
                }
                Control::DnsCounted { qtype, outcome } => {
                    *summary.dns.entry((qtype, outcome)).or_default() += 1;
                }
                Control::DnsReply {
                    src,
                    dst,
                    response,
                    qtype,
                    outcome,
                } => {
                    *summary.dns.entry((qtype, outcome)).or_default() += 1;
                    if let Some(r) = response {
                        stack.reply_dns(src, dst, &r);
                    }
                }
            }
        }
        stack.poll(now());

        while let Some(event) = stack.next_event() {
            match event {
                Event::Connect { flow, dst, .. }
                    if dst.port() == 53 && is_stack_address(&config.stack, dst) =>
                {
                    // DNS over TCP to the sandbox's resolver is answered here, like UDP.
                    flows.insert(flow, FlowIo::default());
                    let (tor, pool, ctl, notify) = (
                        Rc::clone(&tor),
                        Arc::clone(&pool),
                        ctl_tx.clone(),
                        Rc::clone(&notify),
                    );
                    tokio::task::spawn_local(dns_over_tcp(
                        flow,
                        tor,
                        pool,
                        config.automap,
                        ctl,
                        notify,
                    ));
                }
                Event::Connect { flow, dst, .. } => {
                    flows.insert(flow, FlowIo::default());
                    let host = match pool.name_of(dst.ip()) {
                        Some(name) => name.into_bytes(),
                        None => ip_host(dst.ip()).into_bytes(),
                    };
                    let (tor, ctl, notify) = (Rc::clone(&tor), ctl_tx.clone(), Rc::clone(&notify));
                    tokio::task::spawn_local(flow_task(
                        flow,
                        host,
                        dst.port(),
                        tor,
                        ctl,
                        notify,
                        config.debug,
                    ));
                }
                Event::DnsQuery { src, dst, payload } => {
                    let (tor, pool, ctl, notify) = (
                        Rc::clone(&tor),
                        Arc::clone(&pool),
                        ctl_tx.clone(),
                        Rc::clone(&notify),
                    );
                    let automap = config.automap;
                    tokio::task::spawn_local(async move {
                        let (response, qtype, outcome) =
                            dns::answer(&payload, &tor, &pool, automap).await;
                        let _ = ctl.send(Control::DnsReply {
                            src,
                            dst,
                            response,
                            qtype,
                            outcome,
                        });
                        notify.notify_one();
                    });
                }
            }
        }

        pump_flows(&mut stack, &mut flows, &mut buf);
        stack.poll(now());
        while let Some(packet) = stack.transmit() {
            write_tun(&tun, &packet).await;
        }
    };
    summary.stack = stack.counters().clone();
    (status, summary)
}

/// Moves bytes between the stack and each flow's channels, as far as both sides allow.
fn pump_flows(stack: &mut Stack, flows: &mut HashMap<FlowId, FlowIo>, buf: &mut [u8]) {
    let mut finished = Vec::new();
    for (&flow, io) in flows.iter_mut() {
        if !io.open {
            if stack.is_closed(flow) {
                finished.push(flow); // refused, or the program gave up while dialing
            }
            continue;
        }
        // Program → Tor, while the channel has room.
        let mut program_done = false;
        while let Some(tx) = &io.to_tor {
            let Ok(permit) = tx.try_reserve() else { break };
            match stack.recv(flow, &mut buf[..CHUNK]) {
                Received::Data(n) => permit.send(buf[..n].to_vec()),
                Received::Nothing => break,
                Received::End => {
                    program_done = true;
                    break;
                }
            }
        }
        if program_done {
            io.to_tor = None; // the flow task shuts down its write side
        }
        // Tor → program, while the stack takes it.
        loop {
            if let Some((chunk, offset)) = &mut io.pending {
                *offset += stack.send(flow, &chunk[*offset..]);
                if *offset < chunk.len() {
                    break;
                }
                io.pending = None;
            }
            let Some(rx) = &mut io.from_tor else { break };
            match rx.try_recv() {
                Ok(chunk) => io.pending = Some((chunk, 0)),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    io.from_tor = None;
                    stack.close(flow);
                    break;
                }
            }
        }
        if io.to_tor.is_none()
            && io.from_tor.is_none()
            && io.pending.is_none()
            && stack.is_closed(flow)
        {
            finished.push(flow);
        }
    }
    for flow in finished {
        flows.remove(&flow);
        stack.release(flow);
    }
}

async fn write_tun(tun: &AsyncFd<OwnedFd>, packet: &[u8]) {
    loop {
        match tun::write_packet(tun.get_ref(), packet) {
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

fn is_stack_address(config: &StackConfig, addr: SocketAddr) -> bool {
    addr.ip() == std::net::IpAddr::V4(config.ipv4.0)
        || addr.ip() == std::net::IpAddr::V6(config.ipv6.0)
}

/// A DNS-over-TCP flow: length-prefixed queries in, length-prefixed answers out.
async fn dns_over_tcp(
    flow: FlowId,
    tor: Rc<Tor>,
    pool: Arc<OnionPool>,
    automap: bool,
    ctl: mpsc::UnboundedSender<Control>,
    notify: Rc<Notify>,
) {
    let (to_tor_tx, mut queries) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let (answers, from_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let _ = ctl.send(Control::Opened {
        flow,
        to_tor: to_tor_tx,
        from_tor: from_tor_rx,
    });
    notify.notify_one();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = queries.recv().await {
        notify.notify_one();
        pending.extend_from_slice(&chunk);
        while pending.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
            if pending.len() < 2 + len {
                break;
            }
            let query: Vec<u8> = pending.drain(..2 + len).skip(2).collect();
            let (response, qtype, outcome) = dns::answer(&query, &tor, &pool, automap).await;
            let _ = ctl.send(Control::DnsCounted { qtype, outcome });
            if let Some(response) = response {
                let mut framed = (response.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&response);
                if answers.send(framed).await.is_err() {
                    return;
                }
                notify.notify_one();
            }
        }
    }
    drop(answers);
    notify.notify_one();
}

/// One flow: dial Tor, report, then copy both ways until both ends are done.
async fn flow_task(
    flow: FlowId,
    host: Vec<u8>,
    port: u16,
    tor: Rc<Tor>,
    ctl: mpsc::UnboundedSender<Control>,
    notify: Rc<Notify>,
    debug: bool,
) {
    let stream = match tor.connect(host.clone(), port).await {
        Ok(stream) => stream,
        Err(e) => {
            if debug {
                eprintln!(
                    "torsocks-ns: connection to {}:{port} refused: {}",
                    String::from_utf8_lossy(&host),
                    tor::describe(&e)
                );
            }
            let _ = ctl.send(Control::Refused(flow));
            notify.notify_one();
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (to_tor_tx, mut to_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let (from_tor_tx, from_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let _ = ctl.send(Control::Opened {
        flow,
        to_tor: to_tor_tx,
        from_tor: from_tor_rx,
    });
    notify.notify_one();
    let (mut reader, mut writer) = stream.into_split();
    let up_notify = Rc::clone(&notify);
    let upstream = async move {
        while let Some(chunk) = to_tor_rx.recv().await {
            up_notify.notify_one(); // room in the channel again
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    };
    let downstream = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if from_tor_tx.send(buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                    notify.notify_one();
                }
            }
        }
        drop(from_tor_tx);
        notify.notify_one();
    };
    tokio::join!(upstream, downstream);
}
