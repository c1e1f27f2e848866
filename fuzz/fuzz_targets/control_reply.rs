//! Replies of Tor's ControlPort, as the launcher reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    torsocks_ns::fuzzing::control_reply(data);
});
