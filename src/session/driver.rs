//! The session's sans-IO core: the stack and the state of every flow, driven by what
//! happens (a packet from the program, a message from a flow task, a flow ready to
//! pump, the clock) and answering with what to do (tasks to start, packets to write).
//! No I/O and no clock of its own: [`super::run`] is the async shell around it, and the
//! tests below drive it with a simulated program and clock, without root or a TUN.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;

use netstack::stack::{Event, FlowId, Received, Stack, StackConfig};
use netstack::time::{Duration, Instant};
use tokio::sync::mpsc;
use torsocks_core::socks5::ip_host;

use super::dns_tcp::is_stack_address;
use super::{Control, Summary, CHUNK};
use crate::vpool::{Lease, VirtualPool};

/// Every flow is pumped at least this often, whatever woke the driver: state changes
/// that come from the stack's timers rather than from a packet or a task.
const FULL_SCAN: Duration = Duration::from_millis(50);

/// A task for the shell to start.
pub(super) enum Spawn {
    /// Dial Tor for `flow` (CONNECT `host:port`), then copy; report with [`Control`].
    Flow {
        /// The flow.
        flow: FlowId,
        /// The name or address text for CONNECT.
        host: Vec<u8>,
        /// The port.
        port: u16,
    },
    /// Serve DNS over TCP on `flow`.
    DnsTcp {
        /// The flow.
        flow: FlowId,
    },
    /// Answer one DNS query over UDP; report with [`Control::DnsReply`].
    DnsUdp {
        /// The program's end.
        src: SocketAddr,
        /// The resolver address it used.
        dst: SocketAddr,
        /// The query.
        payload: Vec<u8>,
    },
}

/// Stops a flow's task (its dial, its Tor stream).
pub(super) type Cancel = Box<dyn FnOnce()>;

/// The state of one flow: dialing until `open`, then its channels to the flow task.
#[derive(Default)]
pub(super) struct FlowIo {
    to_tor: Option<mpsc::Sender<Vec<u8>>>,
    from_tor: Option<mpsc::Receiver<Vec<u8>>>,
    pending: Option<(Vec<u8>, usize)>,
    open: bool,
    /// Cancels the flow's task: when the program gives up before it is open, or resets.
    cancel: Option<Cancel>,
    /// When the Tor stream broke: the program gets what arrived before, then a reset.
    failed: Option<Instant>,
    /// The hold on the virtual address the program connected to, if any.
    _lease: Option<Lease>,
}

/// See the module documentation.
pub(super) struct Driver {
    stack: Stack,
    stack_config: StackConfig,
    pool: Rc<VirtualPool>,
    flows: HashMap<FlowId, FlowIo>,
    work: HashSet<FlowId>,
    last_full_scan: Instant,
    summary: Summary,
    buf: Vec<u8>,
}

impl Driver {
    /// A driver with no flows.
    pub(super) fn new(config: StackConfig, pool: Rc<VirtualPool>, now: Instant) -> Driver {
        Driver {
            stack: Stack::new(config.clone(), now),
            stack_config: config,
            pool,
            flows: HashMap::new(),
            work: HashSet::new(),
            last_full_scan: now,
            summary: Summary::default(),
            buf: vec![0u8; CHUNK],
        }
    }

    /// A packet from the program.
    pub(super) fn receive(&mut self, packet: &[u8], now: Instant) {
        self.stack.receive(packet, now);
    }

    /// A message from a task.
    pub(super) fn control(&mut self, control: Control, now: Instant) {
        match control {
            Control::Opened {
                flow,
                to_tor,
                from_tor,
            } => {
                // A flow the program gave up on while Tor was dialing is gone:
                // dropping its channels ends the flow task and its Tor stream.
                if let Some(io) = self.flows.get_mut(&flow) {
                    self.stack.accept(flow);
                    self.work.insert(flow);
                    io.to_tor = Some(to_tor);
                    io.from_tor = Some(from_tor);
                    io.open = true;
                }
            }
            Control::Refused(flow) => {
                self.stack.refuse(flow);
                self.work.insert(flow);
            }
            Control::Failed(flow, cause) => {
                if let Some(io) = self.flows.get_mut(&flow) {
                    io.failed = Some(now);
                }
                self.work.insert(flow);
                *self.summary.resets.entry(cause).or_default() += 1;
            }
            Control::DnsCounted { qtype, outcome } => {
                *self.summary.dns.entry((qtype, outcome)).or_default() += 1;
            }
            Control::DnsReply {
                src,
                dst,
                response,
                qtype,
                outcome,
            } => {
                *self.summary.dns.entry((qtype, outcome)).or_default() += 1;
                if let Some(r) = response {
                    self.stack.reply_dns(src, dst, &r);
                }
            }
        }
    }

    /// Flows whose channels changed (a task woke them).
    pub(super) fn ready(&mut self, flows: impl IntoIterator<Item = FlowId>) {
        self.work.extend(flows);
    }

    /// The task started for `flow`: how to cancel it.
    pub(super) fn attach(&mut self, flow: FlowId, cancel: Cancel) {
        match self.flows.get_mut(&flow) {
            Some(io) => io.cancel = Some(cancel),
            None => cancel(),
        }
    }

