//! Where the embedded client keeps its state (guards, keys) and its directory cache:
//! the XDG base directories, `torsocks-rs/arti` under each, or `--tor-state DIR`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::ArtiError;

/// The embedded client's two directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dirs {
    /// Persistent state: guards, circuit timeouts, keys.
    pub state: PathBuf,
    /// The directory cache (consensus, microdescriptors): what makes a warm start fast.
    pub cache: PathBuf,
}

/// The subdirectory of each XDG base directory.
const APP: &str = "torsocks-rs/arti";

/// The directories for `--tor-state` (when given) or from the environment, as `var`
/// reads it. An XDG variable must be an absolute path to count (the specification
/// says relative ones are to be ignored).
pub(crate) fn choose(
    tor_state: Option<&Path>,
    var: impl Fn(&str) -> Option<OsString>,
) -> Result<Dirs, ArtiError> {
    if let Some(dir) = tor_state {
        return Ok(Dirs {
            state: dir.join("state"),
            cache: dir.join("cache"),
        });
    }
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    let home = absolute("HOME");
    let base = |xdg: &'static str, fallback: &str| {
        absolute(xdg)
            .or_else(|| home.as_ref().map(|h| h.join(fallback)))
            .map(|b| b.join(APP))
            .ok_or(ArtiError::NoStateDir { var: xdg })
    };
    Ok(Dirs {
        state: base("XDG_STATE_HOME", ".local/state")?,
        cache: base("XDG_CACHE_HOME", ".cache")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn xdg_directories_come_first_then_home() {
        let dirs = choose(
            None,
            env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/var/cache/u")]),
        )
        .unwrap();
        assert_eq!(
            dirs,
            Dirs {
                state: "/home/u/.local/state/torsocks-rs/arti".into(),
                cache: "/var/cache/u/torsocks-rs/arti".into(),
            }
        );
    }

    #[test]
    fn relative_xdg_values_are_ignored() {
        let dirs = choose(None, env(&[("HOME", "/h"), ("XDG_STATE_HOME", "rel")])).unwrap();
        assert_eq!(
            dirs.state,
            PathBuf::from("/h/.local/state/torsocks-rs/arti")
        );
    }

    #[test]
    fn tor_state_holds_both() {
        let dirs = choose(Some(Path::new("/srv/t")), env(&[])).unwrap();
        assert_eq!(
            (dirs.state, dirs.cache),
            ("/srv/t/state".into(), "/srv/t/cache".into())
        );
    }

    #[test]
    fn no_home_is_an_actionable_error() {
        let err = choose(None, env(&[])).unwrap_err().to_string();
        assert!(err.contains("--tor-state"), "{err}");
    }
}
