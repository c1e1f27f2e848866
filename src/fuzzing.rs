//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`, never in a
//! build that ships): the launcher's own parsers of what a program in the sandbox or a
//! SOCKS peer sends, each driven as the launcher drives it, without I/O. (The parsers of
//! `netstack` and `torsocks-core` are public and fuzzed directly.)

use std::net::{IpAddr, Ipv4Addr};

use torsocks_core::dns::{self, Answer, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_PTR};
use torsocks_core::onion::OnionRange;
use torsocks_core::resolve::plan::{self, Forward, Policy, Want};

use crate::names::vpool::VirtualPool;
use crate::tor::this_machine::ThisMachine;
use torsocks_core::socks5::server::{Ask, Outcome, Server, Step};
use torsocks_core::socks5::Status;

/// A DNS query from the program, answered as the sandbox's DNS server answers it, with
/// Tor's part replaced by a fixed address: the query's parse, the plan for its name,
/// the virtual address pool (`--automap` when the query's first byte is odd), the
/// reverse name's parse, and the response built.
pub fn dns_query(data: &[u8]) {
    let _ = crate::names::dns::over_limit(data);
    let Ok(q) = dns::parse_query(data) else {
        return;
    };
    let automap = data.first().is_some_and(|b| b & 1 == 1);
    let pool = VirtualPool::with_capacity(OnionRange::DEFAULT, 16);
    let answer = match (q.qclass, q.qtype) {
        (CLASS_IN, TYPE_A) => forward(&q.name, Want::V4, &pool, automap),
        (CLASS_IN, TYPE_AAAA) => forward(&q.name, Want::V6, &pool, automap),
        (CLASS_IN, TYPE_PTR) => reverse(&q.name, &pool),
        _ => None,
    };
    let _ = dns::build_response(q.id, q.recursion_desired, 0, &q.wire, answer.as_ref());
}

/// `crate::names::dns`'s forward lookup, Tor's answer fixed.
fn forward(name: &str, want: Want, pool: &VirtualPool, automap: bool) -> Option<Answer> {
    let policy = Policy::namespace(automap);
    match crate::names::dns::before_tor(name, want, pool, &policy) {
        Forward::Answer(ip) => Some(Answer::Address(ip)),
        Forward::Refuse(_) => None,
        Forward::FromPool { .. } | Forward::AskTor => {
            let tors = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
            plan::keep(tors, want, &policy).ok().map(Answer::Address)
        }
    }
}

/// `crate::names::dns`'s reverse lookup, without Tor.
fn reverse(name: &str, pool: &VirtualPool) -> Option<Answer> {
    crate::names::dns::reverse_without_tor(name, pool)
        .ok()?
        .ok()
}

/// A client of the sandbox's SOCKS port (SOCKS4, 4a, 5 with Tor's RESOLVE and
/// RESOLVE_PTR), its bytes arriving in pieces: each piece's length is the byte before
/// it. A complete request is checked for naming this machine, and answered.
pub fn socks_server(data: &[u8]) {
    let this = ThisMachine::from_parts(
        "fuzzhost",
        "127.0.0.1 localhost fuzzhost\n::1 ip6-localhost\n",
        vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))],
    );
    let mut server = Server::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (piece, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let mut step = server.input(piece);
        // A Send may leave bytes buffered: go on with them as the launcher does.
        while let Step::Send(_) = step {
            step = server.input(&[]);
        }
        match step {
            Step::NeedMore | Step::Send(_) => continue,
            Step::Refuse(_) => return,
            Step::Request(ask) => {
                let outcome = match ask {
                    Ask::Connect { host, .. } if this.named_by(&host) => {
                        Outcome::Failed(Status::NotAllowed)
                    }
                    Ask::Connect { .. } => Outcome::Connected,
                    Ask::Resolve(name) if this.named_by(&name) => {
                        Outcome::Failed(Status::NotAllowed)
                    }
                    Ask::Resolve(_) => Outcome::Resolved(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
                    Ask::ResolvePtr(_) => Outcome::Named(b"a.test".to_vec()),
                };
                let _ = server.reply(&outcome);
                let _ = server.client_auth();
                let _ = server.take_rest();
                return;
            }
        }
    }
}

/// Replies from Tor's ControlPort, one after another in one buffer, read as the
/// launcher reads them: each reply's PROTOCOLINFO, bootstrap phase and values.
pub fn control_reply(data: &[u8]) {
    use crate::tor::control::proto;
    let mut rest = data;
    while let Ok(Some((reply, used))) = proto::parse_reply(rest) {
        let _ = reply.ok();
        let _ = proto::protocol_info(&reply);
        let _ = proto::bootstrap(&reply);
        for key in ["ServiceID", "status/bootstrap-phase", "COOKIEFILE"] {
            if let Some(value) = reply.value(key) {
                let _ = torsocks_core::hex::decode(&value);
            }
        }
        if used == 0 || used > rest.len() {
            return;
        }
        rest = &rest[used..];
    }
}
