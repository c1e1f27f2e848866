//! Which SOCKS credentials each request to Tor carries, and so which circuits it may
//! share (Tor's `IsolateSOCKSAuth`, on by default: streams with different credentials
//! never share a circuit). Sans-IO: the launcher asks, this module answers.
//!
//! * `session` — one pair for the whole run (the default): nothing of this run shares a
//!   circuit with other programs' traffic.
//! * `destination` — one pair per destination host and port within the run.
//! * `connection` — a pair per connection.
//! * `none` — no credentials: circuits are shared with every other client of Tor.
//!
//! A new identity (SIGUSR1) moves every mode to a new generation, so new connections
//! get credentials Tor has not seen and build new circuits. Clients of the sandbox's
//! own SOCKS port that send credentials of their own keep them apart from each other's
//! within the run's isolation.

use std::fmt::Write;

use clap::ValueEnum;
use sha3::{Digest, Sha3_256};
use torsocks_core::socks5::Auth;

/// How finely streams are kept on separate circuits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// One circuit set for the whole run.
    Session,
    /// One per destination host and port.
    Destination,
    /// One per connection.
    Connection,
    /// Share circuits with everything else that uses Tor.
    None,
}

impl Mode {
    /// The mode's name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Session => "session",
            Mode::Destination => "destination",
            Mode::Connection => "connection",
            Mode::None => "none",
        }
    }
}

/// The credentials of a run.
#[derive(Debug)]
pub(crate) struct Isolation {
    mode: Mode,
    /// Credentials the user configured (SOCKS5Username/-u): used as they are.
    configured: Option<Auth>,
    /// What names this run to Tor: unique per launcher (pid and start time).
    run_tag: String,
    /// Bumped by each new identity.
    generation: u64,
    /// Connections so far (for `connection` mode).
    connections: u64,
}

/// What a request is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Purpose<'a> {
    /// The destination host (a name or an address's text) and port; port 0 for a
    /// lookup.
    pub host: &'a [u8],
    /// The destination port.
    pub port: u16,
    /// Credentials the program sent to the sandbox's SOCKS port, if any.
    pub client: Option<&'a Auth>,
}

impl Isolation {
    /// A run in `mode`, named by `run_tag`. `configured` credentials (the user's own)
    /// are always sent as they are, whatever the mode.
    pub(crate) fn new(mode: Mode, configured: Option<Auth>, run_tag: String) -> Isolation {
        Isolation {
            mode,
            configured,
            run_tag,
            generation: 0,
            connections: 0,
        }
    }

    /// New credentials from now on (already open streams keep their circuits).
    pub(crate) fn new_identity(&mut self) {
        self.generation += 1;
    }

    /// How many new identities were asked for.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The credentials for one request.
    pub(crate) fn credentials(&mut self, purpose: Purpose<'_>) -> Auth {
        if let Some(auth) = &self.configured {
            return auth.clone();
        }
        let mut password = format!("g{}", self.generation);
        match self.mode {
            Mode::None if purpose.client.is_none() => return Auth::NoAuth,
            Mode::None | Mode::Session => {}
            Mode::Destination => {
                let mut key = purpose.host.to_ascii_lowercase();
                key.extend_from_slice(&purpose.port.to_be_bytes());
                let _ = write!(password, ":d{}", short_hash(&key));
            }
            Mode::Connection => {
                self.connections += 1;
                let _ = write!(password, ":c{}", self.connections);
            }
        }
        if let Some(Auth::UserPass {
            username,
            password: pass,
        }) = purpose.client
        {
            let mut key = username.clone();
            key.push(0);
            key.extend_from_slice(pass);
            let _ = write!(password, ":u{}", short_hash(&key));
        }
        Auth::UserPass {
            username: self.run_tag.clone().into_bytes(),
            password: password.into_bytes(),
        }
    }
}

impl Isolation {
    /// The credentials for a second try of a request that failed on its circuit: the
    /// same as [`Isolation::credentials`], marked as a retry so that Tor builds another
    /// circuit. The user's own credentials, and none at all (`--isolate none`), are
    /// sent as they are: their isolation is the user's to choose.
    pub(crate) fn credentials_for_retry(&mut self, purpose: Purpose<'_>) -> Auth {
        match (self.configured.is_some(), self.credentials(purpose)) {
            (
                false,
                Auth::UserPass {
                    username,
                    mut password,
                },
            ) => {
                password.extend_from_slice(b":retry");
                Auth::UserPass { username, password }
            }
            (_, auth) => auth,
        }
    }
}

