//! The little DNS that torsocks speaks without ever sending a DNS packet (spec §5.21):
//! reading the question of a query message, building the response torsocks
//! synthesizes from a Tor lookup (P-74), and parsing reverse-lookup names (P-73).
//!
//! This is kept to what the preload library needs (one question, A/AAAA/PTR answers),
//! without dependencies, because it runs inside every preloaded program.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Type A.
pub const TYPE_A: u16 = 1;
/// Type PTR.
pub const TYPE_PTR: u16 = 12;
/// Type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// The TTL of every synthesized answer.
pub const TTL: u32 = 60;

/// The question of a query message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The message ID.
    pub id: u16,
    /// The RD bit.
    pub recursion_desired: bool,
    /// The name, as dotted text without the final dot (empty for the root).
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// The question section exactly as received (name, type, class).
    pub wire: Vec<u8>,
}

/// Why a message is not a query torsocks can answer (P-76).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// Shorter than a header, QR set, OPCODE not 0, or QDCOUNT not 1.
    NotAQuery,
    /// The question runs past the message, or uses compression.
    BadQuestion,
}

/// Reads the question of `msg`: a query (QR 0, OPCODE 0) with exactly one question
/// complete within the message; other sections are ignored.
pub fn parse_query(msg: &[u8]) -> Result<Question, MessageError> {
    if msg.len() < 12 {
        return Err(MessageError::NotAQuery);
    }
    let qr = msg[2] & 0x80 != 0;
    let opcode = (msg[2] >> 3) & 0x0f;
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if qr || opcode != 0 || qdcount != 1 {
        return Err(MessageError::NotAQuery);
    }
    let mut at = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = usize::from(*msg.get(at).ok_or(MessageError::BadQuestion)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return Err(MessageError::BadQuestion); // a compression pointer
        }
        let label = msg.get(at..at + len).ok_or(MessageError::BadQuestion)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += len;
    }
    let fixed = msg.get(at..at + 4).ok_or(MessageError::BadQuestion)?;
    Ok(Question {
        id: u16::from_be_bytes([msg[0], msg[1]]),
        recursion_desired: msg[2] & 0x01 != 0,
        name: labels.join("."),
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        wire: msg[12..at + 4].to_vec(),
    })
}

/// The wire form of `name` (dotted text; one final dot allowed). `None` when a label is
/// empty or longer than 63 bytes, or the whole name longer than 255 bytes.
pub fn encode_name(name: &str) -> Option<Vec<u8>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut wire = Vec::with_capacity(name.len() + 2);
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return None;
            }
            wire.push(label.len() as u8);
            wire.extend_from_slice(label.as_bytes());
        }
    }
    wire.push(0);
    (wire.len() <= 255).then_some(wire)
}

/// The question section for `name`, `qtype`, `qclass`.
pub fn encode_question(name: &str, qtype: u16, qclass: u16) -> Option<Vec<u8>> {
    let mut wire = encode_name(name)?;
    wire.extend_from_slice(&qtype.to_be_bytes());
    wire.extend_from_slice(&qclass.to_be_bytes());
    Some(wire)
}

/// The answer of a synthesized response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An A or AAAA record.
    Address(IpAddr),
    /// A PTR record naming this host.
    Name(String),
}

/// Builds the response of P-74: the question as given, and on `Some(answer)` one
/// answer record pointing at it (`C0 0C`) with TTL 60.
pub fn build_response(
    id: u16,
    recursion_desired: bool,
    rcode: u8,
    question: &[u8],
    answer: Option<&Answer>,
) -> Vec<u8> {
    let rdata = answer.and_then(|a| match a {
        Answer::Address(IpAddr::V4(v4)) => Some((TYPE_A, v4.octets().to_vec())),
        Answer::Address(IpAddr::V6(v6)) => Some((TYPE_AAAA, v6.octets().to_vec())),
        Answer::Name(name) => encode_name(name).map(|wire| (TYPE_PTR, wire)),
    });
    let mut msg = Vec::with_capacity(12 + question.len() + 16 + 64);
    msg.extend_from_slice(&id.to_be_bytes());
    msg.push(0x80 | u8::from(recursion_desired)); // QR, OPCODE 0, AA 0, TC 0, RD
    msg.push(0x80 | (rcode & 0x0f)); // RA, RCODE
    msg.extend_from_slice(&[0, 1, 0, u8::from(rdata.is_some()), 0, 0, 0, 0]);
    msg.extend_from_slice(question);
    if let Some((rtype, rdata)) = rdata {
        msg.extend_from_slice(&[0xc0, 0x0c]);
        msg.extend_from_slice(&rtype.to_be_bytes());
        msg.extend_from_slice(&CLASS_IN.to_be_bytes());
        msg.extend_from_slice(&TTL.to_be_bytes());
        msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        msg.extend_from_slice(&rdata);
    }
    msg
}

