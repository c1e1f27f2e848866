//! State-machine tests: a second smoltcp interface plays the program's kernel, and the
//! two exchange synthetic packets through queues. Nothing touches a real network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    HardwareAddress, Icmpv4Packet, Icmpv4Repr, IpAddress, IpCidr, IpProtocol, Ipv4Packet, Ipv4Repr,
    UdpPacket,
};

use super::*;
use crate::device::QueueDevice;

const PROGRAM_V4: Ipv4Addr = Ipv4Addr::new(10, 241, 0, 2);
const PROGRAM_V6: Ipv6Addr = Ipv6Addr::new(0xfd74, 0x6f72, 0, 0, 0, 0, 0, 2);

/// The program's side: an interface and its sockets.
struct Program {
    iface: Interface,
    device: QueueDevice,
    sockets: SocketSet<'static>,
}

struct World {
    stack: Stack,
    program: Program,
    now: Instant,
}

impl World {
    fn new(config: StackConfig) -> World {
        let now = Instant::from_millis(1_000);
        let (gw4, gw6) = (config.ipv4.addr, config.ipv6.addr);
        let offload = config.checksum_offload;
        let stack = Stack::new(config, now);
        let mut device = QueueDevice::new(1500);
        if offload {
            // The program's side leaves checksums out too, as a kernel allowed
            // TUN_F_CSUM does (there, only the pseudo-header is summed; here nothing).
            device.offload_checksums();
        }
        let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(PROGRAM_V4), 24));
            let _ = a.push(IpCidr::new(IpAddress::Ipv6(PROGRAM_V6), 64));
        });
        let _ = iface.routes_mut().add_default_ipv4_route(gw4);
        let _ = iface.routes_mut().add_default_ipv6_route(gw6);
        World {
            stack,
            program: Program {
                iface,
                device,
                sockets: SocketSet::new(Vec::new()),
            },
            now,
        }
    }

    /// Moves packets both ways, a millisecond at a time, until the wire has been quiet
    /// for longer than any delayed ACK; returns what the stack sent.
    fn pump(&mut self) -> Vec<Vec<u8>> {
        let mut sent_by_stack = Vec::new();
        let mut quiet = 0;
        for _ in 0..2_000 {
            self.now += Duration::from_millis(1);
            let p = &mut self.program;
            p.iface.poll(self.now, &mut p.device, &mut p.sockets);
            let mut moved = false;
            while let Some(packet) = p.device.tx.pop_front() {
                self.stack.receive(&packet, self.now);
                moved = true;
            }
            self.stack.poll(self.now);
            while let Some(packet) = self.stack.transmit() {
                sent_by_stack.push(packet.clone());
                p.device.rx.push_back(packet);
                moved = true;
            }
            quiet = if moved { 0 } else { quiet + 1 };
            if quiet > 50 {
                break;
            }
        }
        sent_by_stack
    }

    fn connect(&mut self, dst: SocketAddr, local_port: u16) -> SocketHandle {
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 64 * 1024]),
            tcp::SocketBuffer::new(vec![0; 64 * 1024]),
        );
        let p = &mut self.program;
        socket
            .connect(
                p.iface.context(),
                IpAddress::from(dst.ip()).into_endpoint(dst.port()),
                local_port,
            )
            .unwrap();
        p.sockets.add(socket)
    }

    fn program_socket(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.program.sockets.get_mut::<tcp::Socket>(h)
    }

    /// A connect the program gives up while the outbound stream is being opened (a
    /// connect timeout): its socket is gone when the SYN-ACK finally comes, so it
    /// answers RST. Returns the flow.
    fn abandon(&mut self, dst: SocketAddr, local_port: u16) -> FlowId {
        let h = self.connect(dst, local_port);
        self.pump();
        let (flow, _, _) = self.expect_connect();
        self.program_socket(h).abort();
        self.program.sockets.remove(h);
        self.stack.accept(flow);
        self.pump();
        flow
    }

    fn expect_connect(&mut self) -> (FlowId, SocketAddr, SocketAddr) {
        match self.stack.next_event() {
            Some(Event::Connect { flow, src, dst }) => (flow, src, dst),
            other => panic!("expected a Connect event, got {other:?}"),
        }
    }
}

