//! The stack's side of the packet device: two queues. The launcher pushes packets read
//! from the TUN device into `rx` and writes what smoltcp leaves in `tx`; tests do the
//! same with synthetic packets. No I/O happens here.
//!
//! Packet buffers are pooled: a buffer smoltcp has consumed, or the caller has written
//! out and handed back with [`QueueDevice::recycle`], carries the next packet, so moving
//! packets allocates nothing in the steady state, and a reused buffer is not zeroed
//! again (whoever fills it overwrites every byte).

use std::collections::VecDeque;

use smoltcp::phy::{self, Checksum, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// The most bytes of spare packet buffers each pool keeps, and of packets waiting in
/// the outbound queue: with a 64 KiB MTU, 64 buffers each.
pub const QUEUE_BYTES: usize = 4 << 20;
/// Bounds on the number of buffers, whatever the MTU: a few even for the largest
/// packets, no more than the small ones need.
const MIN_BUFFERS: usize = 8;
const MAX_BUFFERS: usize = 1024;

/// The most memory a device of `mtu` holds beyond the packets queued for smoltcp: its
/// two pools and its outbound queue, full.
pub fn memory_bound(mtu: usize) -> usize {
    3 * buffers_within(QUEUE_BYTES, mtu) * (mtu + 64)
}

/// How many buffers of `mtu` bytes fit in `bytes`, within the bounds.
pub(crate) fn buffers_within(bytes: usize, mtu: usize) -> usize {
    (bytes / (mtu + 64)).clamp(MIN_BUFFERS, MAX_BUFFERS)
}

/// A packet device made of an inbound and an outbound queue.
#[derive(Debug)]
pub struct QueueDevice {
    pub(crate) rx: VecDeque<Vec<u8>>,
    pub(crate) tx: VecDeque<Vec<u8>>,
    /// Spare buffers for outbound packets and copies of inbound ones.
    pool: Vec<Vec<u8>>,
    /// Buffers of inbound packets smoltcp has consumed; moved to `pool` when it runs dry
    /// (a separate list because smoltcp holds a receive and a transmit token at once).
    consumed: Vec<Vec<u8>>,
    mtu: usize,
    /// The most buffers a pool keeps, and the most packets the outbound queue holds:
    /// smoltcp is told the device is busy beyond that (and sends the rest at its next
    /// poll), so a burst to many connections at once is never copied all at once.
    limit: usize,
    /// TCP and UDP checksums are left to the device ([`crate::vnet`]).
    checksum_offload: bool,
}

impl QueueDevice {
    /// An empty device for packets of at most `mtu` bytes.
    pub fn new(mtu: usize) -> Self {
        QueueDevice {
            rx: VecDeque::new(),
            tx: VecDeque::new(),
            pool: Vec::new(),
            consumed: Vec::new(),
            mtu,
            limit: buffers_within(QUEUE_BYTES, mtu),
            checksum_offload: false,
        }
    }

    /// Leaves TCP and UDP checksums to the device: smoltcp neither verifies them on
    /// packets it receives nor computes them on packets it sends ([`crate::vnet`]).
    pub fn offload_checksums(&mut self) {
        self.checksum_offload = true;
    }

    /// Queues a copy of `packet` for smoltcp.
    pub(crate) fn push_rx(&mut self, packet: &[u8]) {
        if self.pool.is_empty() {
            std::mem::swap(&mut self.pool, &mut self.consumed);
        }
        let mut buf = take(&mut self.pool, packet.len());
        buf.copy_from_slice(packet);
        self.rx.push_back(buf);
    }

    /// Queues `packet` as if it had arrived (for a peer built on this device, as the
    /// program's side in tests).
    pub fn deliver(&mut self, packet: &[u8]) {
        self.push_rx(packet);
    }

    /// The next packet the device's user sent, if any.
    pub fn take_sent(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// Takes back a buffer the caller has written out.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        give(&mut self.pool, buf, self.mtu, self.limit);
    }
}

/// A buffer of exactly `len` bytes with unspecified contents, reused when possible.
fn take(pool: &mut Vec<Vec<u8>>, len: usize) -> Vec<u8> {
    let mut buf = pool.pop().unwrap_or_default();
    if buf.len() < len {
        buf.resize(len, 0);
    } else {
        buf.truncate(len);
    }
    buf
}

/// Returns a buffer to a pool (unless the pool is full or the buffer oversized). Its
/// length is set to its capacity, so that the next `take` need not zero it.
fn give(pool: &mut Vec<Vec<u8>>, mut buf: Vec<u8>, mtu: usize, limit: usize) {
    if pool.len() < limit && buf.capacity() <= mtu + 64 {
        let capacity = buf.capacity();
        buf.resize(capacity, 0);
        pool.push(buf);
    }
}

/// A received packet, handed to smoltcp; its buffer is kept for reuse.
pub struct RxToken<'a> {
    packet: Vec<u8>,
    consumed: &'a mut Vec<Vec<u8>>,
    mtu: usize,
    limit: usize,
}