/// 16 hex digits of SHA3-256: keeps names and client credentials (up to 255 bytes
/// each) out of the password's length limit, and out of Tor's logs.
fn short_hash(bytes: &[u8]) -> String {
    torsocks_core::hex::encode(&Sha3_256::digest(bytes)[..8])
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_retry_asks_for_another_circuit_unless_the_credentials_are_the_user_s() {
        let mut iso = run(Mode::Destination);
        let first = iso.credentials(to("a.test", 80));
        let retry = iso.credentials_for_retry(to("a.test", 80));
        assert_ne!(first, retry);
        assert_eq!(retry, iso.credentials_for_retry(to("a.test", 80)));
        let mine = Auth::UserPass {
            username: b"me".to_vec(),
            password: b"pw".to_vec(),
        };
        let mut configured = Isolation::new(Mode::Session, Some(mine.clone()), "t".into());
        assert_eq!(configured.credentials_for_retry(to("a.test", 80)), mine);
        assert_eq!(
            run(Mode::None).credentials_for_retry(to("a.test", 80)),
            Auth::NoAuth
        );
    }
    use super::*;

    fn to(host: &str, port: u16) -> Purpose<'_> {
        Purpose {
            host: host.as_bytes(),
            port,
            client: None,
        }
    }

    fn run(mode: Mode) -> Isolation {
        Isolation::new(mode, None, "torsocks-ns-7:100".into())
    }

    #[test]
    fn session_mode_uses_one_pair_per_generation() {
        let mut iso = run(Mode::Session);
        let a = iso.credentials(to("a.test", 80));
        assert_eq!(a, iso.credentials(to("b.test", 443)));
        assert_eq!(
            a,
            Auth::UserPass {
                username: b"torsocks-ns-7:100".to_vec(),
                password: b"g0".to_vec()
            }
        );
        iso.new_identity();
        assert_ne!(a, iso.credentials(to("a.test", 80)));
        assert_eq!(iso.generation(), 1);
    }

    #[test]
    fn destination_mode_separates_hosts_and_ports_not_case() {
        let mut iso = run(Mode::Destination);
        let a = iso.credentials(to("a.test", 80));
        assert_eq!(a, iso.credentials(to("A.TEST", 80)));
        assert_ne!(a, iso.credentials(to("a.test", 81)));
        assert_ne!(a, iso.credentials(to("b.test", 80)));
        iso.new_identity();
        assert_ne!(a, iso.credentials(to("a.test", 80)));
    }

    #[test]
    fn connection_mode_never_repeats() {
        let mut iso = run(Mode::Connection);
        let a = iso.credentials(to("a.test", 80));
        let b = iso.credentials(to("a.test", 80));
        assert_ne!(a, b);
    }

    #[test]
    fn none_sends_no_credentials_and_configured_ones_win() {
        assert_eq!(run(Mode::None).credentials(to("a.test", 80)), Auth::NoAuth);
        let mine = Auth::UserPass {
            username: b"me".to_vec(),
            password: b"pw".to_vec(),
        };
        let mut iso = Isolation::new(Mode::Session, Some(mine.clone()), "t".into());
        iso.new_identity();
        assert_eq!(iso.credentials(to("a.test", 80)), mine);
    }

    #[test]
    fn clients_own_credentials_stay_apart() {
        let alice = Auth::UserPass {
            username: b"alice".to_vec(),
            password: b"x".to_vec(),
        };
        let bob = Auth::UserPass {
            username: b"bob".to_vec(),
            password: b"x".to_vec(),
        };
        let mut iso = run(Mode::Session);
        let plain = iso.credentials(to("a.test", 80));
        let with = |iso: &mut Isolation, client| {
            iso.credentials(Purpose {
                client: Some(client),
                ..to("a.test", 80)
            })
        };
        let a = with(&mut iso, &alice);
        let b = with(&mut iso, &bob);
        assert!(plain != a && a != b && plain != b);
        assert_eq!(a, with(&mut iso, &alice));
        // Even without isolation a client's credentials isolate it (as with Tor's port).
        let mut none = run(Mode::None);
        assert_ne!(with(&mut none, &alice), Auth::NoAuth);
        // Every password fits RFC 1929's 255 bytes.
        let long = "x".repeat(255);
        let mut dest = run(Mode::Destination);
        if let Auth::UserPass { password, .. } = dest.credentials(to(&long, 80)) {
            assert!(password.len() < 64);
        }
    }
}
