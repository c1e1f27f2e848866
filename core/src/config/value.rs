//! Validation of directive values (spec §2.3). The same functions serve the file and the
//! environment, so `TorPort 0` and `TORSOCKS_TOR_PORT=0` fail the same way.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::{directive, Config, ConfigErrorKind, OutboundLocalhost, TorAddr};
use crate::addr::inet_aton;
use crate::onion::OnionRange;

/// The longest SOCKS5 username or password RFC 1929 can carry.
pub const MAX_CREDENTIAL_LEN: usize = 255;

/// `TorAddress`: an IPv4 dotted quad or IPv6 text as `inet_pton` accepts it.
pub fn tor_address(value: &str) -> Result<IpAddr, ConfigErrorKind> {
    // Rust's parsers follow inet_pton: no brackets, no scope, no short IPv4 forms.
    value
        .parse::<IpAddr>()
        .map_err(|_| ConfigErrorKind::InvalidTorAddress(value.to_string()))
}

/// `TorPort`: optional leading blanks and `+`, decimal digits whose value is 1..65535;
/// anything after the digits is ignored (`9050abc` is 9050, as in the C original).
pub fn tor_port(value: &str) -> Result<u16, ConfigErrorKind> {
    let invalid = || ConfigErrorKind::InvalidPort(value.to_string());
    let rest = value.trim_start_matches(is_c_space);
    let rest = rest.strip_prefix('+').unwrap_or(rest);
    let digits: &str = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
    if digits.is_empty() {
        return Err(invalid());
    }
    let number = digits
        .bytes()
        .try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
        .filter(|n| (1..=65535).contains(n))
        .ok_or_else(invalid)?;
    Ok(number as u16)
}

/// `OnionAddrRange`: `<ipv4>/<mask>` with any `inet_aton` address except
/// 255.255.255.255 and a decimal mask 1..32.
pub fn onion_range(value: &str) -> Result<OnionRange, ConfigErrorKind> {
    let Some((ip, mask)) = value.split_once('/') else {
        return Err(ConfigErrorKind::OnionRangeSyntax(value.to_string()));
    };
    let base = inet_aton(ip)
        .filter(|a| *a != Ipv4Addr::BROADCAST)
        .ok_or_else(|| ConfigErrorKind::OnionRangeSubnet(ip.to_string()))?;
    let prefix = Some(mask)
        .filter(|m| !m.is_empty() && m.len() <= 2 && m.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|m| m.parse::<u8>().ok())
        .filter(|m| (1..=32).contains(m))
        .ok_or_else(|| ConfigErrorKind::OnionRangeMask(mask.to_string()))?;
    Ok(OnionRange::new(base, prefix))
}

/// `SOCKS5Username` / `SOCKS5Password`: at most 255 bytes.
pub fn credential(directive: &'static str, value: &[u8]) -> Result<Vec<u8>, ConfigErrorKind> {
    if value.len() > MAX_CREDENTIAL_LEN {
        return Err(ConfigErrorKind::TooLong { directive });
    }
    Ok(value.to_vec())
}

