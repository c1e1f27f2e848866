//! The exits' DNS server: answers A queries for the test zone, PTR queries for its
//! addresses (`d.c.b.a.in-addr.arpa`, with the zone's name), NOERROR-empty for other
//! types of those names, and REFUSED for every other name. It forwards nothing, so a
//! lookup of a real name by an exit goes nowhere.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const TYPE_A: u16 = 1;
const TYPE_PTR: u16 = 12;
const CLASS_IN: u16 = 1;
const RCODE_REFUSED: u8 = 5;

/// A running stub on 127.0.0.1. Stops when dropped.
pub struct DnsStub {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    queries: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl DnsStub {
    /// Serves `zone` (lowercase name → address) on an ephemeral loopback port.
    pub fn start(zone: HashMap<String, Ipv4Addr>) -> io::Result<DnsStub> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = socket.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let (stop, log) = (Arc::clone(&stopping), Arc::clone(&queries));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop.load(Ordering::SeqCst) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some((name, response)) = answer(&buf[..n], &zone) {
                    log.lock().unwrap().push(name);
                    let _ = socket.send_to(&response, from);
                }
            }
        });
        Ok(DnsStub {
            addr,
            stopping,
            queries,
            thread: Some(thread),
        })
    }

    /// Where the stub listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every name asked so far (lowercase).
    pub fn queries(&self) -> Vec<String> {
        self.queries.lock().unwrap().clone()
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Builds the response to one query message; `None` for anything that is not a query.
pub fn answer(query: &[u8], zone: &HashMap<String, Ipv4Addr>) -> Option<(String, Vec<u8>)> {
    if query.len() < 12 || query[2] & 0x80 != 0 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    // Walk the question name (no compression in a question we accept).
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let qclass = u16::from_be_bytes([*query.get(at + 2)?, *query.get(at + 3)?]);
    let question_end = at + 4;
    let name = labels.join(".");

    let found = zone.get(&name).map(|ip| Record::A(*ip)).or_else(|| {
        let ip = reverse_name(&name)?;
        let (owner, _) = zone.iter().find(|(_, a)| **a == ip)?;
        Some(Record::Ptr(owner.clone()))
    });
    let rcode = if found.is_some() { 0 } else { RCODE_REFUSED };
    let record = found.filter(|record| {
        qclass == CLASS_IN
            && match record {
                Record::A(_) => qtype == TYPE_A,
                Record::Ptr(_) => qtype == TYPE_PTR,
            }
    });

    let mut r = Vec::with_capacity(question_end + 16);
    r.extend_from_slice(&query[0..2]); // ID
    r.push(0x80 | (query[2] & 0x01)); // QR, RD copied
    r.push(0x80 | rcode); // RA, RCODE
    r.extend_from_slice(&[0, 1, 0, u8::from(record.is_some()), 0, 0, 0, 0]);
    r.extend_from_slice(&query[12..question_end]); // the question, case preserved
    match record {
        Some(Record::A(ip)) => {
            r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            r.extend_from_slice(&ip.octets());
        }
        Some(Record::Ptr(owner)) => {
            let mut rdata = Vec::new();
            for label in owner.split('.') {
                rdata.push(label.len() as u8);
                rdata.extend_from_slice(label.as_bytes());
            }
            rdata.push(0);
            r.extend_from_slice(&[0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0, 60]);
            r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            r.extend_from_slice(&rdata);
        }
        None => {}
    }
    Some((name, r))
}

/// What the zone holds for a name.
enum Record {
    A(Ipv4Addr),
    Ptr(String),
}

/// The address `d.c.b.a.in-addr.arpa` stands for.
fn reverse_name(name: &str) -> Option<Ipv4Addr> {
    let digits = name.strip_suffix(".in-addr.arpa")?;
    let mut octets = [0u8; 4];
    let mut parts = digits.split('.');
    for octet in octets.iter_mut().rev() {
        *octet = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn answers_zone_refuses_rest() {
        let zone = HashMap::from([("www.tornet.test".to_string(), Ipv4Addr::new(10, 77, 1, 2))]);
        let (name, r) = answer(&query("WwW.TorNet.test", 1), &zone).unwrap();
        assert_eq!(name, "www.tornet.test");
        assert_eq!(&r[0..4], &[0x12, 0x34, 0x81, 0x80]);
        assert_eq!(&r[6..8], &[0, 1], "one answer");
        assert_eq!(&r[r.len() - 4..], &[10, 77, 1, 2]);
        assert!(r.windows(3).any(|w| w == b"WwW"), "question case preserved");
        let (_, r) = answer(&query("www.tornet.test", 28), &zone).unwrap();
        assert_eq!((r[3] & 0x0f, r[7]), (0, 0), "AAAA: NOERROR, no answer");
        let (_, r) = answer(&query("example.com", 1), &zone).unwrap();
        assert_eq!(r[3] & 0x0f, RCODE_REFUSED);
        assert!(answer(&[0; 5], &zone).is_none());
    }

    #[test]
    fn answers_reverse_lookups_of_zone_addresses() {
        let zone = HashMap::from([("www.tornet.test".to_string(), Ipv4Addr::new(10, 77, 1, 2))]);
        let (name, r) = answer(&query("2.1.77.10.in-addr.arpa", 12), &zone).unwrap();
        assert_eq!(name, "2.1.77.10.in-addr.arpa");
        assert_eq!((r[3] & 0x0f, r[7]), (0, 1), "NOERROR, one answer");
        assert!(r.ends_with(b"\x03www\x06tornet\x04test\x00"), "{r:?}");
        let (_, r) = answer(&query("3.1.77.10.in-addr.arpa", 12), &zone).unwrap();
        assert_eq!(r[3] & 0x0f, RCODE_REFUSED);
        assert_eq!(reverse_name("1.2.3.in-addr.arpa"), None);
    }
}
