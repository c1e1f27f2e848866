//! What the stack does with one IP packet from the TUN device.
//!
//! Every packet is either part of a TCP flow (terminated by the stack and forwarded
//! through Tor), a DNS query (UDP to port 53 at any address: answered by the stack, so
//! programs with a hard-coded resolver work and nothing leaves), or dropped. Drops are
//! counted by kind for the `--stats` summary; non-DNS UDP is answered with ICMP port
//! unreachable so that programs fail fast instead of waiting for a timeout.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use smoltcp::wire::{IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket};

/// The DNS port.
pub const DNS_PORT: u16 = 53;

/// Where a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A TCP segment; `syn` marks a connection attempt (SYN without ACK).
    Tcp {
        /// The program's end.
        src: SocketAddr,
        /// The destination the program asked for.
        dst: SocketAddr,
        /// A new connection attempt.
        syn: bool,
    },
    /// A DNS query over UDP.
    DnsQuery {
        /// The program's end.
        src: SocketAddr,
        /// The resolver address the program used.
        dst: SocketAddr,
    },
    /// Dropped.
    Drop(DropKind),
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropKind {
    /// UDP to a port other than 53 (answered with ICMP port unreachable).
    Udp {
        /// The destination port.
        port: u16,
    },
    /// ICMP or ICMPv6 (echo requests included: ping does not go through Tor).
    Icmp,
    /// Any other transport protocol.
    Other {
        /// The IP protocol number.
        protocol: u8,
    },
    /// Not a well-formed IPv4 or IPv6 packet.
    Malformed,
}

/// Classifies one raw IP packet (no link-layer header, as read from a TUN device).
pub fn classify(packet: &[u8]) -> Verdict {
    let Some((src, dst, protocol, payload)) = ip_parts(packet) else {
        return Verdict::Drop(DropKind::Malformed);
    };
    match protocol {
        IpProtocol::Tcp => match TcpPacket::new_checked(payload) {
            Ok(tcp) => Verdict::Tcp {
                src: SocketAddr::new(src, tcp.src_port()),
                dst: SocketAddr::new(dst, tcp.dst_port()),
                syn: tcp.syn() && !tcp.ack(),
            },
            Err(_) => Verdict::Drop(DropKind::Malformed),
        },
        IpProtocol::Udp => match UdpPacket::new_checked(payload) {
            Ok(udp) if udp.dst_port() == DNS_PORT => Verdict::DnsQuery {
                src: SocketAddr::new(src, udp.src_port()),
                dst: SocketAddr::new(dst, udp.dst_port()),
            },
            Ok(udp) => Verdict::Drop(DropKind::Udp {
                port: udp.dst_port(),
            }),
            Err(_) => Verdict::Drop(DropKind::Malformed),
        },
        IpProtocol::Icmp | IpProtocol::Icmpv6 => Verdict::Drop(DropKind::Icmp),
        other => Verdict::Drop(DropKind::Other {
            protocol: u8::from(other),
        }),
    }
}

/// The UDP payload of a packet [`classify`] called a DNS query (IPv4 options and the
/// UDP length field respected).
pub fn udp_payload(packet: &[u8]) -> Option<&[u8]> {
    let (_, _, protocol, transport) = ip_parts(packet)?;
    if protocol != IpProtocol::Udp {
        return None;
    }
    let udp = UdpPacket::new_checked(transport).ok()?;
    let len = usize::from(udp.len());
    transport.get(8..len)
}

/// Source, destination, transport protocol and transport payload of an IP packet.
fn ip_parts(packet: &[u8]) -> Option<(IpAddr, IpAddr, IpProtocol, &[u8])> {
    match packet.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(packet).ok()?;
            let header = usize::from(ip.header_len());
            let total = usize::from(ip.total_len());
            Some((
                IpAddr::V4(ip.src_addr()),
                IpAddr::V4(ip.dst_addr()),
                ip.next_header(),
                packet.get(header..total)?,
            ))
        }
        6 => {
            let ip = Ipv6Packet::new_checked(packet).ok()?;
            let payload_len = usize::from(ip.payload_len());
            Some((
                IpAddr::V6(ip.src_addr()),
                IpAddr::V6(ip.dst_addr()),
                ip.next_header(),
                packet.get(40..40 + payload_len)?,
            ))
        }
        _ => None,
    }
}

/// Dropped packets by kind, for the session summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounters {
    counts: BTreeMap<DropKind, u64>,
}

impl DropCounters {
    /// Counts one drop.
    pub fn record(&mut self, kind: DropKind) {
        *self.counts.entry(kind).or_insert(0) += 1;
    }

    /// The count of one kind.
    pub fn get(&self, kind: DropKind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// Every kind seen, in order, with its count.
    pub fn iter(&self) -> impl Iterator<Item = (DropKind, u64)> + '_ {
        self.counts.iter().map(|(k, v)| (*k, *v))
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        IpAddress, Ipv4Repr, Ipv6Repr, TcpControl, TcpRepr, TcpSeqNumber, UdpRepr,
    };

    const CLIENT4: [u8; 4] = [10, 0, 0, 2];
    const SERVER4: [u8; 4] = [192, 0, 2, 1];

