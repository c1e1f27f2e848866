//! Starting the tasks the driver asks for ([`Spawn`]): a flow's Tor stream, a DNS
//! conversation over TCP, one DNS query over UDP. Each reports back through a
//! [`Reporter`]; what is over its cap is answered at once, without a task.

use std::rc::Rc;

use netstack::time::Instant;

use super::dns_tcp::dns_over_tcp;
use super::driver::{Driver, Spawn};
use super::flow::{flow_task, FlowSettings};
use super::report::{Report, Reporter};
use crate::limits::MAX_DNS_QUERY;
use crate::names::dns::{self, Resolver};
use crate::names::vpool::VirtualPool;
use crate::serve::slots::Slots;
use crate::tor::Tor;

/// What every task of the session starts from.
pub(super) struct Tasks {
    tor: Rc<Tor>,
    names: Resolver,
    dns_slots: Slots,
    settings: FlowSettings,
    reporter: Reporter,
}

impl Tasks {
    /// Tasks that dial `tor`, name through `pool` (every name, with `automap`), answer
    /// at most `max_dns_queries` queries at once and report to `reporter`.
    pub(super) fn new(
        tor: Rc<Tor>,
        pool: Rc<VirtualPool>,
        automap: bool,
        max_dns_queries: usize,
        settings: FlowSettings,
        reporter: Reporter,
    ) -> Tasks {
        Tasks {
            names: Resolver::new(Rc::clone(&tor), pool, automap),
            tor,
            dns_slots: Slots::new(max_dns_queries),
            settings,
            reporter,
        }
    }

    /// Starts what `spawn` asks for; a flow's task is attached to it in `driver`.
    pub(super) fn start(&self, spawn: Spawn, driver: &mut Driver, now: Instant) {
        match spawn {
            Spawn::DnsTcp { flow } => {
                tokio::task::spawn_local(dns_over_tcp(
                    flow,
                    self.names.clone(),
                    self.dns_slots.clone(),
                    self.reporter.clone(),
                ));
            }
            Spawn::Flow { flow, host, port } => {
                let task = tokio::task::spawn_local(flow_task(
                    flow,
                    host,
                    port,
                    Rc::clone(&self.tor),
                    self.reporter.clone(),
                    self.settings,
                ));
                let handle = task.abort_handle();
                driver.attach(flow, Box::new(move || handle.abort()));
            }
            Spawn::DnsUdp { src, dst, payload } => {
                if let Some(reply) = self.query(src, dst, payload) {
                    driver.report(reply, now);
                }
            }
        }
    }

    /// Starts a task for one UDP query; over the cap, or larger than any real query,
    /// the SERVFAIL to send now instead (a flood stays cheap, and within the memory
    /// budget).
    fn query(
        &self,
        src: std::net::SocketAddr,
        dst: std::net::SocketAddr,
        payload: Vec<u8>,
    ) -> Option<Report> {
        let slot = (payload.len() <= MAX_DNS_QUERY)
            .then(|| self.dns_slots.take())
            .flatten();
        let Some(slot) = slot else {
            let (response, qtype, outcome) = dns::over_limit(&payload);
            return Some(Report::DnsReply {
                src,
                dst,
                response,
                qtype,
                outcome,
            });
        };
        let (names, reporter) = (self.names.clone(), self.reporter.clone());
        tokio::task::spawn_local(async move {
            let (response, qtype, outcome) = names.answer(&payload).await;
            drop(slot);
            reporter.send(Report::DnsReply {
                src,
                dst,
                response,
                qtype,
                outcome,
            });
        });
        None
    }
}
