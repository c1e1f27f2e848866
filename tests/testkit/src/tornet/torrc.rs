//! The torrc of each node of the private network.

use std::fmt::Write;
use std::path::Path;

/// One directory authority, as every node's `DirAuthority` line names it.
#[derive(Debug, Clone)]
pub struct Authority {
    /// Its nickname.
    pub nickname: String,
    /// Its ORPort on 127.0.0.1.
    pub or_port: u16,
    /// Its DirPort on 127.0.0.1.
    pub dir_port: u16,
    /// The v3 identity (authority certificate) fingerprint.
    pub v3ident: String,
    /// The relay identity fingerprint.
    pub fingerprint: String,
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum Role {
    /// A directory authority that is also a guard, exit and HSDir relay.
    Authority { or_port: u16, dir_port: u16 },
    /// An exit relay.
    Exit { or_port: u16, dir_port: u16 },
    /// An onion service in front of `127.0.0.1:<target_port>`, port 80, with a
    /// ControlPort from which tests watch its rendezvous circuits.
    OnionService { target_port: u16, control_port: u16 },
    /// A client with a SocksPort and a ControlPort.
    Client { socks_port: u16, control_port: u16 },
}

/// The voting schedule: a consensus every 15 s, so the network is up in ~20 s.
///
/// In a testing network, C tor's onion-service time period is one shared-random run
/// (24 voting intervals: 6 minutes here), while Arti takes it from the consensus
/// parameter `hsdir_interval` (at least 5 minutes). The authorities publish the same
/// 6 minutes, so tor's onion service and the embedded client agree on the blinded key
/// and the directories that hold the descriptor.
const VOTING: &str = "\
V3AuthVotingInterval 15
V3AuthVoteDelay 2
V3AuthDistDelay 2
TestingV3AuthInitialVotingInterval 15
TestingV3AuthInitialVoteDelay 2
TestingV3AuthInitialDistDelay 2
TestingV3AuthVotingStartOffset 0
ConsensusParams hsdir_interval=6
";

/// Renders the torrc of `nickname` with data in `dir`.
pub fn render(
    nickname: &str,
    role: &Role,
    dir: &Path,
    authorities: &[Authority],
    resolv_conf: &Path,
) -> String {
    let d = dir.display();
    let mut t = String::new();
    // Never the real Tor network: testing mode, only our own authorities.
    let _ = write!(
        t,
        "TestingTorNetwork 1\nUseDefaultFallbackDirs 0\nNickname {nickname}\n\
         DataDirectory {d}\nPidFile {d}/pid\nLog notice file {d}/notice.log\n\
         SafeLogging 0\nRunAsDaemon 0\nShutdownWaitLength 0\nDisableDebuggerAttachment 0\n\
         ContactInfo torsocks-rs-test@localhost\nGeoIPFile /dev/null\nGeoIPv6File /dev/null\n\
         ClientUseIPv6 0\nAddress 127.0.0.1\n"
    );
    for a in authorities {
        let _ = writeln!(
            t,
            "DirAuthority {} orport={} no-v2 v3ident={} 127.0.0.1:{} {}",
            a.nickname, a.or_port, a.v3ident, a.dir_port, a.fingerprint
        );
    }
    let relay = |t: &mut String, or_port: u16, dir_port: u16| {
        let _ = write!(
            t,
            "SocksPort 0\nORPort 127.0.0.1:{or_port}\nDirPort 127.0.0.1:{dir_port}\n\
             AssumeReachable 1\nExitRelay 1\nExitPolicy accept *:*\n\
             ExitPolicyRejectPrivate 0\nExitPolicyRejectLocalInterfaces 0\n\
             ServerDNSResolvConfFile {}\nServerDNSDetectHijacking 0\n\
             ServerDNSTestAddresses\nServerDNSAllowBrokenConfig 1\n",
            resolv_conf.display()
        );
    };
    match role {
        Role::Authority { or_port, dir_port } => {
            relay(&mut t, *or_port, *dir_port);
            t.push_str(
                "AuthoritativeDirectory 1\nV3AuthoritativeDirectory 1\n\
                 TestingDirAuthVoteExit *\nTestingDirAuthVoteGuard *\nTestingDirAuthVoteHSDir *\n",
            );
            t.push_str(VOTING);
        }
        Role::Exit { or_port, dir_port } => relay(&mut t, *or_port, *dir_port),
        Role::OnionService {
            target_port,
            control_port,
        } => {
            let _ = write!(
                t,
                "SocksPort 0\nHiddenServiceDir {d}/hs\nHiddenServiceVersion 3\n\
                 HiddenServicePort 80 127.0.0.1:{target_port}\n\
                 ControlPort 127.0.0.1:{control_port}\nCookieAuthentication 0\n"
            );
        }
        Role::Client {
            socks_port,
            control_port,
        } => {
            // A SOCKS port on a Unix socket too, as Debian users configure one: in a
            // directory of its own that others may search (the node's is private).
            let socks_socket = super::client_socks_socket(dir.parent().unwrap_or(dir));
            let _ = write!(
                t,
                "SocksPort 127.0.0.1:{socks_port}\nControlPort 127.0.0.1:{control_port}\n\
                 ControlSocket {d}/control\nCookieAuthentication 0\n\
                 SocksPort unix:{} GroupWritable RelaxDirModeCheck\n",
                socks_socket.display()
            );
        }
    }
    t
}
