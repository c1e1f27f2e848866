//! The usual world of an integration test: a target host and a mock Tor server that
//! relays to it and resolves one name to it.

use crate::mock_tor::MockTor;
use crate::require;
use crate::target_host::TargetHost;

/// The name the mock resolves to the target host.
pub const TARGET_NAME: &str = "target.test";

/// A target host and a mock Tor server that reaches it.
pub struct World {
    /// The target host.
    pub host: TargetHost,
    /// The mock Tor SOCKS server.
    pub mock: MockTor,
}

impl World {
    /// Starts both, or skips (None) where the test cannot create namespaces.
    pub fn start() -> Option<World> {
        if !require::root("create the target host's network namespace") {
            return None;
        }
        let host = TargetHost::start().expect("target host");
        let mock = MockTor::builder()
            .allow_net(host.subnet())
            .name(TARGET_NAME, host.ip().into())
            .start()
            .expect("mock Tor");
        Some(World { host, mock })
    }
}