trait IntoEndpoint {
    fn into_endpoint(self, port: u16) -> smoltcp::wire::IpEndpoint;
}

impl IntoEndpoint for IpAddress {
    fn into_endpoint(self, port: u16) -> smoltcp::wire::IpEndpoint {
        smoltcp::wire::IpEndpoint::new(self, port)
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn syn_ack_is_held_until_accept_then_data_flows_both_ways() {
    let mut w = World::new(StackConfig::default());
    let h = w.connect(sa("192.0.2.1:80"), 40000);
    w.pump();
    let (flow, src, dst) = w.expect_connect();
    assert_eq!(
        (src, dst),
        (
            SocketAddr::new(IpAddr::V4(PROGRAM_V4), 40000),
            sa("192.0.2.1:80")
        )
    );
    // Held: the program is still waiting for the SYN-ACK.
    w.pump();
    assert_eq!(w.program_socket(h).state(), tcp::State::SynSent);

    w.stack.accept(flow);
    w.pump();
    assert_eq!(w.program_socket(h).state(), tcp::State::Established);

    w.program_socket(h)
        .send_slice(b"GET / HTTP/1.0\r\n\r\n")
        .unwrap();
    w.pump();
    let mut buf = [0u8; 64];
    assert_eq!(w.stack.recv(flow, &mut buf), Received::Data(18));
    assert_eq!(&buf[..18], b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(w.stack.recv(flow, &mut buf), Received::Nothing);

    assert_eq!(w.stack.send(flow, b"HTTP/1.0 200 OK\r\n"), 17);
    w.pump();
    let mut got = [0u8; 64];
    let n = w.program_socket(h).recv_slice(&mut got).unwrap();
    assert_eq!(&got[..n], b"HTTP/1.0 200 OK\r\n");

    let c = w.stack.counters();
    assert_eq!(
        (c.flows_opened, c.bytes_from_programs, c.bytes_to_programs),
        (1, 18, 17)
    );
}

#[test]
fn refused_destination_is_a_refused_connection() {
    let mut w = World::new(StackConfig::default());
    let h = w.connect(sa("192.0.2.1:443"), 40001);
    w.pump();
    let (flow, _, _) = w.expect_connect();
    w.stack.refuse(flow);
    w.pump();
    // The program's SYN is answered by RST: its socket never was established.
    assert_eq!(w.program_socket(h).state(), tcp::State::Closed);
    assert!(w.stack.is_closed(flow));
    w.stack.release(flow);
    assert_eq!(w.stack.flow_count(), 0);
    assert_eq!(w.stack.counters().flows_refused, 1);
}

#[test]
fn fin_both_ways() {
    let mut w = World::new(StackConfig::default());
    let h = w.connect(sa("198.51.100.7:8080"), 40002);
    w.pump();
    let (flow, _, _) = w.expect_connect();
    w.stack.accept(flow);
    w.pump();
    w.program_socket(h).send_slice(b"bye").unwrap();
    w.program_socket(h).close();
    w.pump();
    let mut buf = [0u8; 8];
    assert_eq!(w.stack.recv(flow, &mut buf), Received::Data(3));
    assert_eq!(w.stack.recv(flow, &mut buf), Received::End);
    assert_eq!(
        w.stack.send(flow, b"last words"),
        10,
        "half-closed: the program still reads"
    );
    w.stack.close(flow);
    w.pump();
    let mut got = [0u8; 16];
    let n = w.program_socket(h).recv_slice(&mut got).unwrap();
    assert_eq!(&got[..n], b"last words");
    assert!(!w.program_socket(h).may_recv());
    w.pump();
    let state = w.program_socket(h).state();
    assert!(w.stack.is_closed(flow), "program {state}, stack not closed");
}

#[test]
fn send_buffer_backpressure() {
    let config = StackConfig {
        tx_buffer: 4096,
        ..StackConfig::default()
    };
    let mut w = World::new(config);
    let h = w.connect(sa("192.0.2.9:80"), 40003);
    w.pump();
    let (flow, _, _) = w.expect_connect();
    w.stack.accept(flow);
    w.pump();
    let big = vec![7u8; 10_000];
    let first = w.stack.send(flow, &big);
    assert_eq!(first, 4096, "only the buffer's worth is taken");
    assert_eq!(w.stack.send(flow, &big), 0, "full until the program reads");
    w.pump();
    let mut sink = vec![0u8; 10_000];
    let n = w.program_socket(h).recv_slice(&mut sink).unwrap();
    assert_eq!(n, 4096);
    w.pump();
    assert!(w.stack.can_send(flow));
}

#[test]
fn ipv6_flow() {
    let mut w = World::new(StackConfig::default());
    let h = w.connect(sa("[2001:db8::1]:443"), 40004);
    w.pump();
    let (flow, src, dst) = w.expect_connect();
    assert_eq!(src.ip(), IpAddr::V6(PROGRAM_V6));
    assert_eq!(dst, sa("[2001:db8::1]:443"));
    w.stack.accept(flow);
    w.pump();
    assert_eq!(w.program_socket(h).state(), tcp::State::Established);
}

#[test]
fn flow_limit_answers_rst() {
    let config = StackConfig {
        max_flows: 1,
        ..StackConfig::default()
    };
    let mut w = World::new(config);
    let _first = w.connect(sa("192.0.2.1:80"), 40005);
    w.pump();
    let _ = w.expect_connect();
    let second = w.connect(sa("192.0.2.2:80"), 40006);
    w.pump();
    assert_eq!(w.stack.next_event(), None);
    assert_eq!(w.program_socket(second).state(), tcp::State::Closed);
    assert_eq!(w.stack.counters().flows_over_limit, 1);
}

fn udp_packet(dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    reply::udp(SocketAddr::new(IpAddr::V4(PROGRAM_V4), 5353), dst, payload).unwrap()
}

#[test]
fn dns_query_event_and_reply() {
    let mut w = World::new(StackConfig::default());
    let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01";
    // Any resolver address works, and nothing leaves: it becomes an event.
    w.stack.receive(&udp_packet(sa("8.8.8.8:53"), query), w.now);
    let Some(Event::DnsQuery { src, dst, payload }) = w.stack.next_event() else {
        panic!("expected a DNS query");
    };
    assert_eq!((src.port(), dst), (5353, sa("8.8.8.8:53")));
    assert_eq!(payload, query);
    w.stack.reply_dns(src, dst, b"answer");
    let packet = w.stack.transmit().expect("a reply");
    let ip = Ipv4Packet::new_checked(&packet[..]).unwrap();
    assert_eq!(
        (ip.src_addr(), ip.dst_addr()),
        (Ipv4Addr::new(8, 8, 8, 8), PROGRAM_V4)
    );
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((udp.src_port(), udp.dst_port()), (53, 5353));
    assert_eq!(udp.payload(), b"answer");
    assert!(udp.verify_checksum(
        &IpAddress::Ipv4(ip.src_addr()),
        &IpAddress::Ipv4(ip.dst_addr())
    ));
    assert_eq!(w.stack.counters().dns_queries, 1);
}

#[test]
fn other_udp_gets_port_unreachable() {
    let mut w = World::new(StackConfig::default());
    let offending = udp_packet(sa("192.0.2.1:443"), b"quic");
    w.stack.receive(&offending, w.now);
    assert_eq!(w.stack.next_event(), None);
    let packet = w.stack.transmit().expect("an ICMP error");
    let ip = Ipv4Packet::new_checked(&packet[..]).unwrap();
    assert_eq!(ip.next_header(), IpProtocol::Icmp);
    assert_eq!(
        (ip.src_addr(), ip.dst_addr()),
        (Ipv4Addr::new(192, 0, 2, 1), PROGRAM_V4)
    );
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    let repr = Icmpv4Repr::parse(&icmp, &ChecksumCapabilities::default()).unwrap();
    assert!(matches!(repr, Icmpv4Repr::DstUnreachable { .. }));
    assert_eq!((icmp.msg_type(), icmp.msg_code()), (3.into(), 3));
    assert_eq!(w.stack.counters().drops.get(DropKind::Udp { port: 443 }), 1);
}

#[test]
fn icmp_echo_is_dropped_silently() {
    let mut w = World::new(StackConfig::default());
    let echo = [8u8, 0, 0xf7, 0xff, 0, 0, 0, 0];
    let ip = Ipv4Repr {
        src_addr: PROGRAM_V4,
        dst_addr: Ipv4Addr::new(192, 0, 2, 1),
        next_header: IpProtocol::Icmp,
        payload_len: echo.len(),
        hop_limit: 64,
    };
    let mut packet = vec![0u8; 20 + echo.len()];
    ip.emit(
        &mut Ipv4Packet::new_unchecked(&mut packet),
        &ChecksumCapabilities::default(),
    );
    packet[20..].copy_from_slice(&echo);
    w.stack.receive(&packet, w.now);
    w.stack.poll(w.now);
    assert_eq!(w.stack.transmit(), None);
    assert_eq!(w.stack.counters().drops.get(DropKind::Icmp), 1);
}

// Whatever a program writes to the TUN device, the stack neither panics nor answers
// with anything but refusals (RST, ICMP unreachable) when every connection is refused:
// random packets, biased to look like IPv4/IPv6 TCP, UDP and ICMP.
#[test]
fn arbitrary_packets_never_panic() {
    let mut stack = Stack::new(StackConfig::default(), Instant::from_millis(0));
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut refusals = 0;
    for i in 0..20_000 {
        let len = (next() % 80) as usize;
        let mut packet: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if len > 20 {
            packet[0] = if next() % 2 == 0 { 0x45 } else { 0x60 };
            packet[9] = [6u8, 17, 1][(next() % 3) as usize];
        }
        // Every other packet well formed (a SYN, or a datagram to a random port), and
        // half of those with one byte changed.
        if i % 2 == 0 {
            let v4 = next() % 2 == 0;
            let dst = if v4 {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(next() as u32)), next() as u16)
            } else {
                SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::from(u128::from(next()))),
                    next() as u16,
                )
            };
            let src = if v4 {
                IpAddr::V4(PROGRAM_V4)
            } else {
                IpAddr::V6(PROGRAM_V6)
            };
            let src = SocketAddr::new(src, 1024 + (next() % 60000) as u16);
            packet = if next() % 2 == 0 {
                tcp_syn(src, dst)
            } else {
                reply::udp(src, dst, b"x").unwrap()
            };
            if next() % 2 == 0 {
                let at = (next() as usize) % packet.len();
                packet[at] ^= 1 << (next() % 8);
            }
        }
        stack.receive(&packet, Instant::from_millis(i));
        stack.poll(Instant::from_millis(i));
        let mut refused = Vec::new();
        while let Some(event) = stack.next_event() {
            if let Event::Connect { flow, .. } = event {
                stack.refuse(flow);
                refused.push(flow);
            }
        }
        stack.poll(Instant::from_millis(i));
        while let Some(out) = stack.transmit() {
            assert!(is_refusal(&out), "packet {i} led to {out:02x?}");
            refusals += 1;
        }
        for flow in refused {
            stack.release(flow);
        }
    }
    assert!(
        refusals > 0,
        "no packet was answered at all: the check above saw nothing"
    );
}

