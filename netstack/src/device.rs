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

/// How many spare packet buffers each pool keeps.
const POOL: usize = 256;

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
        give(&mut self.pool, buf, self.mtu);
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
fn give(pool: &mut Vec<Vec<u8>>, mut buf: Vec<u8>, mtu: usize) {
    if pool.len() < POOL && buf.capacity() <= mtu + 64 {
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
        give(self.consumed, self.packet, self.mtu);
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
            },
            TxToken {
                tx: &mut self.tx,
                pool: &mut self.pool,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
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
}