    /// Runs everything that is due: the stack's ingress, new flows and DNS queries
    /// (returned as tasks to start), the flows with work, the stack's timers.
    pub(super) fn step(&mut self, now: Instant) -> Vec<Spawn> {
        self.stack.poll_ingress(now);
        let mut spawns = Vec::new();
        while let Some(event) = self.stack.next_event() {
            match event {
                Event::Connect { flow, dst, .. }
                    if dst.port() == 53 && is_stack_address(&self.stack_config, dst) =>
                {
                    // DNS over TCP to the sandbox's resolver is answered here, like UDP.
                    self.flows.insert(flow, FlowIo::default());
                    spawns.push(Spawn::DnsTcp { flow });
                }
                Event::Connect { flow, dst, .. } => {
                    let (host, lease) = match self.pool.lease(dst.ip()) {
                        Some((name, lease)) => (name.into_bytes(), Some(lease)),
                        None => (ip_host(dst.ip()).into_bytes(), None),
                    };
                    self.flows.insert(
                        flow,
                        FlowIo {
                            _lease: lease,
                            ..FlowIo::default()
                        },
                    );
                    spawns.push(Spawn::Flow {
                        flow,
                        host,
                        port: dst.port(),
                    });
                }
                Event::DnsQuery { src, dst, payload } => {
                    spawns.push(Spawn::DnsUdp { src, dst, payload });
                }
            }
        }
        self.work.extend(self.stack.take_dirty());
        if now - self.last_full_scan >= FULL_SCAN {
            self.work.extend(self.flows.keys().copied());
            self.last_full_scan = now;
        }
        let work: Vec<FlowId> = self.work.drain().collect();
        pump_flows(&mut self.stack, &mut self.flows, work, &mut self.buf, now);
        self.stack.poll(now);
        spawns
    }

    /// The next packet for the program.
    pub(super) fn transmit(&mut self) -> Option<Vec<u8>> {
        self.stack.transmit()
    }

    /// Hands back a written packet's buffer.
    pub(super) fn recycle(&mut self, packet: Vec<u8>) {
        self.stack.recycle(packet);
    }

    /// How long the shell may wait before the next [`Driver::step`] at most.
    pub(super) fn poll_delay(&mut self, now: Instant) -> Option<Duration> {
        self.stack.poll_delay(now)
    }

    /// The session's summary, as it stands.
    pub(super) fn summary(mut self) -> Summary {
        self.summary.stack = self.stack.counters().clone();
        self.summary.flows_at_exit = self.stack.flow_count();
        self.summary
    }
}

/// How long a broken stream's last data may wait for the program before the reset.
const RESET_GRACE: Duration = Duration::from_secs(2);

/// Moves bytes between the stack and each flow's channels, as far as both sides allow.
fn pump_flows(
    stack: &mut Stack,
    flows: &mut HashMap<FlowId, FlowIo>,
    work: impl IntoIterator<Item = FlowId>,
    buf: &mut [u8],
    now: Instant,
) {
    let mut finished = Vec::new();
    for flow in work {
        let Some(io) = flows.get_mut(&flow) else {
            continue;
        };
        if !io.open {
            if stack.is_closed(flow) {
                finished.push(flow); // refused, or the program gave up while dialing
            }
            continue;
        }
        // Program → Tor, while the channel has room.
        let mut program_done = false;
        let mut program_reset = false;
        while let Some(tx) = &io.to_tor {
            let Ok(permit) = tx.try_reserve() else { break };
            match stack.recv(flow, &mut buf[..CHUNK]) {
                Received::Data(n) => permit.send(buf[..n].to_vec()),
                Received::Nothing => break,
                Received::End => {
                    program_done = true;
                    break;
                }
                Received::Reset => {
                    program_reset = true;
                    break;
                }
            }
        }
        if program_done {
            io.to_tor = None; // the flow task shuts down its write side
        }
        if program_reset {
            // The program reset its connection: so is the Tor stream, at once (what
            // it had sent and Tor not yet taken is void, as on a real network).
            if let Some(cancel) = io.cancel.take() {
                cancel();
            }
            finished.push(flow);
            continue;
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
                    if io.failed.is_none() {
                        stack.close(flow); // a clean end: FIN after the data
                    }
                    break;
                }
            }
        }
        if let Some(since) = io.failed {
            // A broken stream: the data that arrived before the break is delivered,
            // then the connection is reset (at the latest after RESET_GRACE, should
            // the program not read).
            let drained =
                io.pending.is_none() && io.from_tor.is_none() && stack.all_delivered(flow);
            if drained || now - since >= RESET_GRACE {
                stack.abort(flow);
                io.failed = None;
                io.from_tor = None;
                io.pending = None;
            }
        }
        if stack.is_closed(flow) {
            // Both sides closed, or the program reset the connection: nothing more can
            // be delivered. Dropping the channels ends the flow task and its Tor stream.
            finished.push(flow);
        }
    }
    for flow in finished {
        if let Some(io) = flows.remove(&flow) {
            if !io.open {
                // Refused, or given up while Tor was dialing: cancel the dial, so no
                // Tor stream outlives the program's interest in it.
                if let Some(cancel) = io.cancel {
                    cancel();
                }
            }
            stack.release(flow);
        }
    }
}
