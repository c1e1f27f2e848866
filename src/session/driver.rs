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

use super::report::{Report, Summary};
use crate::names::vpool::{Lease, VirtualPool};

/// Every flow is pumped at least this often, whatever woke the driver: state changes
/// that come from the stack's timers rather than from a packet or a task.
const FULL_SCAN: Duration = Duration::from_millis(50);

/// Whether `addr` is the stack's own address (the DNS server's, over TCP).
fn is_stack_address(config: &StackConfig, addr: SocketAddr) -> bool {
    addr.ip() == std::net::IpAddr::V4(config.ipv4.addr)
        || addr.ip() == std::net::IpAddr::V6(config.ipv6.addr)
}

/// A task for the shell to start.
pub(super) enum Spawn {
    /// Dial Tor for `flow` (CONNECT `host:port`), then copy; report with [`Report`].
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
    /// Answer one DNS query over UDP; report with [`Report::DnsReply`].
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

/// One flow: where it stands, how to stop its task, its hold on a virtual address.
#[derive(Default)]
pub(super) struct FlowIo {
    state: FlowState,
    /// Cancels the flow's task: when the program gives up before it is open, or resets.
    cancel: Option<Cancel>,
    /// The hold on the virtual address the program connected to, if any.
    _lease: Option<Lease>,
}

/// Where a flow stands.
#[derive(Default)]
enum FlowState {
    /// Tor is opening the stream; the program waits for its SYN-ACK.
    #[default]
    Dialing,
    /// The stream is open: bytes move both ways.
    Open(Streams),
    /// The stream broke at `since`: what already arrived is delivered, then a reset.
    Failing {
        /// The channels, as far as they still carry anything.
        streams: Streams,
        /// When the flow task reported the break.
        since: Instant,
    },
}

/// The flow's ends of its task's channels: `None` once that direction has ended.
struct Streams {
    to_tor: Option<mpsc::Sender<Vec<u8>>>,
    from_tor: Option<mpsc::Receiver<Vec<u8>>>,
    /// A chunk from Tor the stack has only partly taken.
    pending: Option<(Vec<u8>, usize)>,
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
    /// A driver with no flows, moving at most `chunk` bytes at once from the stack.
    pub(super) fn new(
        config: StackConfig,
        chunk: usize,
        pool: Rc<VirtualPool>,
        now: Instant,
    ) -> Driver {
        Driver {
            stack: Stack::new(config.clone(), now),
            stack_config: config,
            pool,
            flows: HashMap::new(),
            work: HashSet::new(),
            last_full_scan: now,
            summary: Summary::default(),
            buf: vec![0u8; chunk],
        }
    }

    /// A packet from the program.
    pub(super) fn receive(&mut self, packet: &[u8], now: Instant) {
        self.stack.receive(packet, now);
    }