    fn tcp_repr(control: TcpControl, ack: bool) -> TcpRepr<'static> {
        TcpRepr {
            src_port: 40000,
            dst_port: 443,
            control,
            seq_number: TcpSeqNumber(1),
            ack_number: ack.then_some(TcpSeqNumber(7)),
            window_len: 64240,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        }
    }

    fn ipv4(protocol: IpProtocol, transport: &[u8]) -> Vec<u8> {
        let repr = Ipv4Repr {
            src_addr: CLIENT4.into(),
            dst_addr: SERVER4.into(),
            next_header: protocol,
            payload_len: transport.len(),
            hop_limit: 64,
        };
        let mut buf = vec![0u8; repr.buffer_len() + transport.len()];
        repr.emit(
            &mut Ipv4Packet::new_unchecked(&mut buf),
            &ChecksumCapabilities::default(),
        );
        buf[repr.buffer_len()..].copy_from_slice(transport);
        buf
    }

    fn tcp_bytes(repr: &TcpRepr, src: IpAddress, dst: IpAddress) -> Vec<u8> {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut buf),
            &src,
            &dst,
            &ChecksumCapabilities::default(),
        );
        buf
    }

    fn udp_bytes(dst_port: u16, src: IpAddress, dst: IpAddress) -> Vec<u8> {
        let repr = UdpRepr {
            src_port: 5555,
            dst_port,
        };
        let payload = b"query";
        let mut buf = vec![0u8; repr.header_len() + payload.len()];
        repr.emit(
            &mut UdpPacket::new_unchecked(&mut buf),
            &src,
            &dst,
            payload.len(),
            |p| p.copy_from_slice(payload),
            &ChecksumCapabilities::default(),
        );
        buf
    }

    fn v4(a: [u8; 4]) -> IpAddress {
        IpAddress::Ipv4(a.into())
    }

    #[test]
    fn tcp_syn_and_data() {
        let syn = tcp_bytes(&tcp_repr(TcpControl::Syn, false), v4(CLIENT4), v4(SERVER4));
        assert_eq!(
            classify(&ipv4(IpProtocol::Tcp, &syn)),
            Verdict::Tcp {
                src: "10.0.0.2:40000".parse().unwrap(),
                dst: "192.0.2.1:443".parse().unwrap(),
                syn: true
            }
        );
        let ack = tcp_bytes(&tcp_repr(TcpControl::None, true), v4(CLIENT4), v4(SERVER4));
        assert!(matches!(
            classify(&ipv4(IpProtocol::Tcp, &ack)),
            Verdict::Tcp { syn: false, .. }
        ));
    }

    #[test]
    fn udp_dns_and_others() {
        let dns = udp_bytes(53, v4(CLIENT4), v4(SERVER4));
        assert_eq!(
            classify(&ipv4(IpProtocol::Udp, &dns)),
            Verdict::DnsQuery {
                src: "10.0.0.2:5555".parse().unwrap(),
                dst: "192.0.2.1:53".parse().unwrap()
            }
        );
        let quic = udp_bytes(443, v4(CLIENT4), v4(SERVER4));
        assert_eq!(
            classify(&ipv4(IpProtocol::Udp, &quic)),
            Verdict::Drop(DropKind::Udp { port: 443 })
        );
    }

    #[test]
    fn ipv6_tcp() {
        let (src, dst): (std::net::Ipv6Addr, std::net::Ipv6Addr) =
            ("fd00::2".parse().unwrap(), "2001:db8::1".parse().unwrap());
        let tcp = tcp_bytes(
            &tcp_repr(TcpControl::Syn, false),
            IpAddress::Ipv6(src),
            IpAddress::Ipv6(dst),
        );
        let repr = Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.len(),
            hop_limit: 64,
        };
        let mut buf = vec![0u8; repr.buffer_len() + tcp.len()];
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf));
        buf[repr.buffer_len()..].copy_from_slice(&tcp);
        assert_eq!(
            classify(&buf),
            Verdict::Tcp {
                src: "[fd00::2]:40000".parse().unwrap(),
                dst: "[2001:db8::1]:443".parse().unwrap(),
                syn: true
            }
        );
    }

    #[test]
    fn icmp_other_and_garbage() {
        assert_eq!(
            classify(&ipv4(IpProtocol::Icmp, &[8, 0, 0, 0, 0, 0, 0, 0])),
            Verdict::Drop(DropKind::Icmp)
        );
        assert_eq!(
            classify(&ipv4(IpProtocol::Unknown(132), &[0; 12])),
            Verdict::Drop(DropKind::Other { protocol: 132 })
        );
        for garbage in [&[][..], &[0x45][..], &[0x60, 0, 0][..], &[0x10; 40][..]] {
            assert_eq!(classify(garbage), Verdict::Drop(DropKind::Malformed));
        }
        // A TCP header cut short is malformed, not a flow.
        assert_eq!(
            classify(&ipv4(IpProtocol::Tcp, &[0; 10])),
            Verdict::Drop(DropKind::Malformed)
        );
    }

    #[test]
    fn counters() {
        let mut c = DropCounters::default();
        c.record(DropKind::Udp { port: 443 });
        c.record(DropKind::Udp { port: 443 });
        c.record(DropKind::Icmp);
        assert_eq!(c.get(DropKind::Udp { port: 443 }), 2);
        assert_eq!(c.total(), 3);
        assert_eq!(c.iter().count(), 2);
    }
}