/// A TCP SYN from `src` to `dst`, checksums right.
fn tcp_syn(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    use smoltcp::wire::{Ipv6Packet, Ipv6Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber};
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(1000),
        ack_number: None,
        window_len: 64240,
        window_scale: None,
        max_seg_size: Some(1460),
        sack_permitted: false,
        sack_ranges: [None, None, None],
        timestamp: None,
        payload: &[],
    };
    let caps = ChecksumCapabilities::default();
    let mut segment = vec![0u8; tcp.buffer_len()];
    tcp.emit(
        &mut TcpPacket::new_unchecked(&mut segment[..]),
        &IpAddress::from(src.ip()),
        &IpAddress::from(dst.ip()),
        &caps,
    );
    let mut buf;
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let ip = Ipv4Repr {
                src_addr: s,
                dst_addr: d,
                next_header: IpProtocol::Tcp,
                payload_len: segment.len(),
                hop_limit: 64,
            };
            buf = vec![0u8; ip.buffer_len()];
            ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]), &caps);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ip = Ipv6Repr {
                src_addr: s,
                dst_addr: d,
                next_header: IpProtocol::Tcp,
                payload_len: segment.len(),
                hop_limit: 64,
            };
            buf = vec![0u8; ip.buffer_len()];
            ip.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]));
        }
        _ => unreachable!("one family"),
    }
    buf.extend_from_slice(&segment);
    buf
}

