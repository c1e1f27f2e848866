//! Which destinations name the machine itself. A CONNECT to one is refused before it
//! reaches Tor, as Tor refuses it (ClientRejectInternalAddresses): through Tor it could
//! only reach the exit relay's own services, and a SOCKS server that is not Tor would take
//! it to the host's.

use std::net::{IpAddr, Ipv4Addr};

/// Whether `host` names this machine: a loopback or unspecified address (in any form
/// inet_aton reads), or `localhost` and its subdomains (RFC 6761 §6.3).
pub(crate) fn names_this_machine(host: &[u8]) -> bool {
    let text = String::from_utf8_lossy(host).to_ascii_lowercase();
    let text = text.trim_end_matches('.');
    if text == "localhost" || text.ends_with(".localhost") {
        return true;
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    let ip = match bare.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        // A server that resolves with getaddrinfo reads "2130706433" or "0x7f.1" as
        // 127.0.0.1 (inet_aton's forms).
        Err(_) => inet_aton(bare).map(IpAddr::V4),
    };
    ip.is_some_and(|ip| torsocks_core::addr::is_localhost(ip) || ip.is_unspecified())
}

/// The IPv4 address of `text` in any form inet_aton(3) accepts: one to four parts, each
/// decimal, octal (leading 0) or hexadecimal (0x), the last filling the remaining bytes.
fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<u32> = text
        .split('.')
        .map(|part| {
            let (digits, radix) = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X"))
            {
                Some(hex) => (hex, 16),
                None if part.len() > 1 && part.starts_with('0') => (&part[1..], 8),
                None => (part, 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            u32::from_str_radix(digits, radix).ok()
        })
        .collect::<Option<_>>()?;
    let (last, head) = parts.split_last()?;
    if head.len() > 3 || head.iter().any(|&p| p > 255) {
        return None;
    }
    let room = 32 - 8 * head.len() as u32;
    if room < 32 && u64::from(*last) >= 1u64 << room {
        return None;
    }
    let value = head
        .iter()
        .enumerate()
        .fold(u64::from(*last), |v, (i, &p)| {
            v | u64::from(p) << (24 - 8 * i)
        });
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_forms() {
        let aton = |t| inet_aton(t).map(|a| a.to_string());
        assert_eq!(aton("2130706433").as_deref(), Some("127.0.0.1"));
        assert_eq!(aton("127.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(aton("10.1.2").as_deref(), Some("10.1.0.2"));
        assert_eq!(aton("0x7f.0.0.01").as_deref(), Some("127.0.0.1"));
        assert_eq!(aton("0300.0250.1.1").as_deref(), Some("192.168.1.1"));
        assert_eq!(aton("256.1.1.1"), None);
        assert_eq!(aton("1.2.256"), Some("1.2.1.0".to_string()));
        assert_eq!(aton("1.2.65536"), None);
        assert_eq!(aton("4294967296"), None);
        assert_eq!(aton("08.1.1.1"), None, "8 is no octal digit");
        assert_eq!(aton("example"), None);
    }

    #[test]
    fn this_machine_by_any_name() {
        for host in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "::",
            "localhost",
            "LOCALHOST.",
            "db.localhost",
            "2130706433",
            "0x7f000001",
            "0x7f.1",
            "127.1",
            "0177.0.0.1",
            "0",
        ] {
            assert!(names_this_machine(host.as_bytes()), "{host}");
        }
        for host in [
            "192.0.2.1",
            "10.0.0.1",
            "example.org",
            "localhost.example",
            "notlocalhost",
        ] {
            assert!(!names_this_machine(host.as_bytes()), "{host}");
        }
    }
}
