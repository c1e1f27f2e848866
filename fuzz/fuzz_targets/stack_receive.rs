//! A stream of packets from the program into the stack, on a simulated clock, with
//! the launcher's side played: connections accepted (or refused), DNS queries
//! answered, data read and written, everything the stack sends drained.
//!
//! Input: a flags byte (bit 0: packets carry a virtio-net header; bit 1: refuse
//! connections), then packets, each behind its length (two bytes, big-endian).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netstack::stack::{Event, Received, Stack, StackConfig};
use netstack::time::{Duration, Instant};
use netstack::vnet;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let offload = flags & 1 == 1;
    let refuse = flags & 2 == 2;
    let config = StackConfig {
        checksum_offload: offload,
        max_flows: 8,
        rx_buffer: 4096,
        tx_buffer: 4096,
        ..StackConfig::default()
    };
    let mut now = Instant::from_millis(0);
    let mut stack = Stack::new(config, now);
    let mut flows = Vec::new();
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let (packet, tail) = rest[2..].split_at(len.min(rest.len() - 2));
        rest = tail;
        let packet = match offload {
            true => match vnet::inbound(packet) {
                Some(p) => p,
                None => continue,
            },
            false => packet,
        };
        stack.receive(packet, now);
        stack.poll(now);
        while let Some(event) = stack.next_event() {
            match event {
                Event::Connect { flow, .. } if refuse => stack.refuse(flow),
                Event::Connect { flow, .. } => {
                    stack.accept(flow);
                    flows.push(flow);
                }
                Event::DnsQuery { src, dst, payload } => stack.reply_dns(src, dst, &payload),
            }
        }
        let mut buf = [0u8; 512];
        for &flow in &flows {
            if let Received::Data(_) = stack.recv(flow, &mut buf) {
                let _ = stack.send(flow, b"HTTP/1.0 200 OK\r\n\r\n");
            }
            if stack.is_closed(flow) {
                stack.release(flow);
            }
        }
        flows.retain(|&f| !stack.is_closed(f));
        let _ = stack.take_dirty();
        stack.poll(now);
        while let Some(out) = stack.transmit() {
            stack.recycle(out);
        }
        now += stack
            .poll_delay(now)
            .unwrap_or(Duration::from_millis(10))
            .min(Duration::from_secs(1));
    }
    let _ = stack.counters();
});