/// A TCP segment with RST set, or an ICMP / ICMPv6 destination-unreachable message.
fn is_refusal(packet: &[u8]) -> bool {
    use smoltcp::wire::{IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket};
    let (protocol, payload) = match packet.first().map(|b| b >> 4) {
        Some(4) => match Ipv4Packet::new_checked(packet) {
            Ok(p) => (p.next_header(), p.payload().to_vec()),
            Err(_) => return false,
        },
        Some(6) => match Ipv6Packet::new_checked(packet) {
            Ok(p) => (p.next_header(), p.payload().to_vec()),
            Err(_) => return false,
        },
        _ => return false,
    };
    match protocol {
        IpProtocol::Tcp => TcpPacket::new_checked(&payload[..]).is_ok_and(|t| t.rst()),
        // Type 3 (IPv4) and 1 (IPv6): destination unreachable.
        IpProtocol::Icmp => payload.first() == Some(&3),
        IpProtocol::Icmpv6 => payload.first() == Some(&1),
        _ => false,
    }
}

#[test]
fn abandoned_connect_is_closed_and_never_takes_another_connection() {
    let mut w = World::new(StackConfig::default());
    let dst = sa("192.0.2.1:80");
    let abandoned = w.abandon(dst, 40010);
    assert!(w.stack.is_closed(abandoned), "the abandoned flow is over");

    // A new connection to the same destination from another port is a flow of its
    // own, not the abandoned one's socket (which would splice it onto that stream).
    let second = w.connect(dst, 40011);
    w.pump();
    let (flow, src, _) = w.expect_connect();
    assert_ne!(flow, abandoned);
    assert_eq!(src.port(), 40011);
    assert_eq!(
        w.program_socket(second).state(),
        tcp::State::SynSent,
        "held until its own stream is open"
    );
    w.stack.accept(flow);
    w.pump();
    assert_eq!(w.program_socket(second).state(), tcp::State::Established);
    w.program_socket(second).send_slice(b"mine").unwrap();
    w.pump();
    let mut buf = [0u8; 16];
    assert_eq!(w.stack.recv(flow, &mut buf), Received::Data(4));
    assert_eq!(w.stack.recv(abandoned, &mut buf), Received::Reset);
    w.stack.release(abandoned);
    assert_eq!(w.stack.flow_count(), 1);
}

