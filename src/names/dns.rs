//! The sandbox's DNS server: every query the program sends over UDP (to any address)
//! is answered here, through Tor. A and AAAA use RESOLVE, PTR uses RESOLVE_PTR;
//! `.onion` names (and, with `--automap`, every name) get virtual addresses whose later
//! connections carry the name. Tor resolves nothing else, so every other type of
//! class IN (MX, TXT, SRV, HTTPS, ANY…) is answered "no records of that type" (NOERROR,
//! no answer) at once, the way a server answers for a name that has none: `host NAME`
//! and resolvers that ask HTTPS beside A see a normal answer, not a broken server.
//! Other classes are refused (NOTIMP). No DNS packet ever leaves. What to do with each name is the plan shared with preload mode
//! (`torsocks_core::resolve::plan`, [`Policy::namespace`]).

use std::net::IpAddr;
use std::rc::Rc;

use torsocks_core::dns::{self, Answer, MessageError, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_PTR};
use torsocks_core::resolve::plan::{self, Forward, Policy, PoolRefusal, Reverse, Want};
use torsocks_core::resolve::LookupError;

use crate::names::vpool::{PoolError, VirtualPool};
use crate::tor::Tor;

/// DNS RCODE for "no error" (RFC 1035 §4.1.1).
const RCODE_NOERROR: u8 = 0;
/// DNS RCODE for "not implemented" (RFC 1035 §4.1.1).
const RCODE_NOTIMP: u8 = 4;
/// DNS RCODE for "server failure" (RFC 1035 §4.1.1).
const RCODE_SERVFAIL: u8 = 2;

/// How a query was answered, for the session summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// An answer record.
    Answered,
    /// Name does not exist.
    NotFound,
    /// No record of that type.
    NoData,
    /// Tor failed.
    Failed,
    /// A type Tor cannot resolve: answered without records.
    NoRecords,
    /// A class other than IN.
    Refused,
    /// Not a query at all.
    Malformed,
    /// Too many queries in flight: SERVFAIL without asking Tor.
    OverLimit,
}

/// SERVFAIL for `query`, unanswered because too many queries are in flight.
pub(crate) fn over_limit(query: &[u8]) -> (Option<Vec<u8>>, u16, Outcome) {
    match dns::parse_query(query) {
        Ok(q) => respond(&q, RCODE_SERVFAIL, None, Outcome::OverLimit),
        Err(_) => (None, 0, Outcome::Malformed),
    }
}

/// The response to `q`, with its type and outcome for the summary.
fn respond(
    q: &dns::Question,
    rcode: u8,
    answer: Option<&Answer>,
    outcome: Outcome,
) -> (Option<Vec<u8>>, u16, Outcome) {
    let response = dns::build_response(q.id, q.recursion_desired, rcode, &q.wire, answer);
    (Some(response), q.qtype, outcome)
}

/// Answers `query`; returns the response (None for garbage), the query type and outcome.
/// How the sandbox's names are answered: through `tor`, with virtual addresses from
/// `pool` for the names that need one (`.onion`, and every name with `automap`).
#[derive(Clone)]
pub(crate) struct Resolver {
    tor: Rc<Tor>,
    pool: Rc<VirtualPool>,
    automap: bool,
}

impl Resolver {
    pub(crate) fn new(tor: Rc<Tor>, pool: Rc<VirtualPool>, automap: bool) -> Resolver {
        Resolver { tor, pool, automap }
    }

    /// The answer to one DNS query: the response (if any), its type and outcome.
    pub(crate) async fn answer(&self, query: &[u8]) -> (Option<Vec<u8>>, u16, Outcome) {
        answer(query, &self.tor, &self.pool, self.automap).await
    }
}

pub(crate) async fn answer(
    query: &[u8],
    tor: &Tor,
    pool: &VirtualPool,
    automap: bool,
) -> (Option<Vec<u8>>, u16, Outcome) {
    let q = match dns::parse_query(query) {
        Ok(q) => q,
        Err(MessageError::NotAQuery | MessageError::BadQuestion) => {
            return (None, 0, Outcome::Malformed)
        }
    };
    let result = if q.qclass != CLASS_IN {
        Err(None)
    } else {
        match q.qtype {
            TYPE_A => forward(&q.name, false, tor, pool, automap)
                .await
                .map_err(Some),
            TYPE_AAAA => forward(&q.name, true, tor, pool, automap)
                .await
                .map_err(Some),
            TYPE_PTR => reverse(&q.name, tor, pool).await.map_err(Some),
            _ => return respond(&q, RCODE_NOERROR, None, Outcome::NoRecords),
        }
    };
    let (rcode, answer, outcome) = match result {
        Ok(a) => (RCODE_NOERROR, Some(a), Outcome::Answered),
        Err(None) => (RCODE_NOTIMP, None, Outcome::Refused),
        Err(Some(e)) => (
            e.rcode(),
            None,
            match e {
                LookupError::NotFound => Outcome::NotFound,
                LookupError::NoData => Outcome::NoData,
                _ => Outcome::Failed,
            },
        ),
    };
    respond(&q, rcode, answer.as_ref(), outcome)
}

