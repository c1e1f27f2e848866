//! Which Tor a run uses: the daemon's SOCKS port or the embedded client (`--tor`,
//! `TorClient`), decided from what was asked, whether the daemon answered, and
//! whether this build has the embedded client.

use crate::cli::TorKind;
use crate::tor_check::TorCheckError;

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

/// The Tor to use, and for `auto` why (for `-d`); `daemon` is the answer of the
/// daemon check, made only when `kind` needs it. The error is the message to print.
pub(crate) fn choose(
    kind: TorKind,
    daemon: impl FnOnce() -> Result<(), TorCheckError>,
    built_in: bool,
) -> Result<(Chosen, Option<String>), String> {
    const NOT_BUILT: &str = "this torsocks-ns was built without the embedded Tor client \
                             (cargo feature embedded-tor): use a tor daemon";
    match kind {
        TorKind::Daemon => daemon().map(|()| (Chosen::Daemon, None)).map_err(|e| {
            // The daemon is the default, so a user without one learns here that
            // the built-in client is an option away.
            match e {
                TorCheckError::Unreachable { .. } if built_in => format!(
                    "{e} Or use the Tor client built into torsocks-ns: --tor embedded \
                     (always) or --tor auto (when no daemon answers), also TorClient in \
                     torsocks.conf."
                ),
                e => e.to_string(),
            }
        }),
        TorKind::Embedded if built_in => Ok((Chosen::Embedded, None)),
        TorKind::Embedded => Err(format!("--tor embedded: {NOT_BUILT}")),
        TorKind::Auto => match daemon() {
            Ok(()) => Ok((
                Chosen::Daemon,
                Some("a tor daemon answers: using it".into()),
            )),
            Err(e) if built_in => Ok((
                Chosen::Embedded,
                Some(format!(
                    "no tor daemon ({e}); using the embedded Tor client"
                )),
            )),
            Err(e) => Err(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Result<(), TorCheckError> {
        Err(TorCheckError::Unreachable {
            endpoint: "127.0.0.1:9050".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        })
    }

    #[test]
    fn auto_prefers_a_daemon_that_answers() {
        let (chosen, why) = choose(TorKind::Auto, || Ok(()), true).unwrap();
        assert_eq!(chosen, Chosen::Daemon);
        assert!(why.unwrap().contains("daemon answers"));
    }

    #[test]
    fn auto_falls_back_to_the_embedded_client() {
        let (chosen, why) = choose(TorKind::Auto, down, true).unwrap();
        assert_eq!(chosen, Chosen::Embedded);
        assert!(why.unwrap().contains("127.0.0.1:9050"));
        // Without one, the daemon's error stands.
        let err = choose(TorKind::Auto, down, false).unwrap_err();
        assert!(err.contains("cannot reach Tor's SOCKS port"), "{err}");
    }

    #[test]
    fn explicit_kinds_do_not_fall_back() {
        let err = choose(TorKind::Daemon, down, true).unwrap_err();
        assert!(
            err.contains("--tor embedded"),
            "the way out is named: {err}"
        );
        let err = choose(TorKind::Daemon, down, false).unwrap_err();
        assert!(
            !err.contains("--tor embedded"),
            "not without the client: {err}"
        );
        let probed = std::cell::Cell::new(false);
        let (chosen, _) = choose(
            TorKind::Embedded,
            || {
                probed.set(true);
                Ok(())
            },
            true,
        )
        .unwrap();
        assert_eq!(chosen, Chosen::Embedded);
        assert!(!probed.get(), "embedded never probes the daemon");
        assert!(choose(TorKind::Embedded, || Ok(()), false)
            .unwrap_err()
            .contains("embedded-tor"));
    }
}
