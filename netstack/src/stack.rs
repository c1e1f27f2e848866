//! The userspace stack: smoltcp in any-IP mode behind a [`QueueDevice`].
//!
//! Every TCP connection a program opens, to any address and port, becomes a *flow*: on
//! its SYN the stack creates a listening socket for exactly that destination (before
//! smoltcp sees the packet), holds the SYN-ACK back, and reports
//! [`Event::Connect`]. The caller (the launcher) then opens the outbound stream and
//! answers [`Stack::accept`] — the SYN-ACK goes out and the program's `connect`
//! succeeds — or [`Stack::refuse`] — a RST, so the program sees a refused connection
//! rather than a connection that resets later. UDP to port 53 becomes
//! [`Event::DnsQuery`]; other UDP is answered with ICMP port unreachable; everything
//! else is dropped and counted.
//!
//! The stack performs no I/O and keeps no clock: the caller feeds packets in, takes
//! packets out, and polls at the deadline [`Stack::poll_delay`] names.
//!
//! Idle flows cost nothing per packet: smoltcp scans every socket of its set for each
//! segment, poll and deadline, so sockets with nothing to do are parked in a set it
//! does not see (`park_idle`) until a segment or work comes for them.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpListenEndpoint};

use crate::classify::{classify, udp_payload, DropCounters, DropKind, Verdict};
use crate::device::QueueDevice;
use crate::reply;

/// How often idle sockets are looked for, to be parked ([`Stack::park_idle`]).
const PARK_INTERVAL: Duration = Duration::from_millis(50);

/// Identifies a flow for its whole life.
pub type FlowId = u64;

/// An address of the stack's own, with the prefix length of its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet<A> {
    /// The address.
    pub addr: A,
    /// The prefix length (the program's side is on the same link).
    pub prefix: u8,
}

/// How the stack is set up.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The stack's own IPv4 address and prefix.
    pub ipv4: Subnet<Ipv4Addr>,
    /// The stack's own IPv6 address and prefix.
    pub ipv6: Subnet<Ipv6Addr>,
    /// The largest packet, as the TUN device's MTU.
    pub mtu: usize,
    /// The most flows open at once; a SYN beyond it is answered with RST.
    pub max_flows: usize,
    /// Receive buffer of each flow (bytes from the program).
    pub rx_buffer: usize,
    /// Send buffer of each flow (bytes to the program).
    pub tx_buffer: usize,
    /// Seeds smoltcp's randomness (TCP initial sequence numbers): give a fresh random
    /// value per run.
    pub random_seed: u64,
    /// TCP and UDP checksums are neither verified nor computed: the packets travel with
    /// a virtio-net header that says so ([`crate::vnet`]).
    pub checksum_offload: bool,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            ipv4: Subnet {
                addr: Ipv4Addr::new(10, 241, 0, 1),
                prefix: 24,
            },
            ipv6: Subnet {
                addr: Ipv6Addr::new(0xfd74, 0x6f72, 0, 0, 0, 0, 0, 1),
                prefix: 64,
            },
            mtu: 1500,
            max_flows: 4096,
            rx_buffer: 16 * 1024,
            tx_buffer: 16 * 1024,
            random_seed: 0x5eed_7075_6e65_7473,
            checksum_offload: false,
        }
    }
}

/// Something the caller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A program is connecting to `dst`: answer with [`Stack::accept`] or
    /// [`Stack::refuse`].
    Connect {
        /// The flow.
        flow: FlowId,
        /// The program's end.
        src: SocketAddr,
        /// Where it wants to go.
        dst: SocketAddr,
    },
    /// A DNS query over UDP; answer with [`Stack::reply_dns`] (swapping ends).
    DnsQuery {
        /// The program's end.
        src: SocketAddr,
        /// The resolver address it used.
        dst: SocketAddr,
        /// The DNS message.
        payload: Vec<u8>,
    },
}