#[test]
fn a_reset_before_the_syn_ack_frees_the_flow_for_the_limit() {
    let config = StackConfig {
        max_flows: 1,
        ..StackConfig::default()
    };
    let mut w = World::new(config);
    let dst = sa("192.0.2.1:80");
    let abandoned = w.abandon(dst, 40020);
    assert!(w.stack.is_closed(abandoned));
    w.stack.release(abandoned);
    w.stack.poll(w.now);
    let _second = w.connect(dst, 40021);
    w.pump();
    assert!(matches!(w.stack.next_event(), Some(Event::Connect { .. })));
    assert_eq!(w.stack.counters().flows_over_limit, 0);
}

#[test]
fn a_reset_is_told_apart_from_an_end() {
    let mut w = World::new(StackConfig::default());
    let (closing, resetting) = (
        w.connect(sa("192.0.2.1:80"), 40030),
        w.connect(sa("192.0.2.1:81"), 40031),
    );
    w.pump();
    let (a, _, _) = w.expect_connect();
    let (b, _, _) = w.expect_connect();
    w.stack.accept(a);
    w.stack.accept(b);
    w.pump();
    w.program_socket(closing).close();
    w.program_socket(resetting).abort();
    w.pump();
    let mut buf = [0u8; 8];
    assert_eq!(w.stack.recv(a, &mut buf), Received::End, "FIN");
    assert_eq!(w.stack.recv(b, &mut buf), Received::Reset, "RST");
}

