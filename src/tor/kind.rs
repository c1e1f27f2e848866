//! Which Tor a run uses: the daemon's SOCKS port or the embedded client (`--tor`,
//! `TorClient`), decided from what was asked, whether the daemon answered, and
//! whether this build has the embedded client.

use crate::tor::preflight::PreflightError;

/// Which Tor a run uses (`--tor`, `TorClient`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TorKind {
    /// The daemon when its SOCKS port answers as Tor, else the embedded client.
    Auto,
    /// Tor's SOCKS port (-a/-P, TorAddress/TorPort or TorSocket), always.
    Daemon,
    /// The Tor client built into torsocks-ns, always (no tor daemon needed).
    Embedded,
}

impl From<torsocks_core::config::TorClient> for TorKind {
    fn from(value: torsocks_core::config::TorClient) -> TorKind {
        use torsocks_core::config::TorClient as C;
        match value {
            C::Auto => TorKind::Auto,
            C::Daemon => TorKind::Daemon,
            C::Embedded => TorKind::Embedded,
        }
    }
}

/// The Tor a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chosen {
    /// Tor's SOCKS port, as configured.
    Daemon,
    /// The embedded client.
    Embedded,
}

/// Whether this build has the embedded client.
pub(crate) const EMBEDDED_BUILT_IN: bool = cfg!(feature = "embedded-tor");

/// What the daemon check must establish of the configured SOCKS port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// It answers SOCKS5 (`daemon`: the user named it, as with the C torsocks).
    Answers,
    /// It answers SOCKS5 and is Tor (`auto`: a SOCKS server that is not Tor, an
    /// `ssh -D` say, must not be taken for the daemon when the embedded client could
    /// carry the traffic through Tor instead).
    IsTor,
}

/// The daemon check of `endpoint` for `probe`; with `Answers`, what to say once when
/// the server answered SOCKS5 but not as Tor does (an `ssh -D`, microsocks, danted):
/// it is used, as the C torsocks would use it, but the names it resolves itself are
/// out of reach of the this-machine check. (`IsTor` has made sure.)
pub(crate) fn probe(
    endpoint: &crate::tor::stream::TorAddr,
    probe: Probe,
) -> Result<Option<String>, PreflightError> {
    let answered = crate::tor::preflight::socks_port_answers(endpoint)?;
    match probe {
        Probe::Answers if answered.chose_as_tor() => Ok(None),
        Probe::Answers => Ok(Some(format!(
            "warning: the SOCKS server at {endpoint} does not answer as Tor does (it takes \
             no authentication where Tor takes a username and password). Names and \
             addresses of this machine are refused before they reach it, but a name that \
             server resolves to this machine itself (wildcard DNS, its own hosts file) \
             cannot be checked, and nothing it carries is anonymous unless it is Tor."
        ))),
        Probe::IsTor => crate::tor::preflight::is_tor(endpoint).map(|_| None),
    }
}

/// The Tor to use, and for `auto` why (for `-d`); `daemon` is the answer of the
/// daemon check, made only when `kind` needs it. The error is the message to print.
pub(crate) fn choose(
    kind: TorKind,
    daemon: impl FnOnce(Probe) -> Result<(), PreflightError>,
    built_in: bool,
) -> Result<(Chosen, Option<String>), NoTor> {
    match kind {
        // The daemon is the default, so a user without one learns here that the
        // built-in client is an option away.
        TorKind::Daemon => daemon(Probe::Answers)
            .map(|()| (Chosen::Daemon, None))
            .map_err(|e| NoTor::Daemon {
                hint_embedded: built_in && matches!(e, PreflightError::Unreachable { .. }),
                source: e,
            }),
        TorKind::Embedded if built_in => Ok((Chosen::Embedded, None)),
        TorKind::Embedded => Err(NoTor::NotBuiltIn),
        TorKind::Auto => match daemon(Probe::IsTor) {
            Ok(()) => Ok((
                Chosen::Daemon,
                Some("a tor daemon answers: using it".into()),
            )),
            Err(e @ PreflightError::NotTor(_)) if built_in => Ok((
                Chosen::Embedded,
                Some(format!(
                    "the SOCKS port answers but is not Tor ({e}); using the embedded Tor client"
                )),
            )),
            Err(e) if built_in => Ok((
                Chosen::Embedded,
                Some(format!(
                    "no tor daemon ({e}); using the embedded Tor client"
                )),
            )),
            Err(e) => Err(NoTor::Daemon {
                hint_embedded: false,
                source: e,
            }),
        },
    }
}

