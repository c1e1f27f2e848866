//! The launcher's own resource limits: the memory its connection buffers may hold (one
//! budget, which sets the buffer size and the connection cap) and the open-file limit
//! against the connections and DNS queries it must hold at once.

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

/// The budget for the launcher's connection buffers when none is given: what a laptop
/// can lose to one sandbox whose program keeps every connection full.
pub(crate) const DEFAULT_BUFFER_BUDGET: u64 = 512 << 20; // --help says 512M
/// Each connection's stack buffer per direction when neither it nor the connection cap
/// is given (the fastest bulk transfers measured: BENCHMARKS.md).
pub(crate) const DEFAULT_BUFFER_KIB: u32 = 128;
/// The smallest stack buffer per direction a connection can work with.
pub(crate) const MIN_BUFFER_KIB: u32 = 4;
/// The largest chunk of bytes moved between the stack and Tor at once.
pub(crate) const MAX_CHUNK: usize = 16 * 1024;
/// Chunks in flight per direction and connection, in the channel between the stack and
/// the connection's Tor stream.
pub(crate) const CHANNEL_CHUNKS: usize = 4;
/// What a connection holds besides its buffers and chunks: smoltcp's socket, the task
/// and its Tor stream, the driver's entries (measured idle: BENCHMARKS.md).
const CONNECTION_OVERHEAD: u64 = 16 * 1024;
/// The SOCKS port's and published ports' clients (each capped at half the connections)
/// relay through two 8 KiB copy buffers: one connection's share.
const RELAY_SHARE: u64 = 16 * 1024;
/// The largest DNS query over UDP that is answered (a real one is a few hundred bytes);
/// larger ones get SERVFAIL at once.
pub(crate) const MAX_DNS_QUERY: usize = 4096;
/// What one DNS query in flight holds at most: the query and its task.
const DNS_QUERY_COST: u64 = 2 * MAX_DNS_QUERY as u64;

/// Packets read from the TUN device before the stack takes them in (so a program that
/// writes faster than the launcher reads cannot make the queue grow).
pub(crate) const READ_BURST: usize = 64;
/// The launcher itself: its code, runtime and tables, without the parts counted below.
const LAUNCHER_BASE: u64 = 8 << 20;

/// What the launcher holds whatever its connections do, at the worst: its base, the
/// stack's packet pools and queues, a read burst, and the virtual addresses' names.
pub(crate) fn launcher_fixed(mtu: usize) -> u64 {
    let packet = (mtu + netstack::vnet::HEADER_LEN + 64) as u64;
    LAUNCHER_BASE
        + netstack::device::memory_bound(mtu) as u64
        + READ_BURST as u64 * packet
        + crate::names::vpool::MEMORY_BOUND
}

/// How the buffer budget is spent: the stack's buffer per direction, the chunk size and
/// the connection cap, such that every connection full at once stays within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BufferPlan {
    /// The budget, in bytes.
    pub budget: u64,
    /// The stack's buffer of each connection, per direction, in bytes.
    pub buffer: usize,
    /// The largest chunk moved at once (no larger than the buffer).
    pub chunk: usize,
    /// The most connections open at once.
    pub max_connections: u32,
    /// What one connection holds at most.
    pub per_connection: u64,
}

impl BufferPlan {
    /// How the plan reads under `-d`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "buffers: {} KiB per direction and connection, at most {} connections \
             ({} KiB each when full) within a {} MiB budget (--buffer-budget)",
            self.buffer / 1024,
            self.max_connections,
            self.per_connection / 1024,
            self.budget >> 20
        )
    }
}

/// What one connection holds at most with `buffer` bytes per direction in the stack:
/// both stack buffers, the chunks in flight both ways (the channel's, the one being
/// written to Tor, the one read from Tor waiting for room, the one the stack has
/// partly taken), its share of the SOCKS port's relays, and its fixed overhead.
pub(crate) fn per_connection(buffer: usize) -> u64 {
    let chunk = buffer.min(MAX_CHUNK) as u64;
    2 * buffer as u64 + (2 * CHANNEL_CHUNKS as u64 + 3) * chunk + RELAY_SHARE + CONNECTION_OVERHEAD
}

