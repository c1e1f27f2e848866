//! Packets the stack writes itself, outside any socket: DNS answers over UDP, and ICMP
//! port-unreachable errors for the UDP it drops (so programs fail fast).

use std::net::{IpAddr, SocketAddr};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Repr, Icmpv6DstUnreachable, Icmpv6Packet, Icmpv6Repr,
    IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, UdpPacket, UdpRepr,
};

const HOP_LIMIT: u8 = 64;
const UDP_HEADER: usize = 8;
/// How much of the offending packet's payload an ICMP error quotes: as much as fits in
/// the minimum datagram every host accepts (576 bytes for IPv4, RFC 1812; 1280 for
/// IPv6, RFC 4443), after the outer and quoted headers.
const QUOTED_V4: usize = 576 - 20 - 8 - 20;
const QUOTED_V6: usize = 1280 - 40 - 8 - 40;

/// A UDP datagram from `from` to `to` (same family) carrying `payload`.
pub fn udp(from: SocketAddr, to: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let caps = ChecksumCapabilities::default();
    let udp = UdpRepr {
        src_port: from.port(),
        dst_port: to.port(),
    };
    let udp_len = UDP_HEADER + payload.len();
    let (mut packet, offset) = match (from.ip(), to.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let ip = Ipv4Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: IpProtocol::Udp,
                payload_len: udp_len,
                hop_limit: HOP_LIMIT,
            };
            let mut buf = vec![0u8; ip.buffer_len() + udp_len];
            ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf), &caps);
            (buf, ip.buffer_len())
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let ip = Ipv6Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: IpProtocol::Udp,
                payload_len: udp_len,
                hop_limit: HOP_LIMIT,
            };
            let mut buf = vec![0u8; ip.buffer_len() + udp_len];
            ip.emit(&mut Ipv6Packet::new_unchecked(&mut buf));
            (buf, ip.buffer_len())
        }
        _ => return None,
    };
    udp.emit(
        &mut UdpPacket::new_unchecked(&mut packet[offset..]),
        &IpAddress::from(from.ip()),
        &IpAddress::from(to.ip()),
        payload.len(),
        |buf| buf.copy_from_slice(payload),
        &caps,
    );
    Some(packet)
}

/// The ICMP (or ICMPv6) port-unreachable error for `offending`, sent back to its source.
pub fn port_unreachable(offending: &[u8]) -> Option<Vec<u8>> {
    let caps = ChecksumCapabilities::default();
    match offending.first()? >> 4 {
        4 => {
            let packet = Ipv4Packet::new_checked(offending).ok()?;
            let header = Ipv4Repr::parse(&packet, &caps).ok()?;
            let payload = packet.payload();
            let icmp = Icmpv4Repr::DstUnreachable {
                reason: Icmpv4DstUnreachable::PortUnreachable,
                header,
                data: &payload[..payload.len().min(QUOTED_V4)],
            };
            let icmp_len = icmp.buffer_len();
            let ip = Ipv4Repr {
                src_addr: header.dst_addr,
                dst_addr: header.src_addr,
                next_header: IpProtocol::Icmp,
                payload_len: icmp_len,
                hop_limit: HOP_LIMIT,
            };
            let mut buf = vec![0u8; ip.buffer_len() + icmp_len];
            ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf), &caps);
            icmp.emit(
                &mut Icmpv4Packet::new_unchecked(&mut buf[ip.buffer_len()..]),
                &caps,
            );
            Some(buf)
        }
        6 => {
            let packet = Ipv6Packet::new_checked(offending).ok()?;
            let header = Ipv6Repr::parse(&packet).ok()?;
            let payload = packet.payload();
            let icmp = Icmpv6Repr::DstUnreachable {
                reason: Icmpv6DstUnreachable::PortUnreachable,
                header,
                data: &payload[..payload.len().min(QUOTED_V6)],
            };
            let icmp_len = icmp.buffer_len();
            let ip = Ipv6Repr {
                src_addr: header.dst_addr,
                dst_addr: header.src_addr,
                next_header: IpProtocol::Icmpv6,
                payload_len: icmp_len,
                hop_limit: HOP_LIMIT,
            };
            let mut buf = vec![0u8; ip.buffer_len() + icmp_len];
            ip.emit(&mut Ipv6Packet::new_unchecked(&mut buf));
            icmp.emit(
                &header.dst_addr,
                &header.src_addr,
                &mut Icmpv6Packet::new_unchecked(&mut buf[ip.buffer_len()..]),
                &caps,
            );
            Some(buf)
        }
        _ => None,
    }
}
