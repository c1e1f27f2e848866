//! The session's vocabulary, below both its core and its shell: what the tasks report
//! to the [`super::driver`], how they wake it, and the summary it keeps.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;

use netstack::stack::FlowId;
use tokio::sync::{mpsc, Notify};

use crate::names::dns;

/// What a task tells the driver.
pub(crate) enum Report {
    /// The Tor stream of `flow` is open: the channels to and from it.
    Opened {
        flow: FlowId,
        to_tor: mpsc::Sender<Vec<u8>>,
        from_tor: mpsc::Receiver<Vec<u8>>,
    },
    /// Tor refused `flow`: refuse the program's connection.
    Refused(FlowId),
    /// The Tor stream broke: reset the program's connection.
    Failed(FlowId, ResetCause),
    /// A DNS query over TCP was answered (for the summary).
    DnsCounted { qtype: u16, outcome: dns::Outcome },
    /// A DNS query over UDP was answered: the reply to send.
    DnsReply {
        src: SocketAddr,
        dst: SocketAddr,
        response: Option<Vec<u8>>,
        qtype: u16,
        outcome: dns::Outcome,
    },
}

/// Why a connection of the program was reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ResetCause {
    /// The Tor stream failed (a read or write error).
    StreamFailed,
    /// Tor itself went away (its SOCKS port stopped answering).
    TorGone,
}

/// The session summary (`--stats`).
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// The stack's counters.
    pub stack: netstack::stack::Counters,
    /// DNS queries by (type, outcome).
    pub dns: BTreeMap<(u16, dns::Outcome), u64>,
    /// Connections still open when the command exited.
    pub flows_at_exit: usize,
    /// Connections reset, by cause.
    pub resets: BTreeMap<ResetCause, u64>,
    /// New identities asked for (SIGUSR1).
    pub new_identities: u64,
    /// Connections Tor failed on a circuit and that were tried once more, unseen.
    pub retried: u64,
}

/// How tasks report to the driver and wake it: which flow has work, and a nudge. The
/// set of ready flows holds each flow once, so it is bounded by the flows open, however
/// often tasks wake.
///
/// The channel is unbounded in type, bounded in fact: each flow task sends at most
/// three reports (opened or refused, then a failure from each direction) and each DNS
/// task one, and the tasks themselves are capped (`--max-connections`,
/// `--max-dns-queries`).
#[derive(Clone)]
pub(crate) struct Reporter {
    reports: mpsc::UnboundedSender<Report>,
    notify: Rc<Notify>,
    ready: Rc<RefCell<HashSet<FlowId>>>,
}

/// The driver's side of a [`Reporter`].
pub(crate) struct Inbox {
    reports: mpsc::UnboundedReceiver<Report>,
    /// Notified whenever a task has something for the driver.
    pub notify: Rc<Notify>,
    ready: Rc<RefCell<HashSet<FlowId>>>,
}

/// A reporter for the tasks and the inbox it reports to.
pub(crate) fn channel() -> (Reporter, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let notify = Rc::new(Notify::new());
    let ready = Rc::new(RefCell::new(HashSet::new()));
    let reporter = Reporter {
        reports: tx,
        notify: Rc::clone(&notify),
        ready: Rc::clone(&ready),
    };
    (
        reporter,
        Inbox {
            reports: rx,
            notify,
            ready,
        },
    )
}

impl Reporter {
    /// Tells the driver; it runs at its next pass.
    pub(crate) fn send(&self, report: Report) {
        let _ = self.reports.send(report);
        self.notify.notify_one();
    }

    /// `flow`'s channels changed: pump it.
    pub(crate) fn flow(&self, flow: FlowId) {
        self.ready.borrow_mut().insert(flow);
        self.notify.notify_one();
    }
}

impl Inbox {
    /// The reports so far.
    pub(crate) fn reports(&mut self) -> impl Iterator<Item = Report> + '_ {
        std::iter::from_fn(|| self.reports.try_recv().ok())
    }

    /// The flows woken so far.
    pub(crate) fn ready(&self) -> Vec<FlowId> {
        self.ready.borrow_mut().drain().collect()
    }
}