async fn forward(
    name: &str,
    v6: bool,
    tor: &Tor,
    pool: &VirtualPool,
    automap: bool,
) -> Result<Answer, LookupError> {
    let policy = Policy::namespace(automap);
    let want = if v6 { Want::V6 } else { Want::V4 };
    match before_tor(name, want, pool, &policy) {
        Forward::Answer(ip) => Ok(Answer::Address(ip)),
        Forward::Refuse(outcome) => Err(outcome),
        Forward::FromPool { .. } | Forward::AskTor => {
            let ip = tor.resolve(name).await?;
            plan::keep(ip, want, &policy).map(Answer::Address)
        }
    }
}

/// The plan for `name` with the virtual address pool consulted: an answer, a refusal,
/// or `AskTor`.
pub(crate) fn before_tor(name: &str, want: Want, pool: &VirtualPool, policy: &Policy) -> Forward {
    match plan::forward(name.as_bytes(), want, policy) {
        Forward::FromPool { onion } => match pool.address_for(name, !onion) {
            Ok(ip) => Forward::Answer(IpAddr::V4(ip)),
            Err(PoolError::Full) => plan::after_pool(PoolRefusal::Full, policy),
            Err(PoolError::NotAnOnion | PoolError::TooLong) => {
                plan::after_pool(PoolRefusal::BadName, policy)
            }
        },
        step => step,
    }
}

async fn reverse(name: &str, tor: &Tor, pool: &VirtualPool) -> Result<Answer, LookupError> {
    match reverse_without_tor(name, pool)? {
        Ok(answer) => Ok(answer),
        Err(ip) => tor.resolve_ptr(ip).await.map(Answer::Name),
    }
}

/// A reverse lookup's answer when it needs no Tor (a fixed name, the pool's), or
/// `Err(ip)`: ask Tor for `ip`'s name.
pub(crate) fn reverse_without_tor(
    name: &str,
    pool: &VirtualPool,
) -> Result<Result<Answer, IpAddr>, LookupError> {
    let ip = dns::parse_reverse_name(name).ok_or(LookupError::NotFound)?;
    if let Reverse::Answer(name) = plan::reverse(ip, &Policy::namespace(false)) {
        return Ok(Ok(Answer::Name(name.to_string())));
    }
    Ok(pool.name_of(ip).map(Answer::Name).ok_or(ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tor::isolation::{Isolation, Mode};
    use crate::tor::Deadlines;
    use torsocks_core::onion::OnionRange;

    /// A Tor that answers nothing: a query answered at all was answered without it.
    fn unreachable_tor() -> (std::net::TcpListener, Tor) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let isolation = Isolation::new(Mode::None, None, "t".into());
        let tor = Tor::new(
            listener.local_addr().unwrap().into(),
            isolation,
            Deadlines::default(),
        );
        (listener, tor)
    }

    fn query(name: &str, qtype: u16, qclass: u16) -> Vec<u8> {
        let mut msg = vec![0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        msg.extend(dns::encode_question(name, qtype, qclass).unwrap());
        msg
    }

    /// (RCODE, ANCOUNT) of a response.
    fn rcode_and_answers(response: &[u8]) -> (u8, u16) {
        (
            response[3] & 0x0f,
            u16::from_be_bytes([response[6], response[7]]),
        )
    }

    // `host NAME` asks A, AAAA and MX, and fails on any error answer: the types Tor
    // cannot resolve get "no records", at once and without asking Tor.
    #[tokio::test(start_paused = true)]
    async fn types_tor_cannot_resolve_have_no_records() {
        let (_listener, tor) = unreachable_tor();
        let pool = VirtualPool::with_capacity(OnionRange::DEFAULT, 4);
        for qtype in [15, 16, 33, 64, 65, 255] {
            let started = tokio::time::Instant::now();
            let (response, t, outcome) =
                answer(&query("example.com", qtype, CLASS_IN), &tor, &pool, false).await;
            assert_eq!((t, outcome), (qtype, Outcome::NoRecords));
            assert_eq!(rcode_and_answers(&response.unwrap()), (RCODE_NOERROR, 0));
            assert_eq!(started.elapsed(), std::time::Duration::ZERO);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn other_classes_are_not_implemented() {
        let (_listener, tor) = unreachable_tor();
        let pool = VirtualPool::with_capacity(OnionRange::DEFAULT, 4);
        let chaos = query("version.bind", 16, 3);
        let (response, _, outcome) = answer(&chaos, &tor, &pool, false).await;
        assert_eq!(outcome, Outcome::Refused);
        assert_eq!(rcode_and_answers(&response.unwrap()), (RCODE_NOTIMP, 0));
    }
}
