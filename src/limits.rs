//! The launcher's own resource limits: the open-file limit against the connections and
//! DNS queries it must hold at once.

/// fds the launcher needs besides one per connection and per DNS query in flight.
const FD_RESERVE: u64 = 64;

/// Raises the soft fd limit to the hard one (each connection holds a Tor stream, each
/// DNS query in flight one more) and returns `--max-connections` and
/// `--max-dns-queries`, lowered with a warning when even that limit cannot hold them:
/// DNS gets at most a quarter of what the limit leaves.
pub(crate) fn fd_budget(max_connections: u32, max_dns_queries: u32) -> (u32, u32) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return (max_connections, max_dns_queries);
    };
    let limit = if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let budget = limit.saturating_sub(FD_RESERVE);
    let wanted = u64::from(max_connections) + u64::from(max_dns_queries);
    if wanted <= budget {
        return (max_connections, max_dns_queries);
    }
    let dns = u64::from(max_dns_queries).min(budget / 4).max(1);
    let connections = u64::from(max_connections)
        .min(budget.saturating_sub(dns))
        .max(1);
    eprintln!(
        "torsocks-ns: warning: the open-file limit ({limit}) allows {connections} connections \
         and {dns} DNS queries at once, not {max_connections} and {max_dns_queries}: lowered \
         (raise `ulimit -Hn` for more)"
    );
    (connections as u32, dns as u32)
}
