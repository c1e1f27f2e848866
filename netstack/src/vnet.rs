//! The virtio-net header that precedes every packet on a TUN device opened with
//! `IFF_VNET_HDR`, and what it buys: no TCP checksum is computed or verified on either
//! side of the device.
//!
//! Over a TUN device no bit can flip, so a TCP checksum is only work: the program's
//! kernel sums every byte it sends, the stack verifies it, the stack sums every byte it
//! sends and the program's kernel verifies it again. With the header, each side says
//! instead "checksum still to be completed" (`VIRTIO_NET_HDR_F_NEEDS_CSUM`, the kernel's
//! `CHECKSUM_PARTIAL`), which a receiver on the same machine takes as verified:
//!
//! * outbound, [`outbound_header`] puts only the pseudo-header's sum in a TCP segment's
//!   checksum field (as a NIC with checksum offload expects it) and flags the segment;
//!   the stack runs with TCP checksums off ([`crate::stack::StackConfig::checksum_offload`]);
//! * inbound, the launcher allows the kernel to send such segments (`TUN_F_CSUM`), and
//!   [`inbound`] strips the header; the stack does not verify TCP or UDP checksums,
//!   which a program can only get wrong on its own connections.
//!
//! Packets other than TCP (the stack's ICMP and DNS replies) carry a full checksum and a
//! header that says nothing. Segmentation offload is not negotiated: the MTU already
//! allows 64 KiB packets.
//!
//! Layout (`struct virtio_net_hdr`, linux/virtio_net.h; the legacy header a TUN device
//! uses, in the host's byte order unless `TUNSETVNETLE/BE` says otherwise): flags,
//! gso_type (one byte each), hdr_len, gso_size, csum_start, csum_offset (two each).

use smoltcp::wire::IpProtocol;

/// The header's length (`sizeof(struct virtio_net_hdr)`, a TUN device's default).
pub const HEADER_LEN: usize = 10;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` covers
/// only the pseudo-header; the rest is to be summed from `csum_start` on.
const NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_NONE`.
const GSO_NONE: u8 = 0;
/// Where a TCP header keeps its checksum (RFC 9293 §3.1).
const TCP_CHECKSUM_AT: usize = 16;
/// The fixed IPv6 header (RFC 8200 §3); the stack sends no extension headers.
const IPV6_HEADER_LEN: usize = 40;

/// The header for `packet`, an IP packet the stack is about to write. A TCP segment's
/// checksum field is set to its pseudo-header's sum and the header flags it to be
/// completed; any other packet is written as it is, behind an empty header.
pub fn outbound_header(packet: &mut [u8]) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let Some((start, pseudo)) = tcp_segment(packet) else {
        return header;
    };
    let at = start + TCP_CHECKSUM_AT;
    packet[at..at + 2].copy_from_slice(&pseudo.to_be_bytes());
    header[0] = NEEDS_CSUM;
    header[1] = GSO_NONE;
    header[6..8].copy_from_slice(&(start as u16).to_ne_bytes());
    header[8..10].copy_from_slice(&(TCP_CHECKSUM_AT as u16).to_ne_bytes());
    header
}

/// The IP packet in `buf`, as read from the device (header first); `None` for a read
/// too short to hold the header, or a segmentation-offload packet, which is never
/// negotiated.
pub fn inbound(buf: &[u8]) -> Option<&[u8]> {
    let (header, packet) = buf.split_at_checked(HEADER_LEN)?;
    (header[1] == GSO_NONE).then_some(packet)
}

/// Where the TCP header of `packet` starts and its pseudo-header's sum, if `packet` is a
/// whole TCP segment over IPv4 or IPv6.
fn tcp_segment(packet: &[u8]) -> Option<(usize, u16)> {
    let (start, src, dst, total) = match packet.first()? >> 4 {
        4 => {
            let start = usize::from(packet[0] & 0x0f) * 4;
            if packet.get(9).copied()? != u8::from(IpProtocol::Tcp) {
                return None;
            }
            let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
            (start, packet.get(12..16)?, packet.get(16..20)?, total)
        }
        6 => {
            if packet.get(6).copied()? != u8::from(IpProtocol::Tcp) {
                return None;
            }
            let payload = usize::from(u16::from_be_bytes([*packet.get(4)?, *packet.get(5)?]));
            let (src, dst) = (packet.get(8..24)?, packet.get(24..40)?);
            (IPV6_HEADER_LEN, src, dst, IPV6_HEADER_LEN + payload)
        }
        _ => return None,
    };
    if total != packet.len() || start < 20 || start + TCP_CHECKSUM_AT + 2 > total {
        return None;
    }
    // The pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1): both addresses, the protocol
    // and the TCP length, summed as 16-bit words in one's complement.
    let length = (total - start) as u32;
    let sum = sum_words(src) + sum_words(dst) + u32::from(u8::from(IpProtocol::Tcp)) + length;
    Some((start, fold(sum)))
}