/// No Tor a run could use.
#[derive(Debug)]
pub(crate) enum NoTor {
    /// The daemon does not answer (or not as Tor), and the embedded client is not an
    /// option (or was not asked for: then `hint_embedded` says it is one).
    Daemon {
        /// Whether to tell the user about the embedded client.
        hint_embedded: bool,
        /// What the daemon check found.
        source: PreflightError,
    },
    /// `--tor embedded` in a build without it.
    NotBuiltIn,
}

impl std::fmt::Display for NoTor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoTor::Daemon {
                hint_embedded: true,
                source,
            } => write!(
                f,
                "{source} Or use the Tor client built into torsocks-ns: --tor embedded \
                 (always) or --tor auto (when no daemon answers), also TorClient in \
                 torsocks.conf."
            ),
            NoTor::Daemon { source, .. } => source.fmt(f),
            NoTor::NotBuiltIn => f.write_str(
                "--tor embedded: this torsocks-ns was built without the embedded Tor client \
                 (cargo feature embedded-tor): use a tor daemon",
            ),
        }
    }
}

impl std::error::Error for NoTor {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NoTor::Daemon { source, .. } => Some(source),
            NoTor::NotBuiltIn => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(_: Probe) -> Result<(), PreflightError> {
        Err(PreflightError::Unreachable {
            endpoint: "127.0.0.1:9050".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        })
    }

    #[test]
    fn auto_prefers_a_daemon_that_answers() {
        let asked = std::cell::Cell::new(None);
        let answers = |probe| {
            asked.set(Some(probe));
            Ok(())
        };
        let (chosen, why) = choose(TorKind::Auto, answers, true).unwrap();
        assert_eq!(chosen, Chosen::Daemon);
        assert!(why.unwrap().contains("daemon answers"));
        assert_eq!(asked.get(), Some(Probe::IsTor), "auto takes only Tor");
        choose(TorKind::Daemon, answers, true).unwrap();
        assert_eq!(
            asked.get(),
            Some(Probe::Answers),
            "a named daemon is trusted"
        );
    }

    #[test]
    fn auto_passes_over_a_socks_server_that_is_not_tor() {
        let not_tor = |_| Err(PreflightError::NotTor("no HTTP answer, no RESOLVE".into()));
        let (chosen, why) = choose(TorKind::Auto, not_tor, true).unwrap();
        assert_eq!(chosen, Chosen::Embedded);
        assert!(why.unwrap().contains("is not Tor"));
        assert!(choose(TorKind::Auto, not_tor, false).is_err());
    }

    #[test]
    fn auto_falls_back_to_the_embedded_client() {
        let (chosen, why) = choose(TorKind::Auto, down, true).unwrap();
        assert_eq!(chosen, Chosen::Embedded);
        assert!(why.unwrap().contains("127.0.0.1:9050"));
        // Without one, the daemon's error stands.
        let err = choose(TorKind::Auto, down, false).unwrap_err().to_string();
        assert!(err.contains("cannot reach Tor's SOCKS port"), "{err}");
    }

    #[test]
    fn explicit_kinds_do_not_fall_back() {
        let err = choose(TorKind::Daemon, down, true).unwrap_err().to_string();
        assert!(
            err.contains("--tor embedded"),
            "the way out is named: {err}"
        );
        let err = choose(TorKind::Daemon, down, false)
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("--tor embedded"),
            "not without the client: {err}"
        );
        let probed = std::cell::Cell::new(false);
        let (chosen, _) = choose(
            TorKind::Embedded,
            |_| {
                probed.set(true);
                Ok(())
            },
            true,
        )
        .unwrap();
        assert_eq!(chosen, Chosen::Embedded);
        assert!(!probed.get(), "embedded never probes the daemon");
        assert!(choose(TorKind::Embedded, |_| Ok(()), false)
            .unwrap_err()
            .to_string()
            .contains("embedded-tor"));
    }
}