/// Reads an integer as C's `atoi` does: leading blanks, an optional sign, digits, and
/// the rest ignored; no digits reads as 0. Out-of-range values saturate.
pub fn atoi(value: &str) -> i64 {
    let rest = value.trim_start_matches(is_c_space);
    let (negative, rest) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let magnitude = rest
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, d| {
            acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// An integer directive: `atoi(value)` must lie in `range`.
fn integer(
    directive: &'static str,
    value: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigErrorKind> {
    let n = atoi(value);
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(ConfigErrorKind::InvalidSwitch {
            directive,
            value: value.to_string(),
        })
    }
}

/// A switch directive: `atoi(value)` must be in `0..=max`.
fn switch(directive: &'static str, value: &str, max: i64) -> Result<i64, ConfigErrorKind> {
    integer(directive, value, 0..=max)
}

/// A timeout in whole seconds, 1..=3600 (the integer rule of the switches).
fn seconds(directive: &'static str, value: &str) -> Result<u32, ConfigErrorKind> {
    integer(directive, value, 1..=3600).map(|n| n as u32)
}

/// Validates `value` for directive `name` and stores it in `config`.
///
/// Returns `Ok(false)` when `name` is not a directive (the caller warns, CF-10).
pub fn apply(config: &mut Config, name: &str, value: &[u8]) -> Result<bool, ConfigErrorKind> {
    let text = String::from_utf8_lossy(value);
    match name {
        directive::TOR_ADDRESS => match text.trim().strip_prefix("unix:") {
            Some(path) => config.tor_socket = Some(socket_path(directive::TOR_ADDRESS, path)?),
            None => {
                config.tor_address = tor_address(&text)?;
                config.tor_socket = None;
            }
        },
        directive::TOR_SOCKET => {
            let path = text.trim();
            let path = path.strip_prefix("unix:").unwrap_or(path);
            config.tor_socket = Some(socket_path(directive::TOR_SOCKET, path)?)
        }
        directive::TOR_PORT => config.tor_port = tor_port(&text)?,
        directive::ONION_ADDR_RANGE => config.onion_range = onion_range(&text)?,
        directive::SOCKS5_USERNAME => {
            config.socks5_username = Some(credential(directive::SOCKS5_USERNAME, value)?)
        }
        directive::SOCKS5_PASSWORD => {
            config.socks5_password = Some(credential(directive::SOCKS5_PASSWORD, value)?)
        }
        directive::ALLOW_INBOUND => {
            config.allow_inbound = switch(directive::ALLOW_INBOUND, &text, 1)? == 1
        }
        directive::ALLOW_OUTBOUND_LOCALHOST => {
            config.allow_outbound_localhost =
                match switch(directive::ALLOW_OUTBOUND_LOCALHOST, &text, 2)? {
                    0 => OutboundLocalhost::Deny,
                    1 => OutboundLocalhost::Tcp,
                    _ => OutboundLocalhost::TcpAndUdp,
                }
        }
        directive::ISOLATE_PID => {
            config.isolate_pid = switch(directive::ISOLATE_PID, &text, 1)? == 1
        }
        directive::ENABLE_IPV6 => {
            config.enable_ipv6 = switch(directive::ENABLE_IPV6, &text, 1)? == 1
        }
        directive::CONNECT_TIMEOUT => {
            config.connect_timeout = Some(seconds(directive::CONNECT_TIMEOUT, &text)?)
        }
        directive::RESOLVE_TIMEOUT => {
            config.resolve_timeout = Some(seconds(directive::RESOLVE_TIMEOUT, &text)?)
        }
        directive::TOR_CONTROL_PORT => config.control_port = Some(control_port(&text)?),
        directive::TOR_CONTROL_SOCKET => {
            config.control_port = Some(control_socket(directive::TOR_CONTROL_SOCKET, &text)?)
        }
        directive::TOR_CONTROL_PASSWORD => {
            config.control_password = Some(credential(directive::TOR_CONTROL_PASSWORD, value)?)
        }
        directive::TOR_CONTROL_COOKIE => {
            use std::os::unix::ffi::OsStrExt;
            config.control_cookie =
                Some(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(value)))
        }
        directive::TOR_CLIENT => {
            config.tor_client =
                super::TorClient::parse(&text).ok_or_else(|| ConfigErrorKind::InvalidSwitch {
                    directive: directive::TOR_CLIENT,
                    value: text.trim().to_string(),
                })?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `TorControlPort`: `ADDR:PORT` (IPv6 in brackets), a port on 127.0.0.1, or
/// `unix:PATH` (an absolute path), as in torrc's own `ControlPort`.
pub fn control_port(text: &str) -> Result<TorAddr, ConfigErrorKind> {
    let text = text.trim();
    if let Some(path) = text.strip_prefix("unix:") {
        return control_socket(directive::TOR_CONTROL_PORT, path);
    }
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        if addr.port() != 0 {
            return Ok(TorAddr::Tcp(addr));
        }
    }
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(TorAddr::Tcp(std::net::SocketAddr::from((
            std::net::Ipv4Addr::LOCALHOST,
            port,
        )))),
        _ => Err(ConfigErrorKind::InvalidSwitch {
            directive: directive::TOR_CONTROL_PORT,
            value: text.to_string(),
        }),
    }
}

/// `TorControlSocket` (or `unix:` in `TorControlPort`): an absolute path.
fn control_socket(directive: &'static str, path: &str) -> Result<TorAddr, ConfigErrorKind> {
    socket_path(directive, path).map(TorAddr::Unix)
}

/// The path of a Unix socket: absolute, and short enough for `sun_path`.
fn socket_path(directive: &'static str, path: &str) -> Result<PathBuf, ConfigErrorKind> {
    let path = path.trim();
    // sun_path holds 108 bytes, the last a NUL.
    match path.starts_with('/') && path.len() < 108 && !path.contains('\0') {
        true => Ok(PathBuf::from(path)),
        false => Err(ConfigErrorKind::InvalidSwitch {
            directive,
            value: path.to_string(),
        }),
    }
}

/// The blanks of C's `isspace` in the "C" locale.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tor_client_values() {
        let mut c = Config::default();
        assert_eq!(c.tor_client, super::super::TorClient::Daemon);
        assert_eq!(apply(&mut c, directive::TOR_CLIENT, b"embedded"), Ok(true));
        assert_eq!(c.tor_client, super::super::TorClient::Embedded);
        assert!(apply(&mut c, directive::TOR_CLIENT, b"arti").is_err());
    }

    #[test]
    fn control_port_forms() {
        assert_eq!(control_port("9051").unwrap().to_string(), "127.0.0.1:9051");
        assert_eq!(
            control_port("[::1]:9051").unwrap().to_string(),
            "[::1]:9051"
        );
        assert!(control_port("0").is_err());
        assert!(control_port("localhost:9051").is_err());
        assert_eq!(
            control_port("unix:/run/tor/control").unwrap(),
            TorAddr::Unix("/run/tor/control".into())
        );
        assert!(control_port("unix:relative/control").is_err());
        let mut c = Config::default();
        assert_eq!(
            apply(&mut c, directive::TOR_CONTROL_SOCKET, b"/run/tor/control"),
            Ok(true)
        );
        assert_eq!(c.control_port.unwrap().to_string(), "unix:/run/tor/control");
    }

    #[test]
    fn a_socks_port_on_a_unix_socket_and_back_to_tcp() {
        let mut c = Config::default();
        assert_eq!(c.socks_addr().to_string(), "127.0.0.1:9050");
        for value in ["/run/tor/socks", "unix:/run/tor/socks", " /run/tor/socks "] {
            assert_eq!(
                apply(&mut c, directive::TOR_SOCKET, value.as_bytes()),
                Ok(true)
            );
            assert_eq!(c.socks_addr(), TorAddr::Unix("/run/tor/socks".into()));
        }
        c.tor_socket = None;
        apply(&mut c, directive::TOR_ADDRESS, b"unix:/run/tor/socks").unwrap();
        assert_eq!(c.socks_addr().to_string(), "unix:/run/tor/socks");
        // A later address wins over an earlier socket (the environment over the file).
        apply(&mut c, directive::TOR_ADDRESS, b"127.0.0.2").unwrap();
        assert_eq!(c.socks_addr().to_string(), "127.0.0.2:9050");
        let long = format!("/{}", "s".repeat(107));
        for bad in ["socks", "unix:socks", "", long.as_str()] {
            assert!(
                apply(&mut c, directive::TOR_SOCKET, bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    // spec §2.3 TorPort, C-67
    #[test]
    fn tor_port_rules() {
        assert_eq!(tor_port("9050"), Ok(9050));
        assert_eq!(tor_port("9050abc"), Ok(9050));
        assert_eq!(tor_port("  +9150"), Ok(9150));
        assert_eq!(tor_port("1"), Ok(1));
        assert_eq!(tor_port("65535"), Ok(65535));
        assert_eq!(tor_port("009050"), Ok(9050));
        for bad in [
            "0",
            "65536",
            "-1",
            "abc",
            "",
            "+",
            " ",
            "99999999999999999999",
        ] {
            assert_eq!(
                tor_port(bad),
                Err(ConfigErrorKind::InvalidPort(bad.into())),
                "{bad:?}"
            );
        }
    }

    // spec §2.3 TorAddress, C-68
    #[test]
    fn tor_address_rules() {
        assert_eq!(tor_address("127.0.0.1"), Ok("127.0.0.1".parse().unwrap()));
        assert_eq!(tor_address("::1"), Ok("::1".parse().unwrap()));
        assert_eq!(
            tor_address("::ffff:1.2.3.4"),
            Ok("::ffff:1.2.3.4".parse().unwrap())
        );
        for bad in [
            "localhost",
            "1.2.3",
            "127.1",
            "[::1]",
            "fe80::1%lo",
            "",
            "01.2.3.4",
        ] {
            assert_eq!(
                tor_address(bad),
                Err(ConfigErrorKind::InvalidTorAddress(bad.into())),
                "{bad:?}"
            );
        }
    }

    // spec §2.3 OnionAddrRange, C-69, C-52
    #[test]
    fn onion_range_rules() {
        let r = onion_range("127.42.42.0/24").unwrap();
        assert_eq!((r.base(), r.prefix()), ("127.42.42.0".parse().unwrap(), 24));
        let r = onion_range("10.0.0.0/8").unwrap();
        assert_eq!((r.base(), r.prefix()), ("10.0.0.0".parse().unwrap(), 8));
        let r = onion_range("127.1/32").unwrap();
        assert_eq!(r.base(), "127.0.0.1".parse::<Ipv4Addr>().unwrap());
        assert_eq!(
            onion_range("127.42.42.0"),
            Err(ConfigErrorKind::OnionRangeSyntax("127.42.42.0".into()))
        );
        for ip in ["::1", "abc", "255.255.255.255", "", "1.2.3.4.5"] {
            assert_eq!(
                onion_range(&format!("{ip}/24")),
                Err(ConfigErrorKind::OnionRangeSubnet(ip.into())),
                "{ip:?}"
            );
        }
        for mask in ["0", "33", "280", "24x", "", "-1", "+8", "008"] {
            assert_eq!(
                onion_range(&format!("127.42.42.0/{mask}")),
                Err(ConfigErrorKind::OnionRangeMask(mask.into())),
                "{mask:?}"
            );
        }
    }

    // spec §2.3 switches "read as atoi does", C-70
    #[test]
    fn atoi_semantics() {
        assert_eq!(atoi("1"), 1);
        assert_eq!(atoi("  2x"), 2);
        assert_eq!(atoi("yes"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("-1"), -1);
        assert_eq!(atoi("+1"), 1);
        assert_eq!(atoi("99999999999999999999999"), i64::MAX);
    }

    // spec §2.3 SOCKS5Username / SOCKS5Password, C-71
    #[test]
    fn credential_length() {
        assert_eq!(
            credential("SOCKS5Username", &[b'a'; 255]).unwrap().len(),
            255
        );
        assert_eq!(
            credential("SOCKS5Password", &[b'a'; 256]),
            Err(ConfigErrorKind::TooLong {
                directive: "SOCKS5Password"
            })
        );
    }

    // spec §2.3 switch ranges and messages, C-70
    #[test]
    fn switches() {
        let mut c = Config::default();
        assert_eq!(apply(&mut c, "AllowInbound", b"1"), Ok(true));
        assert!(c.allow_inbound);
        assert_eq!(apply(&mut c, "AllowInbound", b"yes"), Ok(true));
        assert!(!c.allow_inbound);
        assert_eq!(apply(&mut c, "AllowOutboundLocalhost", b"2"), Ok(true));
        assert_eq!(c.allow_outbound_localhost, OutboundLocalhost::TcpAndUdp);
        assert_eq!(apply(&mut c, "IsolatePID", b"1"), Ok(true));
        assert!(c.isolate_pid);
        assert_eq!(apply(&mut c, "EnableIPv6", b"1"), Ok(true));
        assert!(c.enable_ipv6);
        for (name, v) in [
            ("AllowInbound", "2"),
            ("IsolatePID", "5"),
            ("EnableIPv6", "3"),
            ("AllowOutboundLocalhost", "3"),
            ("AllowInbound", "-1"),
        ] {
            let err = apply(&mut c, name, v.as_bytes()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("[config] Invalid {v} value for {name}")
            );
        }
        assert_eq!(apply(&mut c, "torport", b"9050"), Ok(false));
    }
}