/// Spends `budget` bytes on connections: with neither a buffer size nor a cap given,
/// the default buffer and as many connections as fit; with a buffer size, as many
/// connections as fit; with a cap, the largest buffer (up to the default) that lets
/// that many fit; with both, they must fit. What the launcher holds whatever the
/// connections do ([`launcher_fixed`], for packets of `mtu`) and the DNS queries in
/// flight are set aside first.
pub(crate) fn buffer_plan(
    budget: u64,
    buffer_kib: Option<u32>,
    max_connections: Option<u32>,
    max_dns_queries: u32,
    mtu: usize,
) -> Result<BufferPlan, BudgetError> {
    let dns = launcher_fixed(mtu) + u64::from(max_dns_queries) * DNS_QUERY_COST;
    let for_connections = set_aside(budget, dns, max_dns_queries)?;
    let plan = |kib: u32, connections: u64| BufferPlan {
        budget,
        buffer: kib as usize * 1024,
        chunk: (kib as usize * 1024).min(MAX_CHUNK),
        max_connections: connections.min(u64::from(u32::MAX)) as u32,
        per_connection: per_connection(kib as usize * 1024),
    };
    let fitting = |kib: u32| for_connections / per_connection(kib as usize * 1024);
    let need =
        |kib: u32, n: u32| mebibytes(dns + u64::from(n) * per_connection(kib as usize * 1024));
    match (buffer_kib, max_connections) {
        (kib, None) => {
            let kib = kib.unwrap_or(DEFAULT_BUFFER_KIB);
            match fitting(kib) {
                0 => Err(BudgetError::NoConnection {
                    budget_mib: budget >> 20,
                    kib,
                    need_mib: need(kib, 1),
                }),
                n => Ok(plan(kib, n)),
            }
        }
        (None, Some(n)) => (MIN_BUFFER_KIB..=DEFAULT_BUFFER_KIB)
            .rev()
            .find(|&kib| fitting(kib) >= u64::from(n))
            .map(|kib| plan(kib, u64::from(n)))
            .ok_or(BudgetError::CapTooHigh {
                connections: n,
                budget_mib: budget >> 20,
                need_mib: need(MIN_BUFFER_KIB, n),
            }),
        (Some(kib), Some(n)) if fitting(kib) >= u64::from(n) => Ok(plan(kib, u64::from(n))),
        (Some(kib), Some(n)) => Err(BudgetError::BothTooLarge {
            connections: n,
            kib,
            need_mib: need(kib, n),
            budget_mib: budget >> 20,
        }),
    }
}

/// What `budget` leaves for connections once `aside` (the launcher and its DNS queries)
/// is taken, or an error that says what budget would do.
fn set_aside(budget: u64, aside: u64, max_dns_queries: u32) -> Result<u64, BudgetError> {
    budget
        .checked_sub(aside)
        .filter(|&b| b > 0)
        .ok_or_else(|| BudgetError::BelowTheLauncher {
            budget_mib: budget >> 20,
            max_dns_queries,
            need_mib: mebibytes(aside + per_connection(MIN_BUFFER_KIB as usize * 1024)),
        })
}

/// A budget that cannot hold what the options ask for; each names a budget that would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BudgetError {
    /// The launcher and its DNS queries alone take the whole budget.
    BelowTheLauncher {
        budget_mib: u64,
        max_dns_queries: u32,
        need_mib: u64,
    },
    /// Not one connection fits with buffers of `kib`.
    NoConnection {
        budget_mib: u64,
        kib: u32,
        need_mib: u64,
    },
    /// `--max-connections` does not fit even with the smallest buffers.
    CapTooHigh {
        connections: u32,
        budget_mib: u64,
        need_mib: u64,
    },
    /// `--max-connections` and `--buffer-kib` together do not fit.
    BothTooLarge {
        connections: u32,
        kib: u32,
        need_mib: u64,
        budget_mib: u64,
    },
}

impl std::fmt::Display for BudgetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            BudgetError::BelowTheLauncher {
                budget_mib,
                max_dns_queries,
                need_mib,
            } => write!(
                f,
                "--buffer-budget {budget_mib} MiB is less than the launcher itself and the \
                 {max_dns_queries} DNS queries at once (--max-dns-queries) hold: give at least \
                 {need_mib} MiB"
            ),
            BudgetError::NoConnection {
                budget_mib,
                kib,
                need_mib,
            } => write!(
                f,
                "--buffer-budget {budget_mib} MiB holds no connection with {kib} KiB buffers: \
                 give at least {need_mib} MiB, or a smaller --buffer-kib"
            ),
            BudgetError::CapTooHigh {
                connections,
                budget_mib,
                need_mib,
            } => write!(
                f,
                "--max-connections {connections} does not fit in --buffer-budget {budget_mib} \
                 MiB even with {MIN_BUFFER_KIB} KiB buffers: give at least {need_mib} MiB"
            ),
            BudgetError::BothTooLarge {
                connections,
                kib,
                need_mib,
                budget_mib,
            } => write!(
                f,
                "--max-connections {connections} with --buffer-kib {kib} needs --buffer-budget \
                 {need_mib} MiB (given: {budget_mib} MiB): raise the budget, or lower one of them"
            ),
        }
    }
}