/// The sum of `bytes` as big-endian 16-bit words (a last odd byte padded with zero),
/// carries not yet folded.
fn sum_words(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum()
}

/// A sum folded to 16 bits in one's complement (RFC 1071 §4.1).
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        IpAddress, IpRepr, Ipv4Address, Ipv6Address, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    };

    /// A TCP segment from `src` to `dst` with a full checksum, as a NIC without offload
    /// would see it.
    fn segment(src: IpAddress, dst: IpAddress, payload: &[u8]) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: 80,
            dst_port: 40000,
            control: TcpControl::Psh,
            seq_number: TcpSeqNumber(1234),
            ack_number: Some(TcpSeqNumber(99)),
            window_len: 1000,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None, None, None],
            timestamp: None,
            payload,
        };
        let ip = IpRepr::new(src, dst, IpProtocol::Tcp, tcp.buffer_len(), 64);
        let mut packet = vec![0u8; ip.buffer_len()];
        let caps = ChecksumCapabilities::default();
        ip.emit(&mut packet[..], &caps);
        let start = ip.header_len();
        let mut seg = TcpPacket::new_unchecked(&mut packet[start..]);
        tcp.emit(&mut seg, &src, &dst, &caps);
        packet
    }

    /// What the receiving kernel would compute, were it to complete the checksum.
    fn complete(packet: &mut [u8], header: &[u8; HEADER_LEN]) {
        assert_eq!(header[0], NEEDS_CSUM);
        let start = usize::from(u16::from_ne_bytes([header[6], header[7]]));
        let at = start + usize::from(u16::from_ne_bytes([header[8], header[9]]));
        let sum = !fold(sum_words(&packet[start..]));
        packet[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    }

    #[test]
    fn a_completed_partial_checksum_is_the_full_checksum() {
        let v4 = (
            IpAddress::Ipv4(Ipv4Address::new(10, 241, 0, 1)),
            IpAddress::Ipv4(Ipv4Address::new(10, 241, 0, 2)),
        );
        let v6 = (
            IpAddress::Ipv6(Ipv6Address::new(0xfd74, 0x6f72, 0, 0, 0, 0, 0, 1)),
            IpAddress::Ipv6(Ipv6Address::new(0xfd74, 0x6f72, 0, 0, 0, 0, 0, 2)),
        );
        for (src, dst) in [v4, v6] {
            for payload in [&b""[..], b"odd", &[0xff; 1461]] {
                let reference = segment(src, dst, payload);
                let mut packet = reference.clone();
                let start = if src.version() == smoltcp::wire::IpVersion::Ipv4 {
                    20
                } else {
                    40
                };
                // As the stack emits it with checksums off.
                packet[start + 16..start + 18].fill(0);
                let header = outbound_header(&mut packet);
                assert_ne!(packet, reference, "only the pseudo-header's sum so far");
                complete(&mut packet, &header);
                assert_eq!(packet, reference);
            }
        }
    }

    #[test]
    fn other_packets_go_with_an_empty_header() {
        let mut udp = segment(
            IpAddress::Ipv4(Ipv4Address::new(10, 241, 0, 1)),
            IpAddress::Ipv4(Ipv4Address::new(10, 241, 0, 2)),
            b"x",
        );
        udp[9] = u8::from(IpProtocol::Udp);
        let before = udp.clone();
        assert_eq!(outbound_header(&mut udp), [0; HEADER_LEN]);
        assert_eq!(udp, before, "untouched");
        let mut short = before[..30].to_vec();
        short[9] = u8::from(IpProtocol::Tcp);
        assert_eq!(outbound_header(&mut short), [0; HEADER_LEN], "truncated");
        assert_eq!(outbound_header(&mut []), [0; HEADER_LEN]);
    }

    #[test]
    fn inbound_strips_the_header_and_refuses_segmentation_offload() {
        let mut buf = vec![0u8; HEADER_LEN];
        buf.extend_from_slice(b"\x45packet");
        assert_eq!(inbound(&buf), Some(&b"\x45packet"[..]));
        buf[0] = NEEDS_CSUM;
        assert_eq!(inbound(&buf), Some(&b"\x45packet"[..]));
        buf[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4
        assert_eq!(inbound(&buf), None);
        assert_eq!(inbound(&buf[..5]), None);
    }
}
