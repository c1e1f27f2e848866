//! The launcher's own resource limits: the open-file limit against the connections and
//! DNS queries it must hold at once, and how its memory allocator hands out the stack's
//! large buffers.
#![allow(unsafe_code)] // mallopt

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

/// Every allocation from this size up gets pages of its own from the kernel.
const MMAP_THRESHOLD: libc::c_int = 64 * 1024;

/// Makes the allocator map each of the stack's per-connection buffers (128 KiB each
/// way by default) from the kernel: zero pages that become resident only as bytes
/// pass, and go back to the kernel when the connection ends. Left to itself, glibc
/// raises its threshold after the first such buffer is freed and then serves them from
/// the heap, where calloc must clear all of it: an idle connection then holds its
/// whole buffers in memory, and each new one costs a 256 KiB memset.
pub(crate) fn map_large_buffers() {
    // SAFETY: mallopt changes a parameter of the allocator and takes integers only.
    let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
}
