//! An IP packet from the program, as the launcher first reads it off the TUN device:
//! with a virtio-net header or without, classified, its UDP payload (a DNS query)
//! taken out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netstack::{classify, vnet};

fuzz_target!(|data: &[u8]| {
    let _ = classify::classify(data);
    let _ = classify::udp_payload(data);
    if let Some(packet) = vnet::inbound(data) {
        let _ = classify::classify(packet);
        let _ = classify::udp_payload(packet);
    }
});
