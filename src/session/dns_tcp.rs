//! DNS over TCP to the sandbox's resolver: length-prefixed queries in, answers out,
//! through the same DNS server as UDP queries.

use netstack::stack::FlowId;
use tokio::sync::mpsc;

use super::report::{Report, Reporter};
use crate::limits::CHANNEL_CHUNKS;
use crate::names::dns::{self, Resolver};
use crate::serve::slots::Slots;

/// A DNS-over-TCP flow: length-prefixed queries in, length-prefixed answers out.
pub(super) async fn dns_over_tcp(flow: FlowId, names: Resolver, slots: Slots, reporter: Reporter) {
    let (to_tor_tx, mut queries) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let (answers, from_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    reporter.send(Report::Opened {
        flow,
        to_tor: to_tor_tx,
        from_tor: from_tor_rx,
    });
    reporter.flow(flow);
    let mut pending: Vec<u8> = Vec::new();
    'queries: while let Some(chunk) = queries.recv().await {
        reporter.flow(flow);
        pending.extend_from_slice(&chunk);
        while pending.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
            if len > crate::limits::MAX_DNS_QUERY {
                // No real query is this long: end the connection rather than hold
                // up to 64 KiB of it (the memory budget counts a query at its bound).
                break 'queries;
            }
            if pending.len() < 2 + len {
                break;
            }
            let query: Vec<u8> = pending.drain(..2 + len).skip(2).collect();
            let (response, qtype, outcome) = match slots.take() {
                Some(_slot) => names.answer(&query).await,
                None => dns::over_limit(&query),
            };
            reporter.send(Report::DnsCounted { qtype, outcome });
            if let Some(response) = response {
                let mut framed = (response.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&response);
                if answers.send(framed).await.is_err() {
                    return;
                }
                reporter.flow(flow);
            }
        }
    }
    drop(answers);
    reporter.flow(flow);
}