/// The address of a reverse-lookup name (P-73): `d.c.b.a.in-addr.arpa` with four
/// decimal labels 0..255, or 32 single hex digits followed by `ip6.arpa`
/// (case-insensitive). `None` for anything else.
pub fn parse_reverse_name(name: &str) -> Option<IpAddr> {
    let lower = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if let Some(rest) = lower.strip_suffix(".in-addr.arpa") {
        let labels: Vec<&str> = rest.split('.').collect();
        if labels.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, label) in labels.iter().enumerate() {
            if label.is_empty() || label.len() > 3 || !label.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            octets[3 - i] = label.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(rest) = lower.strip_suffix(".ip6.arpa") {
        let labels: Vec<&str> = rest.split('.').collect();
        if labels.len() != 32 {
            return None;
        }
        let mut octets = [0u8; 16];
        for (i, label) in labels.iter().enumerate() {
            let mut chars = label.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return None;
            };
            let nibble = c.to_digit(16)? as u8;
            // Labels run from the lowest nibble to the highest.
            let index = 31 - i;
            if index % 2 == 0 {
                octets[index / 2] |= nibble << 4;
            } else {
                octets[index / 2] |= nibble;
            }
        }
        return Some(IpAddr::V6(Ipv6Addr::from(octets)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16, flags: u8, name: &str, qtype: u16) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[flags, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(&encode_question(name, qtype, CLASS_IN).unwrap());
        m
    }

    // spec P-76
    #[test]
    fn parses_queries() {
        let q = parse_query(&query(0xbeef, 0x01, "www.example.com", TYPE_A)).unwrap();
        assert_eq!((q.id, q.recursion_desired), (0xbeef, true));
        assert_eq!(
            (q.name.as_str(), q.qtype, q.qclass),
            ("www.example.com", TYPE_A, CLASS_IN)
        );
        assert_eq!(q.wire, b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        let mut response = query(1, 0x81, "a", TYPE_A);
        assert_eq!(parse_query(&response), Err(MessageError::NotAQuery));
        response[2] = 0x10; // OPCODE 2
        assert_eq!(parse_query(&response), Err(MessageError::NotAQuery));
        let truncated = &query(1, 1, "example.com", TYPE_A)[..20];
        assert_eq!(parse_query(truncated), Err(MessageError::BadQuestion));
        assert_eq!(parse_query(&[0; 11]), Err(MessageError::NotAQuery));
    }

    // spec P-74, C-46
    #[test]
    fn builds_responses() {
        let question = encode_question("www.example.com", TYPE_A, CLASS_IN).unwrap();
        let answer = Answer::Address("198.51.100.7".parse().unwrap());
        let r = build_response(0x1234, true, 0, &question, Some(&answer));
        assert_eq!(&r[..12], &[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(&r[12..12 + question.len()], &question[..]);
        assert_eq!(
            &r[12 + question.len()..],
            &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7]
        );
        let r = build_response(7, false, 3, &question, None);
        assert_eq!(&r[2..8], &[0x80, 0x83, 0, 1, 0, 0]);
        let ptr = build_response(
            1,
            true,
            0,
            &question,
            Some(&Answer::Name("ptr.example.org".into())),
        );
        assert!(
            ptr.ends_with(b"\x00\x0c\x00\x01\x00\x00\x00\x3c\x00\x11\x03ptr\x07example\x03org\x00")
        );
    }

    #[test]
    fn names() {
        assert_eq!(encode_name("a.b.").unwrap(), b"\x01a\x01b\x00");
        assert_eq!(encode_name("").unwrap(), b"\x00");
        assert_eq!(encode_name("a..b"), None);
        assert_eq!(encode_name(&"x".repeat(64)), None);
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 255);
        assert_eq!(encode_name(&long), None);
    }

    // spec P-73, C-47
    #[test]
    fn reverse_names() {
        let v4 = |s: &str| parse_reverse_name(s);
        assert_eq!(
            v4("9.2.0.192.in-addr.arpa"),
            Some("192.0.2.9".parse().unwrap())
        );
        assert_eq!(
            v4("9.2.0.192.IN-ADDR.ARPA."),
            Some("192.0.2.9".parse().unwrap())
        );
        for bad in [
            "2.0.192.in-addr.arpa",
            "256.2.0.192.in-addr.arpa",
            "a.2.0.192.in-addr.arpa",
            "1.9.2.0.192.in-addr.arpa",
            "example.com",
            "in-addr.arpa",
        ] {
            assert_eq!(v4(bad), None, "{bad}");
        }
        let six = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6.arpa";
        assert_eq!(
            parse_reverse_name(six),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            parse_reverse_name(&six.replace("1.0.0.0.0", "10.0.0.0")),
            None
        );
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    // Any message gets a question or an error, never a panic.
    #[test]
    fn arbitrary_messages_never_panic() {
        let mut next = crate::test_rng(0x1234_5678_9abc_def1);
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut msg: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len > 12 {
                msg[2] &= 0x07; // mostly queries
                msg[4] = 0;
                msg[5] = 1;
            }
            if let Ok(q) = parse_query(&msg) {
                let r = build_response(q.id, q.recursion_desired, 0, &q.wire, None);
                assert!(parse_query(&r).is_err(), "a response is not a query");
            }
            let text = String::from_utf8_lossy(&msg).into_owned();
            let _ = parse_reverse_name(&text);
            let _ = encode_name(&text);
        }
    }
}
