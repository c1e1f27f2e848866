//! The usual world of an integration test: a target host and a mock Tor server that
//! relays to it and resolves one name to it.

use std::process::Command;

use crate::install::bin;
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

    /// [`World::start`] where the sandbox can be made (a TUN device), else a skip.
    pub fn with_tun() -> Option<World> {
        if !require::tun() {
            return None;
        }
        World::start()
    }

    /// `torsocks-ns` against this world's mock Tor.
    pub fn ns(&self) -> Command {
        let mut cmd = Command::new(bin("torsocks-ns"));
        cmd.args(["-P", &self.mock.addr().port().to_string()])
            .env("TORSOCKS_CONF_FILE", "/dev/null");
        cmd
    }

    /// The same, as the unprivileged user `nobody` (rootless).
    pub fn ns_as_nobody(&self) -> Option<Command> {
        let setpriv = require::program("setpriv")?;
        std::fs::set_permissions(
            "/dev/net/tun",
            std::os::unix::fs::PermissionsExt::from_mode(0o666),
        )
        .unwrap();
        let mut cmd = Command::new(setpriv);
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(bin("torsocks-ns"))
            .args(["-P", &self.mock.addr().port().to_string()])
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .env("HOME", "/")
            .current_dir("/");
        Some(cmd)
    }

    /// Nothing but the fences reached the target host, and Tor saw no request.
    pub fn assert_nothing_escaped(&self, what: &str) {
        let (datagrams, requests) = self.host.received();
        assert!(
            datagrams.is_empty(),
            "{what}: datagrams arrived: {datagrams:?}"
        );
        assert!(
            requests.is_empty(),
            "{what}: HTTP requests arrived: {requests:?}"
        );
        // (torsocks-ns's own check that Tor answers is a bare greeting, no request.)
        let requests: Vec<_> = self
            .mock
            .requests()
            .into_iter()
            .filter(|r| r.command.is_some())
            .collect();
        assert!(requests.is_empty(), "{what}: Tor was asked: {requests:?}");
    }
}