/// What [`Stack::recv`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// This many bytes were copied.
    Data(usize),
    /// Nothing now; more may come.
    Nothing,
    /// The program closed its side (or the flow is gone): no more bytes will come.
    End,
    /// The program reset the connection: no more bytes, and what was in flight is void.
    Reset,
}

/// Session counters (the `--stats` summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Flows accepted (the outbound stream opened).
    pub flows_opened: u64,
    /// Flows refused.
    pub flows_refused: u64,
    /// SYNs answered with RST because `max_flows` flows were open.
    pub flows_over_limit: u64,
    /// Bytes programs sent.
    pub bytes_from_programs: u64,
    /// Bytes delivered to programs.
    pub bytes_to_programs: u64,
    /// DNS queries over UDP.
    pub dns_queries: u64,
    /// Packets dropped, by kind.
    pub drops: DropCounters,
}

#[derive(Debug)]
struct Flow {
    handle: SocketHandle,
    src: SocketAddr,
    dst: SocketAddr,
    /// The program gave up before the SYN-ACK (its RST sent the listening socket back
    /// to LISTEN): the flow is over, and its socket must never take another SYN.
    abandoned: bool,
    /// The socket is in the parked set (see [`Stack::park_idle`]); `handle` is there.
    parked: bool,
}

/// The stack. See the module documentation.
pub struct Stack {
    config: StackConfig,
    iface: Interface,
    device: QueueDevice,
    /// The sockets smoltcp polls.
    sockets: SocketSet<'static>,
    /// Idle sockets: established, nothing queued either way, no timer running. smoltcp
    /// scans every socket of a set for each packet, each poll and each deadline, so
    /// a thousand idle connections would slow every busy one; parked, they cost
    /// nothing until a segment for them arrives or the caller gives them work.
    parked: SocketSet<'static>,
    /// A set of at most one socket, where a candidate for parking is asked whether
    /// it has a timer running (smoltcp answers that only for a whole set).
    staging: SocketSet<'static>,
    /// When [`Stack::park_idle`] last ran.
    last_park: Instant,
    flows: HashMap<FlowId, Flow>,
    tuples: HashMap<(SocketAddr, SocketAddr), FlowId>,
    next_flow: FlowId,
    events: VecDeque<Event>,
    /// Packets written by the stack itself (DNS answers, ICMP errors).
    own_packets: VecDeque<Vec<u8>>,
    /// Flows that received a segment since the caller last asked.
    dirty: Vec<FlowId>,
    /// Sockets of released flows, removed after the next full poll so that a final
    /// RST or ACK still goes out.
    released: Vec<SocketHandle>,
    counters: Counters,
}

