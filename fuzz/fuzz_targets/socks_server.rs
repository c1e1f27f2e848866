//! A client of the sandbox's SOCKS port: SOCKS4, 4a and 5 with Tor's extensions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    torsocks_ns::fuzzing::socks_server(data);
});