    /// A report from a task.
    pub(super) fn report(&mut self, report: Report, now: Instant) {
        match report {
            Report::Opened {
                flow,
                to_tor,
                from_tor,
            } => {
                // A flow the program gave up on while Tor was dialing is gone:
                // dropping its channels ends the flow task and its Tor stream.
                if let Some(io) = self.flows.get_mut(&flow) {
                    self.stack.accept(flow);
                    self.work.insert(flow);
                    io.state = FlowState::Open(Streams {
                        to_tor: Some(to_tor),
                        from_tor: Some(from_tor),
                        pending: None,
                    });
                }
            }
            Report::Refused(flow) => {
                self.stack.refuse(flow);
                self.work.insert(flow);
            }
            Report::Failed(flow, cause) => {
                if let Some(io) = self.flows.get_mut(&flow) {
                    io.state = match std::mem::take(&mut io.state) {
                        FlowState::Open(streams) => FlowState::Failing {
                            streams,
                            since: now,
                        },
                        other => other,
                    };
                }
                self.work.insert(flow);
                *self.summary.resets.entry(cause).or_default() += 1;
            }
            Report::DnsCounted { qtype, outcome } => {
                *self.summary.dns.entry((qtype, outcome)).or_default() += 1;
            }
            Report::DnsReply {
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
                    if dst.port() == netstack::classify::DNS_PORT
                        && is_stack_address(&self.stack_config, dst) =>
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

/// Moves bytes between the stack and each flow's channels, as far as both sides allow,
/// and ends the flows that are done.
fn pump_flows(
    stack: &mut Stack,
    flows: &mut HashMap<FlowId, FlowIo>,
    work: impl IntoIterator<Item = FlowId>,
    buf: &mut [u8],
    now: Instant,
) {
    let finished: Vec<FlowId> = (work.into_iter())
        .filter(|&flow| {
            flows
                .get_mut(&flow)
                .is_some_and(|io| pump_flow(stack, flow, io, buf, now) == Pumped::Finished)
        })
        .collect();
    for flow in finished {
        if let Some(io) = flows.remove(&flow) {
            finish(stack, flow, io);
        }
    }
}

/// Whether a flow goes on after a pump.
#[derive(Debug, PartialEq, Eq)]
enum Pumped {
    Going,
    Finished,
}

/// One flow's pump: the program's bytes to Tor, Tor's to the program, a broken
/// stream's reset, and whether the flow is finished.
fn pump_flow(
    stack: &mut Stack,
    flow: FlowId,
    io: &mut FlowIo,
    buf: &mut [u8],
    now: Instant,
) -> Pumped {
    let (streams, failing_since) = match &mut io.state {
        // Refused, or the program gave up while dialing.
        FlowState::Dialing if stack.is_closed(flow) => return Pumped::Finished,
        FlowState::Dialing => return Pumped::Going,
        FlowState::Open(streams) => (streams, None),
        FlowState::Failing { streams, since } => (streams, Some(*since)),
    };
    if to_tor(stack, flow, streams, buf) == ProgramSide::Reset {
        // The program reset its connection: so is the Tor stream, at once (what it had
        // sent and Tor not yet taken is void, as on a real network).
        if let Some(cancel) = io.cancel.take() {
            cancel();
        }
        return Pumped::Finished;
    }
    to_program(stack, flow, streams, failing_since.is_none());
    if let Some(since) = failing_since {
        // A broken stream: the data that arrived before the break is delivered, then
        // the connection is reset (at the latest after RESET_GRACE, should the program
        // not read).
        let drained =
            streams.pending.is_none() && streams.from_tor.is_none() && stack.all_delivered(flow);
        if drained || now - since >= RESET_GRACE {
            stack.abort(flow);
            streams.from_tor = None;
            streams.pending = None;
        }
    }
    // Both sides closed, or the connection was reset: nothing more can be delivered.
    // Dropping the channels ends the flow task and its Tor stream.
    match stack.is_closed(flow) {
        true => Pumped::Finished,
        false => Pumped::Going,
    }
}

/// What the program's side of a flow did.
#[derive(Debug, PartialEq, Eq)]
enum ProgramSide {
    Open,
    Reset,
}

/// The program's bytes to Tor, while the channel has room; its end closes the
/// channel (the flow task then shuts down its write side).
fn to_tor(stack: &mut Stack, flow: FlowId, streams: &mut Streams, buf: &mut [u8]) -> ProgramSide {
    let mut ended = false;
    while let Some(tx) = &streams.to_tor {
        let Ok(permit) = tx.try_reserve() else { break };
        match stack.recv(flow, buf) {
            Received::Data(n) => permit.send(buf[..n].to_vec()),
            Received::Nothing => break,
            Received::End => {
                ended = true;
                break;
            }
            Received::Reset => return ProgramSide::Reset,
        }
    }
    if ended {
        streams.to_tor = None;
    }
    ProgramSide::Open
}

/// Tor's bytes to the program, while the stack takes them; Tor's end becomes a FIN
/// after the data when `clean` (a broken stream is reset instead).
fn to_program(stack: &mut Stack, flow: FlowId, streams: &mut Streams, clean: bool) {
    loop {
        if let Some((chunk, offset)) = &mut streams.pending {
            *offset += stack.send(flow, &chunk[*offset..]);
            if *offset < chunk.len() {
                return;
            }
            streams.pending = None;
        }
        let Some(rx) = &mut streams.from_tor else {
            return;
        };
        match rx.try_recv() {
            Ok(chunk) => streams.pending = Some((chunk, 0)),
            Err(mpsc::error::TryRecvError::Empty) => return,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                streams.from_tor = None;
                if clean {
                    stack.close(flow);
                }
                return;
            }
        }
    }
}

/// A finished flow's end: its task cancelled when Tor's stream may still be open (refused,
/// given up while Tor was dialing, or abandoned before the SYN-ACK), so that no Tor
/// stream outlives the program's interest in it; its slot in the stack released.
fn finish(stack: &mut Stack, flow: FlowId, io: FlowIo) {
    let tor_still_open = match &io.state {
        FlowState::Dialing => true,
        FlowState::Open(streams) | FlowState::Failing { streams, .. } => streams.from_tor.is_some(),
    };
    if tor_still_open {
        if let Some(cancel) = io.cancel {
            cancel();
        }
    }
    stack.release(flow);
}

#[cfg(test)]
mod tests {
    //! The driver with a simulated program (a second smoltcp interface on the other end
    //! of the packets), simulated flow tasks (the test holds their channel ends) and a
    //! simulated clock: the flow lifecycle without root, a TUN or a runtime.

    use std::cell::Cell;
    use std::net::{IpAddr, Ipv4Addr};

    use netstack::device::QueueDevice;
    use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
    use smoltcp::socket::tcp;
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};
    use torsocks_core::onion::OnionRange;

    use super::*;
    use crate::session::report::ResetCause;

    const PROGRAM: Ipv4Addr = Ipv4Addr::new(10, 241, 0, 2);

    /// The program's kernel.
    struct Program {
        iface: Interface,
        device: QueueDevice,
        sockets: SocketSet<'static>,
    }

    /// A flow task as the test plays it: its ends of the channels.
    struct Task {
        from_program: mpsc::Receiver<Vec<u8>>,
        to_program: mpsc::Sender<Vec<u8>>,
    }

    struct World {
        driver: Driver,
        program: Program,
        now: Instant,
        spawned: Vec<Spawn>,
    }

    impl World {
        fn new() -> World {
            let now = Instant::from_millis(1_000);
            let config = StackConfig::default();
            let gateway = config.ipv4.addr;
            let pool = VirtualPool::new(OnionRange::new(Ipv4Addr::new(10, 192, 0, 0), 10));
            let driver = Driver::new(config, crate::limits::MAX_CHUNK, pool, now);
            let mut device = QueueDevice::new(1500);
            let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now);
            iface.update_ip_addrs(|a| {
                let _ = a.push(IpCidr::new(IpAddress::Ipv4(PROGRAM), 24));
            });
            let _ = iface.routes_mut().add_default_ipv4_route(gateway);
            World {
                driver,
                program: Program {
                    iface,
                    device,
                    sockets: SocketSet::new(Vec::new()),
                },
                now,
                spawned: Vec::new(),
            }
        }

        /// Moves packets both ways and steps the driver, `ms` simulated milliseconds.
        fn run(&mut self, ms: u64) {
            for _ in 0..ms {
                self.now += Duration::from_millis(1);
                let p = &mut self.program;
                p.iface.poll(self.now, &mut p.device, &mut p.sockets);
                while let Some(packet) = p.device.take_sent() {
                    self.driver.receive(&packet, self.now);
                }
                let spawned = self.driver.step(self.now);
                self.spawned.extend(spawned);
                while let Some(packet) = self.driver.transmit() {
                    p.device.deliver(&packet);
                    self.driver.recycle(packet);
                }
            }
        }

        fn connect(&mut self, port: u16, local_port: u16) -> SocketHandle {
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; 64 * 1024]),
                tcp::SocketBuffer::new(vec![0; 64 * 1024]),
            );
            let p = &mut self.program;
            let dst = IpEndpoint::new(IpAddress::Ipv4(Ipv4Addr::new(192, 0, 2, 1)), port);
            socket.connect(p.iface.context(), dst, local_port).unwrap();
            p.sockets.add(socket)
        }