/// Room for one outbound packet.
pub struct TxToken<'a> {
    tx: &'a mut VecDeque<Vec<u8>>,
    pool: &'a mut Vec<Vec<u8>>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let result = f(&self.packet);
        give(self.consumed, self.packet, self.mtu, self.limit);
        result
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut packet = take(self.pool, len);
        let result = f(&mut packet);
        self.tx.push_back(packet);
        result
    }
}

impl phy::Device for QueueDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let packet = self.rx.pop_front()?;
        Some((
            RxToken {
                packet,
                consumed: &mut self.consumed,
                mtu: self.mtu,
                limit: self.limit,
            },
            TxToken {
                tx: &mut self.tx,
                pool: &mut self.pool,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        // Busy: smoltcp keeps what it would send for its next poll, which the caller
        // makes once it has written the queue out (the poll delay is then zero).
        if self.tx.len() >= self.limit {
            return None;
        }
        Some(TxToken {
            tx: &mut self.tx,
            pool: &mut self.pool,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        if self.checksum_offload {
            caps.checksum.tcp = Checksum::None;
            caps.checksum.udp = Checksum::None;
        }
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_without_growing_the_pool_forever() {
        let mut device = QueueDevice::new(1500);
        for round in 0..1000 {
            device.push_rx(&[round as u8; 100]);
            let packet = device.rx.pop_front().unwrap();
            assert_eq!(packet, vec![round as u8; 100]);
            device.recycle(packet);
        }
        assert_eq!(device.pool.len(), 1, "one buffer served every round");
        device.recycle(vec![0; 100_000]);
        assert_eq!(device.pool.len(), 1, "oversized buffers are not kept");
    }

    #[test]
    fn the_pools_and_the_outbound_queue_are_bounded_in_bytes() {
        use phy::{Device, TxToken as _};
        let mtu = 65520;
        let mut device = QueueDevice::new(mtu);
        let now = Instant::from_millis(0);
        let mut sent = 0;
        while let Some(token) = device.transmit(now) {
            token.consume(mtu, |packet| packet.fill(1));
            sent += 1;
            assert!(sent <= MAX_BUFFERS, "the queue must fill");
        }
        assert_eq!(sent, buffers_within(QUEUE_BYTES, mtu));
        assert!(sent * mtu <= QUEUE_BYTES, "{sent} packets of {mtu}");
        // Written out, the queue takes packets again; the pool keeps only its bound.
        let packets: Vec<_> = std::iter::from_fn(|| device.take_sent()).collect();
        assert!(device.transmit(now).is_some());
        for packet in packets {
            device.recycle(packet);
        }
        for _ in 0..MAX_BUFFERS {
            device.recycle(vec![0; mtu]);
        }
        assert_eq!(device.pool.len(), buffers_within(QUEUE_BYTES, mtu));
        assert!(memory_bound(mtu) <= 3 * (QUEUE_BYTES + MIN_BUFFERS * (mtu + 64)));
        // Small packets: many more of them, still bounded.
        assert_eq!(buffers_within(QUEUE_BYTES, 1500), MAX_BUFFERS);
    }
}
