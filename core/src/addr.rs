//! Address classification (spec §1.3): localhost, ANY, the IPv4-mapped rule, and the
//! C library's `inet_aton` number syntax.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Applies the IPv4-mapped rule: `::ffff:a.b.c.d` is classified as `a.b.c.d` (D-4).
/// Every other address is returned unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// A localhost address: 127.0.0.0/8, `::1`, or `::ffff:127.0.0.0/104`.
pub fn is_localhost(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.octets()[0] == 127,
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST,
    }
}

/// An ANY address: `0.0.0.0`, `::`, `::ffff:0.0.0.0`.
pub fn is_any(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_unspecified(),
    }
}

/// Parses IPv4 text the way glibc's `inet_aton` does: one to four parts separated by
/// dots, each decimal, octal (leading `0`) or hexadecimal (leading `0x`); the last part
/// fills the remaining bytes (`127.1` is 127.0.0.1, `10.65535` is 10.0.255.255). Text
/// after the address is accepted only when it starts with a blank, as glibc does.
pub fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let text = match text.find(|c: char| c.is_ascii_whitespace()) {
        Some(at) => &text[..at],
        None => text,
    };
    if text.is_empty() {
        return None;
    }
    let mut parts = [0u64; 4];
    let mut count = 0;
    for part in text.split('.') {
        if count == 4 {
            return None;
        }
        parts[count] = parse_c_number(part)?;
        count += 1;
    }
    let (head, last) = (&parts[..count - 1], parts[count - 1]);
    if head.iter().any(|&p| p > 0xff) {
        return None;
    }
    let last_bits = 8 * (5 - count as u32);
    if last_bits < 64 && last >> last_bits != 0 {
        return None;
    }
    let mut value: u32 = 0;
    for (i, &p) in head.iter().enumerate() {
        value |= (p as u32) << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(value | last as u32))
}

/// One `inet_aton` part: `0x`/`0X` hexadecimal, leading-`0` octal, otherwise decimal.
/// Values that overflow 32 bits are rejected.
fn parse_c_number(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    // glibc accepts a bare "0x" as zero.
    if digits.is_empty() {
        return (radix == 16).then_some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|&v| v <= u32::MAX as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }
    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    // spec §1.3 "localhost address", D-4
    #[test]
    fn localhost_includes_mapped_loopback() {
        assert!(is_localhost(v4("127.0.0.1")));
        assert!(is_localhost(v4("127.255.0.9")));
        assert!(is_localhost(v6("::1")));
        assert!(is_localhost(v6("::ffff:127.0.0.1")));
        assert!(is_localhost(v6("::ffff:127.9.9.9")));
        assert!(!is_localhost(v4("128.0.0.1")));
        assert!(!is_localhost(v6("::2")));
        assert!(!is_localhost(v6("::ffff:192.0.2.1")));
    }

    // spec §1.3 "ANY address", V-6
    #[test]
    fn any_addresses() {
        assert!(is_any(v4("0.0.0.0")));
        assert!(is_any(v6("::")));
        assert!(is_any(v6("::ffff:0.0.0.0")));
        assert!(!is_any(v4("0.0.0.1")));
    }

    #[test]
    fn canonical_unwraps_only_mapped() {
        assert_eq!(canonical(v6("::ffff:192.0.2.1")), v4("192.0.2.1"));
        assert_eq!(canonical(v6("2001:db8::1")), v6("2001:db8::1"));
    }

    // spec §1.3 "numeric literal" (inet_aton forms), §2.3 OnionAddrRange
    #[test]
    fn inet_aton_forms() {
        let ok = |s: &str, want: &str| assert_eq!(inet_aton(s), Some(want.parse().unwrap()), "{s}");
        ok("203.0.113.5", "203.0.113.5");
        ok("127.1", "127.0.0.1");
        ok("10.65535", "10.0.255.255");
        ok("10.1.513", "10.1.2.1");
        ok("2130706433", "127.0.0.1");
        ok("0x7f.1", "127.0.0.1");
        ok("0177.0.0.1", "127.0.0.1");
        ok("1.2.3.4 trailing", "1.2.3.4");
        ok("255.255.255.255", "255.255.255.255");
        for bad in [
            "",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "a.b.c.d",
            "08.1.1.1",
            "1..2",
            "1.2.3.",
            "-1.2.3.4",
            "4294967296",
            "1.16777216.0",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad:?}");
        }
    }
}