impl std::error::Error for BudgetError {}

/// `bytes` in MiB, rounded up (a budget asked for must be enough).
fn mebibytes(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const MTU: usize = 65520;
    /// What is set aside before connections, with 256 DNS queries.
    fn aside() -> u64 {
        launcher_fixed(MTU) + 256 * DNS_QUERY_COST
    }

    #[test]
    fn the_default_spends_the_default_budget_on_default_buffers() {
        let plan = buffer_plan(DEFAULT_BUFFER_BUDGET, None, None, 256, MTU).unwrap();
        assert_eq!(plan.buffer, 128 * 1024);
        assert_eq!(plan.chunk, MAX_CHUNK);
        // Every connection full at once, and the DNS queries, stay within the budget;
        // one more connection would not.
        let all = u64::from(plan.max_connections) * plan.per_connection + aside();
        assert!(all <= DEFAULT_BUFFER_BUDGET, "{plan:?}");
        assert!(
            all + plan.per_connection > DEFAULT_BUFFER_BUDGET,
            "{plan:?}"
        );
        assert!(plan.max_connections >= 900, "a browser's worth: {plan:?}");
    }

    #[test]
    fn a_connection_cap_shrinks_the_buffers_to_fit() {
        let plan = buffer_plan(DEFAULT_BUFFER_BUDGET, None, Some(4096), 256, MTU).unwrap();
        assert_eq!(plan.max_connections, 4096);
        assert!(plan.buffer < 128 * 1024 && plan.buffer >= 4096, "{plan:?}");
        assert!(4096 * plan.per_connection + aside() <= DEFAULT_BUFFER_BUDGET);
        // The largest buffer that fits: one KiB more would not.
        let larger = per_connection(plan.buffer + 1024);
        assert!(4096 * larger + aside() > DEFAULT_BUFFER_BUDGET);
        // A cap the default buffers already fit keeps them.
        let few = buffer_plan(DEFAULT_BUFFER_BUDGET, None, Some(20), 256, MTU).unwrap();
        assert_eq!(few.buffer, 128 * 1024);
        assert_eq!(few.max_connections, 20);
    }

    #[test]
    fn a_buffer_size_sets_the_cap() {
        let small = buffer_plan(64 * MIB, Some(8), None, 256, MTU).unwrap();
        assert_eq!((small.buffer, small.chunk), (8192, 8192));
        let large = buffer_plan(64 * MIB, Some(1024), None, 256, MTU).unwrap();
        assert_eq!(large.chunk, MAX_CHUNK);
        assert!(large.max_connections < small.max_connections);
        assert!(u64::from(large.max_connections) * large.per_connection + aside() <= 64 * MIB);
    }

    #[test]
    fn what_cannot_fit_is_an_error_that_says_what_would() {
        let both = buffer_plan(64 * MIB, Some(128), Some(4096), 256, MTU)
            .unwrap_err()
            .to_string();
        assert!(both.contains("needs --buffer-budget"), "{both}");
        let cap = buffer_plan(256 * MIB, None, Some(100_000), 256, MTU)
            .unwrap_err()
            .to_string();
        assert!(cap.contains("give at least"), "{cap}");
        let tiny = buffer_plan(aside() + MIB, Some(1024), None, 256, MTU)
            .unwrap_err()
            .to_string();
        assert!(tiny.contains("holds no connection"), "{tiny}");
        let dns = buffer_plan(MIB, None, None, 65536, MTU)
            .unwrap_err()
            .to_string();
        assert!(dns.contains("--max-dns-queries"), "{dns}");
        // The budget each message asks for is enough.
        let asked = |m: &str| {
            let at = m.find(" MiB").unwrap();
            let digits = m[..at].rsplit(' ').next().unwrap();
            digits.parse::<u64>().unwrap() * MIB
        };
        let needed = asked(&both[both.find("needs").unwrap()..]);
        assert!(buffer_plan(needed, Some(128), Some(4096), 256, MTU).is_ok());
        let needed = asked(&cap[cap.find("at least").unwrap()..]);
        assert!(buffer_plan(needed, None, Some(100_000), 256, MTU).is_ok());
    }

    #[test]
    fn a_chunk_is_never_larger_than_the_buffer() {
        for kib in [MIN_BUFFER_KIB, 8, 15, 16, 17, 128, 16384] {
            let plan = buffer_plan(u64::MAX / 2, Some(kib), None, 256, MTU).unwrap();
            assert!(
                plan.chunk <= plan.buffer && plan.chunk <= MAX_CHUNK,
                "{plan:?}"
            );
        }
    }
}