        fn socket(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
            self.program.sockets.get_mut::<tcp::Socket>(h)
        }

        /// The flow the driver asked to dial, with a cancel hook that records its use.
        fn dialed(&mut self) -> (FlowId, Rc<Cell<bool>>) {
            let position = self
                .spawned
                .iter()
                .position(|s| matches!(s, Spawn::Flow { .. }))
                .expect("a dial");
            let Spawn::Flow { flow, host, port } = self.spawned.remove(position) else {
                unreachable!()
            };
            assert_eq!((host.as_slice(), port), (&b"192.0.2.1"[..], port));
            let cancelled = Rc::new(Cell::new(false));
            let flag = Rc::clone(&cancelled);
            self.driver.attach(flow, Box::new(move || flag.set(true)));
            (flow, cancelled)
        }

        /// Tor answered the dial: the flow task's channels.
        fn open(&mut self, flow: FlowId) -> Task {
            let (to_tor, from_program) = mpsc::channel(8);
            let (to_program, from_tor) = mpsc::channel(8);
            self.driver.report(
                Report::Opened {
                    flow,
                    to_tor,
                    from_tor,
                },
                self.now,
            );
            self.driver.ready([flow]);
            Task {
                from_program,
                to_program,
            }
        }
    }

    #[test]
    fn a_flow_carries_bytes_both_ways_and_ends_with_fin() {
        let mut w = World::new();
        let h = w.connect(80, 41000);
        w.run(5);
        let (flow, cancelled) = w.dialed();
        assert_eq!(
            w.socket(h).state(),
            tcp::State::SynSent,
            "held while Tor dials"
        );
        let mut task = w.open(flow);
        w.run(5);
        assert_eq!(w.socket(h).state(), tcp::State::Established);
        w.socket(h).send_slice(b"request").unwrap();
        w.run(5);
        assert_eq!(task.from_program.try_recv().unwrap(), b"request");
        task.to_program.try_send(b"response".to_vec()).unwrap();
        drop(task.to_program); // Tor ended the stream cleanly
        w.driver.ready([flow]);
        w.run(5);
        let mut buf = [0u8; 32];
        let n = w.socket(h).recv_slice(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"response");
        assert!(!w.socket(h).may_recv(), "FIN after the data");
        w.socket(h).close();
        w.run(100);
        let summary = w.driver.summary();
        assert_eq!(summary.flows_at_exit, 0, "released");
        assert!(!cancelled.get(), "a flow that ended well is not cancelled");
        assert!(summary.resets.is_empty());
    }

    #[test]
    fn a_broken_stream_delivers_its_data_then_resets_on_the_simulated_clock() {
        let mut w = World::new();
        let h = w.connect(80, 41001);
        w.run(5);
        let (flow, _) = w.dialed();
        let task = w.open(flow);
        w.run(5);
        task.to_program.try_send(b"partial".to_vec()).unwrap();
        w.driver
            .report(Report::Failed(flow, ResetCause::StreamFailed), w.now);
        drop(task);
        w.driver.ready([flow]);
        w.run(5);
        let mut buf = [0u8; 32];
        let n = w.socket(h).recv_slice(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"partial", "the data before the break");
        w.run(100); // the program's (delayed) ACK, then the reset
        assert_eq!(w.socket(h).state(), tcp::State::Closed, "then a reset");
        let summary = w.driver.summary();
        assert_eq!(summary.resets.get(&ResetCause::StreamFailed), Some(&1));
    }

    #[test]
    fn a_program_that_does_not_read_is_reset_after_the_grace() {
        let mut w = World::new();
        let h = w.connect(80, 41002);
        w.run(5);
        let (flow, _) = w.dialed();
        let task = w.open(flow);
        w.run(5);
        // More than the program's window: some stays queued in the stack.
        for _ in 0..8 {
            let _ = task.to_program.try_send(vec![7u8; 16 * 1024]);
        }
        w.driver.ready([flow]);
        w.run(5);
        w.driver
            .report(Report::Failed(flow, ResetCause::TorGone), w.now);
        drop(task);
        w.run(1_900);
        assert_ne!(w.socket(h).state(), tcp::State::Closed, "within the grace");
        w.run(200);
        assert_eq!(w.socket(h).state(), tcp::State::Closed, "reset after 2 s");
    }

    #[test]
    fn a_connect_given_up_while_dialing_cancels_the_dial() {
        let mut w = World::new();
        let h = w.connect(80, 41003);
        w.run(5);
        let (flow, cancelled) = w.dialed();
        // The program gives up; its socket is gone when the SYN-ACK finally comes.
        w.socket(h).abort();
        w.program.sockets.remove(h);
        let _task = w.open(flow);
        w.run(10);
        assert!(cancelled.get(), "the dial (and its Tor stream) cancelled");
        assert_eq!(w.driver.summary().flows_at_exit, 0);
    }

    #[test]
    fn a_later_connection_to_the_same_destination_gets_its_own_stream() {
        let mut w = World::new();
        let first = w.connect(80, 41006);
        w.run(5);
        let (abandoned, cancelled) = w.dialed();
        w.socket(first).abort();
        w.program.sockets.remove(first);
        let mut old = w.open(abandoned);
        w.run(10);
        assert!(cancelled.get());
        let second = w.connect(80, 41007);
        w.run(5);
        let (flow, _) = w.dialed();
        assert_ne!(flow, abandoned, "a dial of its own");
        let mut task = w.open(flow);
        w.run(5);
        w.socket(second).send_slice(b"mine").unwrap();
        w.run(5);
        assert_eq!(task.from_program.try_recv().unwrap(), b"mine");
        assert!(
            old.from_program.try_recv().is_err(),
            "nothing on the old stream"
        );
    }

    #[test]
    fn a_program_reset_cancels_the_tor_stream() {
        let mut w = World::new();
        let h = w.connect(80, 41004);
        w.run(5);
        let (flow, cancelled) = w.dialed();
        let _task = w.open(flow);
        w.run(5);
        w.socket(h).abort();
        w.run(5);
        assert!(cancelled.get());
        assert_eq!(w.driver.summary().flows_at_exit, 0);
    }

    #[test]
    fn refused_dials_are_refused_connections() {
        let mut w = World::new();
        let h = w.connect(80, 41005);
        w.run(5);
        let (flow, cancelled) = w.dialed();
        w.driver.report(Report::Refused(flow), w.now);
        w.run(10);
        assert_eq!(w.socket(h).state(), tcp::State::Closed);
        assert!(cancelled.get(), "the finished task is cancelled (a no-op)");
        let summary = w.driver.summary();
        assert_eq!((summary.stack.flows_refused, summary.flows_at_exit), (1, 0));
    }

    #[test]
    fn dns_queries_become_tasks_and_replies_packets() {
        let mut w = World::new();
        // A UDP query built by hand: the program side here speaks only TCP.
        let query = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ];
        let src = SocketAddr::new(IpAddr::V4(PROGRAM), 5353);
        let dst = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 241, 0, 1)), 53);
        let packet = netstack::reply::udp(src, dst, &query).unwrap();
        w.driver.receive(&packet, w.now);
        let spawned = w.driver.step(w.now);
        assert!(matches!(
            spawned.as_slice(),
            [Spawn::DnsUdp { payload, .. }] if payload == &query
        ));
        w.driver.report(
            Report::DnsReply {
                src,
                dst,
                response: Some(query.to_vec()),
                qtype: 1,
                outcome: crate::names::dns::Outcome::OverLimit,
            },
            w.now,
        );
        assert!(w.driver.transmit().is_some(), "the answer goes out");
        let summary = w.driver.summary();
        assert_eq!(
            summary.dns.get(&(1, crate::names::dns::Outcome::OverLimit)),
            Some(&1)
        );
    }
}
