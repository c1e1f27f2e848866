//! Which destinations name the machine itself. A CONNECT to one is refused before it
//! reaches Tor, as Tor refuses it (ClientRejectInternalAddresses): through Tor it could
//! only reach the exit relay's own services, and a SOCKS server that is not Tor (an
//! `ssh -D`, microsocks, danted) would take it to the host's. The decision does not
//! trust the upstream to read names as Tor does: a name with a NUL, whitespace or a
//! control character is refused outright (`localhost\0.example` is `localhost` to a C
//! resolver; `127.0.0.1 x` is 127.0.0.1 to inet_aton), as Tor's own check refuses it.

use std::net::{IpAddr, Ipv4Addr};

/// The names and addresses of this host beyond the fixed forms: its hostname, every name
/// its `/etc/hosts` maps to a loopback address, and its interfaces' addresses. Read once
/// at start ([`ThisMachine::read`]); empty, only the fixed forms count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ThisMachine {
    names: Vec<String>,
    addrs: Vec<IpAddr>,
}

impl ThisMachine {
    /// This host's, as the launcher sees them.
    pub(crate) fn read() -> ThisMachine {
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let addrs = nix::ifaddrs::getifaddrs()
            .map(|all| {
                all.filter_map(|i| i.address)
                    .filter_map(|a| {
                        a.as_sockaddr_in()
                            .map(|v4| IpAddr::V4(v4.ip()))
                            .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ThisMachine::from_parts(&hostname, &hosts, addrs)
    }

    /// From a hostname, the text of a hosts file and interface addresses.
    pub(crate) fn from_parts(hostname: &str, hosts: &str, addrs: Vec<IpAddr>) -> ThisMachine {
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        };
        add(hostname);
        for line in hosts.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut fields = line.split_whitespace();
            let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            if is_local(ip) || addrs.contains(&ip) {
                fields.for_each(&mut add);
            }
        }
        ThisMachine { names, addrs }
    }

    /// Whether `host` names this machine: [`names_this_machine`]'s forms, or one of
    /// this host's own names or addresses.
    pub(crate) fn named_by(&self, host: &[u8]) -> bool {
        if names_this_machine(host) {
            return true;
        }
        let text = String::from_utf8_lossy(host).to_ascii_lowercase();
        let text = text.trim_end_matches('.');
        if self.names.iter().any(|n| n == text) {
            return true;
        }
        parse_address(text).is_some_and(|ip| self.addrs.contains(&ip.to_canonical()))
    }
}

/// Whether `ip` is loopback or unspecified, in its IPv4-mapped forms too.
fn is_local(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    torsocks_core::addr::is_localhost(ip) || ip.is_unspecified()
}

/// The address `text` reads as to a resolver: an IP address (bracketed or not), or an
/// IPv4 address in any form inet_aton accepts.
fn parse_address(text: &str) -> Option<IpAddr> {
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        // A server that resolves with getaddrinfo reads "2130706433" or "0x7f.1" as
        // 127.0.0.1 (inet_aton's forms).
        Err(_) => inet_aton(bare).map(IpAddr::V4),
    }
}

/// Whether `host` names this machine: a loopback or unspecified address (in any form
/// inet_aton reads, IPv4-mapped too), `localhost` and its subdomains (RFC 6761 §6.3), or
/// a name no resolver should be handed (NUL, whitespace, control characters).
pub(crate) fn names_this_machine(host: &[u8]) -> bool {
    if host
        .iter()
        .any(|&b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return true;
    }
    let text = String::from_utf8_lossy(host).to_ascii_lowercase();
    let text = text.trim_end_matches('.');
    if text == "localhost" || text.ends_with(".localhost") {
        return true;
    }
    parse_address(text).is_some_and(is_local)
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
            "::ffff:0.0.0.0",
            "[::ffff:7f00:1]",
            "localhost\0.example",
            "127.0.0.1 x",
            "127.0.0.1\tx",
            "example.org\n",
        ] {
            assert!(names_this_machine(host.as_bytes()), "{host:?}");
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

    #[test]
    fn this_hosts_own_names_and_addresses() {
        let hosts = "127.0.0.1 localhost\n\
                     127.0.1.1 vm.example.lan vm # Debian's own line\n\
                     192.0.2.7 build-box\n\
                     198.51.100.9 elsewhere.example\n\
                     ::1 ip6-localhost\n\
                     garbage line\n";
        let here = ThisMachine::from_parts(
            "Workstation",
            hosts,
            vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()],
        );
        for host in [
            "workstation",
            "WORKSTATION.",
            "vm",
            "vm.example.lan",
            "build-box",
            "ip6-localhost",
            "192.0.2.7",
            "[2001:db8::7]",
            "::ffff:192.0.2.7",
            "3221225991",
            "127.0.0.1",
        ] {
            assert!(here.named_by(host.as_bytes()), "{host}");
        }
        for host in [
            "elsewhere.example",
            "198.51.100.9",
            "example.org",
            "vm.example",
        ] {
            assert!(!here.named_by(host.as_bytes()), "{host}");
        }
        assert!(!ThisMachine::default().named_by(b"workstation"));
    }
}