impl Stack {
    /// A stack with no flows.
    pub fn new(config: StackConfig, now: Instant) -> Stack {
        let mut device = QueueDevice::new(config.mtu);
        if config.checksum_offload {
            device.offload_checksums();
        }
        let mut iface_config = Config::new(HardwareAddress::Ip);
        iface_config.random_seed = config.random_seed;
        let mut iface = Interface::new(iface_config, &mut device, now);
        let (v4, v4_prefix) = (config.ipv4.addr, config.ipv4.prefix);
        let (v6, v6_prefix) = (config.ipv6.addr, config.ipv6.prefix);
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(v4), v4_prefix));
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv6(v6), v6_prefix));
        });
        // Any-IP: a default route through our own address makes the interface accept
        // packets for every destination.
        iface.set_any_ip(true);
        let _ = iface.routes_mut().add_default_ipv4_route(v4);
        let _ = iface.routes_mut().add_default_ipv6_route(v6);
        Stack {
            config,
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            parked: SocketSet::new(Vec::new()),
            staging: SocketSet::new(Vec::new()),
            last_park: now,
            flows: HashMap::new(),
            tuples: HashMap::new(),
            next_flow: 1,
            events: VecDeque::new(),
            own_packets: VecDeque::new(),
            dirty: Vec::new(),
            released: Vec::new(),
            counters: Counters::default(),
        }
    }

    /// Takes one packet from the program side (as read from the TUN device).
    pub fn receive(&mut self, packet: &[u8], now: Instant) {
        match classify(packet) {
            Verdict::Tcp { src, dst, syn } => {
                let flow = self.tuples.get(&(src, dst)).copied();
                let known = flow.is_some();
                if let Some(flow) = flow {
                    // smoltcp must see the segment's socket (or it answers RST).
                    self.unpark(flow);
                }
                self.dirty.extend(flow);
                if syn && !known {
                    // A listening socket that went back to LISTEN (its program reset
                    // the connection while the outbound stream was being opened) would
                    // take this SYN, from any source: take it out of play first.
                    self.poll_ingress(now);
                    self.retire_abandoned(dst);
                    self.new_flow(src, dst);
                }
                self.device.push_rx(packet);
                if syn && !known {
                    // Let smoltcp see this SYN now, while the new listening socket is
                    // the only one for this destination.
                    self.poll_ingress(now);
                }
            }
            Verdict::DnsQuery { src, dst } => {
                self.counters.dns_queries += 1;
                let payload = udp_payload(packet).unwrap_or_default().to_vec();
                self.events.push_back(Event::DnsQuery { src, dst, payload });
            }
            Verdict::Drop(kind) => {
                self.counters.drops.record(kind);
                if let DropKind::Udp { .. } = kind {
                    if let Some(icmp) = reply::port_unreachable(packet) {
                        self.own_packets.push_back(icmp);
                    }
                }
            }
        }
    }

    /// Aborts every flow to `dst` whose socket is back in LISTEN after its SYN; they
    /// report closed from now on.
    fn retire_abandoned(&mut self, dst: SocketAddr) {
        for (&id, flow) in self.flows.iter_mut() {
            // A parked socket is established: never back in LISTEN.
            if flow.dst != dst || flow.abandoned || flow.parked {
                continue;
            }
            let socket = self.sockets.get_mut::<tcp::Socket>(flow.handle);
            if socket.state() == tcp::State::Listen {
                socket.abort();
                flow.abandoned = true;
                self.dirty.push(id);
            }
        }
    }

    fn new_flow(&mut self, src: SocketAddr, dst: SocketAddr) {
        if self.flows.len() >= self.config.max_flows {
            // No listening socket: smoltcp answers the SYN with RST.
            self.counters.flows_over_limit += 1;
            return;
        }
        let mut socket = tcp::Socket::new(
            // Zeroed allocations: lazy only with a page-mapping allocator (crate docs).
            tcp::SocketBuffer::new(vec![0u8; self.config.rx_buffer]),
            tcp::SocketBuffer::new(vec![0u8; self.config.tx_buffer]),
        );
        socket.pause_synack(true);
        socket.set_nagle_enabled(false);
        let endpoint = IpListenEndpoint {
            addr: Some(IpAddress::from(dst.ip())),
            port: dst.port(),
        };
        if socket.listen(endpoint).is_err() {
            self.counters.drops.record(DropKind::Malformed);
            return;
        }
        let handle = self.sockets.add(socket);
        let flow = self.next_flow;
        self.next_flow += 1;
        self.flows.insert(
            flow,
            Flow {
                handle,
                src,
                dst,
                abandoned: false,
                parked: false,
            },
        );
        self.tuples.insert((src, dst), flow);
        self.events.push_back(Event::Connect { flow, src, dst });
    }

    /// Runs the TCP machinery: timers, queued packets, socket state.
    pub fn poll(&mut self, now: Instant) {
        self.iface.poll(now, &mut self.device, &mut self.sockets);
        for handle in self.released.drain(..) {
            self.sockets.remove(handle);
        }
        if now - self.last_park >= PARK_INTERVAL {
            self.last_park = now;
            self.park_idle(now);
        }
    }

    /// Moves every idle socket to the parked set: established, nothing queued either
    /// way, and no timer running (no retransmission, delayed ACK or window update due),
    /// so that smoltcp would have nothing to do for it until a segment arrives.
    fn park_idle(&mut self, now: Instant) {
        for flow in self.flows.values_mut() {
            if flow.parked {
                continue;
            }
            let socket = self.sockets.get::<tcp::Socket>(flow.handle);
            if socket.state() != tcp::State::Established
                || socket.send_queue() > 0
                || socket.recv_queue() > 0
            {
                continue;
            }
            let staged = self.staging.add(self.sockets.remove(flow.handle));
            let idle = self.iface.poll_at(now, &self.staging).is_none();
            let socket = self.staging.remove(staged);
            if idle {
                flow.handle = self.parked.add(socket);
                flow.parked = true;
            } else {
                flow.handle = self.sockets.add(socket);
            }
        }
    }

    /// Brings a parked flow's socket back to the polled set.
    fn unpark(&mut self, flow: FlowId) {
        if let Some(f) = self.flows.get_mut(&flow) {
            if f.parked {
                f.handle = self.sockets.add(self.parked.remove(f.handle));
                f.parked = false;
            }
        }
    }

    /// Feeds the queued packets to the sockets without the egress pass over every
    /// socket: enough to make received data readable. A [`Stack::poll`] must follow
    /// before the caller sleeps, to send what the sockets have queued.
    pub fn poll_ingress(&mut self, now: Instant) {
        self.iface.poll_maintenance(now);
        while self
            .iface
            .poll_ingress_single(now, &mut self.device, &mut self.sockets)
            != smoltcp::iface::PollIngressSingleResult::None
        {}
    }

    /// Flows that received segments since the last call (each may appear more than
    /// once): the ones whose data or window may have changed.
    pub fn take_dirty(&mut self) -> Vec<FlowId> {
        std::mem::take(&mut self.dirty)
    }

    /// The next event, if any.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next packet for the program side, if any.
    pub fn transmit(&mut self) -> Option<Vec<u8>> {
        self.own_packets
            .pop_front()
            .or_else(|| self.device.tx.pop_front())
    }

    /// Hands back a packet buffer from [`Stack::transmit`] once it is written out, so
    /// that it carries a later packet.
    pub fn recycle(&mut self, packet: Vec<u8>) {
        self.device.recycle(packet);
    }

    /// How long the caller may wait before the next [`Stack::poll`] (None: until a
    /// packet arrives or the caller acts).
    pub fn poll_delay(&mut self, now: Instant) -> Option<Duration> {
        self.iface.poll_delay(now, &self.sockets)
    }

    /// The flow's socket, parked or not: for what leaves it idle (looking, or taking
    /// from a receive queue that a parked socket has empty).
    fn socket(&mut self, flow: FlowId) -> Option<&mut tcp::Socket<'static>> {
        let f = self.flows.get(&flow)?;
        let set = if f.parked {
            &mut self.parked
        } else {
            &mut self.sockets
        };
        Some(set.get_mut::<tcp::Socket>(f.handle))
    }

    /// The flow's socket, unparked: for what gives smoltcp work (bytes or a FIN to
    /// send, a SYN-ACK to let go, a reset).
    fn busy_socket(&mut self, flow: FlowId) -> Option<&mut tcp::Socket<'static>> {
        self.unpark(flow);
        let handle = self.flows.get(&flow)?.handle;
        Some(self.sockets.get_mut::<tcp::Socket>(handle))
    }

    /// The outbound stream is open: let the SYN-ACK go, the program's connect succeeds.
    pub fn accept(&mut self, flow: FlowId) {
        if let Some(socket) = self.busy_socket(flow) {
            socket.pause_synack(false);
            self.counters.flows_opened += 1;
        }
    }

    /// The outbound stream could not be opened: the program's connect is refused (RST).
    pub fn refuse(&mut self, flow: FlowId) {
        if let Some(socket) = self.busy_socket(flow) {
            socket.abort();
            self.counters.flows_refused += 1;
        }
    }

    /// Queues bytes for the program; returns how many fit (backpressure: 0 when full).
    pub fn send(&mut self, flow: FlowId, data: &[u8]) -> usize {
        if data.is_empty() {
            return 0;
        }
        let Some(socket) = self.busy_socket(flow) else {
            return 0;
        };
        if !socket.may_send() {
            return 0;
        }
        let n = socket.send_slice(data).unwrap_or(0);
        self.counters.bytes_to_programs += n as u64;
        n
    }

    /// Whether the program side can take more bytes now.
    pub fn can_send(&mut self, flow: FlowId) -> bool {
        self.socket(flow).is_some_and(|s| s.can_send())
    }

    /// Takes bytes the program sent.
    pub fn recv(&mut self, flow: FlowId, buf: &mut [u8]) -> Received {
        if self.socket(flow).is_some_and(|s| s.can_recv()) {
            // Taking bytes may open the window: smoltcp may have an update to send.
            self.unpark(flow);
        }
        let Some(socket) = self.socket(flow) else {
            return Received::End;
        };
        if socket.can_recv() {
            let n = socket.recv_slice(buf).unwrap_or(0);
            self.counters.bytes_from_programs += n as u64;
            return Received::Data(n);
        }
        match socket.state() {
            tcp::State::SynReceived | tcp::State::Listen => Received::Nothing,
            _ if socket.may_recv() => Received::Nothing,
            // Closed before the program's FIN was read: an RST (a FIN is read as End
            // first, in CLOSE-WAIT or later).
            tcp::State::Closed => Received::Reset,
            _ => Received::End,
        }
    }

    /// Whether everything queued for the program has been delivered and acknowledged.
    pub fn all_delivered(&mut self, flow: FlowId) -> bool {
        self.socket(flow).is_none_or(|s| s.send_queue() == 0)
    }

    /// The outbound side ended: send FIN to the program once its data is delivered.
    pub fn close(&mut self, flow: FlowId) {
        if let Some(socket) = self.busy_socket(flow) {
            socket.close();
        }
    }

    /// The outbound side failed: reset the program's connection.
    pub fn abort(&mut self, flow: FlowId) {
        if let Some(socket) = self.busy_socket(flow) {
            socket.abort();
        }
    }

    /// True once the flow's connection is fully closed, reset, or abandoned before it
    /// was established. (A flow's SYN reaches its socket as the flow is made, so a
    /// socket found in LISTEN later went back there on the program's RST.)
    pub fn is_closed(&mut self, flow: FlowId) -> bool {
        self.socket(flow).is_none_or(|s| {
            matches!(
                s.state(),
                tcp::State::Closed | tcp::State::TimeWait | tcp::State::Listen
            )
        })
    }

    /// Forgets a flow the caller is done with; its socket is freed after the next
    /// [`Stack::poll`] has sent what it still had to say (a RST, a last ACK).
    pub fn release(&mut self, flow: FlowId) {
        if let Some(f) = self.flows.remove(&flow) {
            self.tuples.remove(&(f.src, f.dst));
            if f.parked {
                // Idle: it has nothing left to say.
                self.parked.remove(f.handle);
            } else {
                self.released.push(f.handle);
            }
        }
    }

    /// Answers a DNS query: a UDP datagram from `query_dst` back to `query_src`.
    pub fn reply_dns(&mut self, query_src: SocketAddr, query_dst: SocketAddr, payload: &[u8]) {
        if let Some(packet) = reply::udp(query_dst, query_src, payload) {
            self.own_packets.push_back(packet);
        }
    }

    /// Flows currently known.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// The session counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}

#[cfg(test)]
mod tests;