/// The TCP checksum field of an IPv4 packet.
fn tcp_checksum_v4(packet: &[u8]) -> u16 {
    let start = usize::from(packet[0] & 0x0f) * 4;
    u16::from_be_bytes([packet[start + 16], packet[start + 17]])
}

#[test]
fn with_checksum_offload_tcp_checksums_are_neither_made_nor_checked() {
    let config = StackConfig {
        checksum_offload: true,
        ..StackConfig::default()
    };
    let mut w = World::new(config);
    let h = w.connect(sa("192.0.2.1:80"), 40030);
    w.pump();
    let (flow, _, _) = w.expect_connect();
    w.stack.accept(flow);
    let mut sent = w.pump();
    assert_eq!(w.program_socket(h).state(), tcp::State::Established);
    w.program_socket(h).send_slice(b"ping").unwrap();
    sent.extend(w.pump());
    let mut buf = [0u8; 8];
    assert_eq!(w.stack.recv(flow, &mut buf), Received::Data(4));
    assert_eq!(w.stack.send(flow, b"pong"), 4);
    sent.extend(w.pump());
    let n = w.program_socket(h).recv_slice(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    assert!(sent.len() >= 3, "SYN-ACK, ACK, data");
    for packet in &sent {
        assert_eq!(tcp_checksum_v4(packet), 0, "left to the device");
    }
}

#[test]
fn without_checksum_offload_a_bad_tcp_checksum_is_dropped() {
    let (src, dst) = (sa("10.241.0.2:40031"), sa("192.0.2.1:80"));
    let mut bad = tcp_syn(src, dst);
    let start = usize::from(bad[0] & 0x0f) * 4;
    bad[start + 16] ^= 0xff;
    for (offload, taken) in [(false, false), (true, true)] {
        let config = StackConfig {
            checksum_offload: offload,
            ..StackConfig::default()
        };
        let mut w = World::new(config);
        w.stack.receive(&bad, w.now);
        w.stack.poll(w.now);
        // The flow is made from the addresses before smoltcp sees the segment...
        let (flow, _, _) = w.expect_connect();
        w.stack.accept(flow);
        w.stack.poll(w.now);
        // ...which it took (and answers with its SYN-ACK) only with offload.
        let answered = std::iter::from_fn(|| w.stack.transmit()).count() > 0;
        assert_eq!(answered, taken, "offload {offload}: a SYN-ACK or nothing");
    }
}

#[test]
fn idle_flows_are_parked_and_come_back_for_a_segment_or_for_work() {
    let mut w = World::new(StackConfig::default());
    let mut conns = Vec::new();
    for port in 40040..40050 {
        let h = w.connect(sa("192.0.2.7:80"), port);
        w.pump();
        let (flow, _, _) = w.expect_connect();
        w.stack.accept(flow);
        conns.push((h, flow));
    }
    w.pump();
    w.now += PARK_INTERVAL;
    w.stack.poll(w.now);
    assert_eq!(
        w.stack.sockets.iter().count(),
        0,
        "every idle socket parked"
    );
    assert_eq!(w.stack.parked.iter().count(), 10);
    assert_eq!(
        w.stack.poll_delay(w.now),
        None,
        "no timer for parked sockets"
    );

    // The program writes on one: its segment brings the socket back.
    let (h, flow) = conns[3];
    w.program_socket(h).send_slice(b"hello").unwrap();
    w.pump();
    let mut buf = [0u8; 16];
    assert_eq!(w.stack.recv(flow, &mut buf), Received::Data(5));
    assert_eq!(w.stack.sockets.iter().count(), 1);

    // The caller sends on another: the socket comes back to send it.
    let (h, flow) = conns[7];
    assert_eq!(
        w.stack.recv(flow, &mut buf),
        Received::Nothing,
        "looking leaves it"
    );
    assert!(w.stack.flows[&flow].parked);
    assert_eq!(w.stack.send(flow, b"world"), 5);
    w.pump();
    let n = w.program_socket(h).recv_slice(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"world");

    // Both settle and are parked again; closing from either side still works.
    w.now += PARK_INTERVAL;
    w.stack.poll(w.now);
    assert_eq!(w.stack.parked.iter().count(), 10);
    let (h, flow) = conns[0];
    w.program_socket(h).close();
    w.pump();
    assert_eq!(w.stack.recv(flow, &mut buf), Received::End);
    let (h, flow) = conns[1];
    w.stack.close(flow);
    w.pump();
    assert!(!w.program_socket(h).may_recv(), "the program saw the FIN");
    let (h, flow) = conns[2];
    w.stack.abort(flow);
    w.pump();
    assert_eq!(w.program_socket(h).state(), tcp::State::Closed);
    assert!(w.stack.is_closed(flow));
    let (_, flow) = conns[9];
    w.stack.release(flow);
    assert_eq!(
        w.stack.parked.iter().count(),
        6,
        "a released parked socket is gone"
    );
    assert_eq!(w.stack.flow_count(), 9);
}

#[test]
fn a_socket_with_bytes_in_flight_is_not_parked() {
    let mut w = World::new(StackConfig::default());
    let h = w.connect(sa("192.0.2.8:80"), 40060);
    w.pump();
    let (flow, _, _) = w.expect_connect();
    w.stack.accept(flow);
    w.pump();
    // Queued for the program, not yet sent or acknowledged.
    assert_eq!(w.stack.send(flow, &[1u8; 3000]), 3000);
    w.now += PARK_INTERVAL;
    w.stack.poll(w.now);
    assert!(!w.stack.flows[&flow].parked);
    // Sent by that poll: the program takes all of it.
    w.pump();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = w.program_socket(h).recv_slice(&mut buf) {
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, vec![1u8; 3000]);
}

#[test]
fn a_burst_to_many_flows_waits_for_room_in_the_device_and_all_of_it_arrives() {
    let mut w = World::new(StackConfig {
        rx_buffer: 64 * 1024,
        tx_buffer: 64 * 1024,
        ..StackConfig::default()
    });
    let mut flows = Vec::new();
    for i in 0..40u16 {
        let h = w.connect(sa("192.0.2.1:80"), 40000 + i);
        w.pump();
        let (flow, _, _) = w.expect_connect();
        w.stack.accept(flow);
        w.pump();
        flows.push((flow, h));
    }
    // 40 flows × 64 KiB: about 1,800 segments of 1,460 bytes ready at once.
    for &(flow, _) in &flows {
        assert_eq!(w.stack.send(flow, &[7u8; 64 * 1024]), 64 * 1024);
    }
    w.now += Duration::from_millis(1);
    w.stack.poll(w.now);
    let queued = std::iter::from_fn(|| w.stack.transmit()).count();
    let limit = crate::device::buffers_within(crate::device::QUEUE_BYTES, 1500);
    assert!(queued > 0 && queued <= limit, "{queued} packets at once");
    assert!(queued < 40 * 64 * 1024 / 1460, "the burst was cut");
    // What did not fit goes out at the next polls: every byte reaches the program.
    let mut got = vec![0usize; flows.len()];
    for _ in 0..20 {
        w.pump();
        for (i, &(_, h)) in flows.iter().enumerate() {
            let mut buf = [0u8; 64 * 1024];
            while let Ok(n @ 1..) = w.program_socket(h).recv_slice(&mut buf) {
                got[i] += n;
            }
        }
        if got.iter().all(|&n| n == 64 * 1024) {
            break;
        }
    }
    assert!(got.iter().all(|&n| n == 64 * 1024), "{got:?}");
}
