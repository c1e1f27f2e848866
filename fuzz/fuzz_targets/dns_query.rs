//! A DNS query from the program into the sandbox's DNS server.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    torsocks_ns::fuzzing::dns_query(data);
    // What preload mode's resolver reads of the same bytes.
    if let Ok(q) = torsocks_core::dns::parse_query(data) {
        let _ = torsocks_core::dns::parse_reverse_name(&q.name);
        let _ = torsocks_core::dns::encode_name(&q.name);
    }
});
