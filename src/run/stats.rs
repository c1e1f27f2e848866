//! The session summary printed by `--stats`.

use std::fmt::Write;

use netstack::classify::DropKind;

use crate::session::report::{ResetCause, Summary};

fn type_name(qtype: u16) -> String {
    match qtype {
        1 => "A".into(),
        28 => "AAAA".into(),
        12 => "PTR".into(),
        0 => "-".into(),
        n => format!("TYPE{n}"),
    }
}

/// The summary as lines for stderr.
pub(crate) fn render(s: &Summary) -> String {
    let c = &s.stack;
    let mut out = String::new();
    let _ = writeln!(out, "torsocks-ns: session summary");
    let _ = writeln!(
        out,
        "  connections: {} opened, {} refused, {} over the limit",
        c.flows_opened, c.flows_refused, c.flows_over_limit
    );
    let _ = writeln!(out, "  connections open at exit: {}", s.flows_at_exit);
    let _ = writeln!(out, "  connections retried on a new circuit: {}", s.retried);
    let resets: u64 = s.resets.values().sum();
    let _ = writeln!(out, "  connections reset: {resets}");
    for (cause, n) in &s.resets {
        let why = match cause {
            ResetCause::StreamFailed => "the Tor stream failed",
            ResetCause::TorGone => "Tor stopped answering",
        };
        let _ = writeln!(out, "    {why}: {n}");
    }
    let _ = writeln!(
        out,
        "  bytes: {} sent by the program, {} received",
        c.bytes_from_programs, c.bytes_to_programs
    );
    let _ = writeln!(out, "  new identities: {}", s.new_identities);
    let _ = writeln!(out, "  DNS queries: {}", c.dns_queries);
    for ((qtype, outcome), n) in &s.dns {
        let _ = writeln!(out, "    {} {:?}: {n}", type_name(*qtype), outcome);
    }
    let _ = writeln!(out, "  dropped packets: {}", c.drops.total());
    for (kind, n) in c.drops.iter() {
        let what = match kind {
            DropKind::Udp { port } => format!("UDP to port {port}"),
            DropKind::Icmp => "ICMP".into(),
            DropKind::Other { protocol } => format!("IP protocol {protocol}"),
            DropKind::Malformed => "malformed".into(),
        };
        let _ = writeln!(out, "    {what}: {n}");
    }
    out
}
