//! # netstack
//!
//! The userspace TCP/IP stack of `torsocks-ns`. It takes raw IP packets from the
//! sandbox's TUN device and turns them into TCP flows and DNS queries for the launcher,
//! dropping everything else. It knows nothing of SOCKS or Tor, and performs no I/O.
//!
//! * [`classify`] — what the stack does with one IP packet: a TCP segment for a flow,
//!   a DNS query, or a drop of a given kind (the counters of `--stats`).
//! * [`stack`] — [`stack::Stack`]: smoltcp in any-IP mode, one flow per TCP connection
//!   with the SYN-ACK held until the launcher has opened the outbound stream.
//! * [`device`] — the packet queues between the stack and whoever moves packets.
//! * [`reply`] — packets the stack writes itself: DNS answers, ICMP unreachable.
//! * [`vnet`] — the header of a TUN device with checksum offload: no TCP checksum is
//!   computed or verified on either side of the device.
//!
//! ## What it expects of the allocator
//!
//! Each flow's two socket buffers ([`stack::StackConfig::rx_buffer`] and `tx_buffer`,
//! 128 KiB each in `torsocks-ns`) are allocated zeroed when the flow is accepted
//! (`vec![0; n]`, a `calloc`). The stack's memory is only as lazy as the allocator
//! makes that: with an allocator that serves such sizes from fresh mappings (zero
//! pages, resident only as bytes pass, returned when the flow ends), an idle flow costs
//! a few pages; with one that reuses freed heap and clears it, every flow costs both
//! buffers, resident, from its first packet. The launcher installs such an allocator
//! (`torsocks-ns`'s `session::page_alloc`); another embedder that holds many flows
//! should do the same, or budget the buffers at their full size.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod classify;
pub mod device;
pub mod reply;
pub mod stack;
pub mod vnet;

/// The stack's clock types (smoltcp's), for callers that drive it.
pub mod time {
    pub use smoltcp::time::{Duration, Instant};
}
