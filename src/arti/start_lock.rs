//! Runs at once share one state and cache directory (a warm start for each, the same
//! guards): Arti lets one process write them and opens them read-only for the others,
//! which take over the writing when the writer ends. A reader needs the writer's
//! directory database to exist already, so clients are created one at a time, under
//! a lock in the state directory; bootstrapping then goes on in parallel.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use super::ArtiError;

/// The lock's file, in the state directory.
const NAME: &str = "torsocks-start.lock";

/// How often a run that waits tries the lock again.
const RETRY: Duration = Duration::from_millis(20);

/// Held while a client is created; released when dropped (or when the process ends).
#[derive(Debug)]
pub(crate) struct StartLock {
    _held: Option<Flock<File>>,
}

impl StartLock {
    /// Takes the lock of `state` (no lock without a known state directory), waiting
    /// at most `within` for another run to finish creating its client.
    pub(crate) async fn take(state: Option<&Path>, within: Duration) -> Result<Self, ArtiError> {
        let Some(state) = state else {
            return Ok(StartLock { _held: None });
        };
        let path = state.join(NAME);
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|source| ArtiError::Directory {
                    path: path.clone(),
                    source,
                })?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(held) => return Ok(StartLock { _held: Some(held) }),
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {}
                Err((_, errno)) => {
                    return Err(ArtiError::Directory {
                        path,
                        source: errno.into(),
                    })
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ArtiError::StartLock {
                    path,
                    secs: within.as_secs(),
                });
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_run_at_a_time_creates_its_client() {
        let dir = std::env::temp_dir().join(format!("start-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = StartLock::take(Some(&dir), Duration::from_secs(1))
            .await
            .unwrap();
        // Another open file description, as another process would have.
        let waited = StartLock::take(Some(&dir), Duration::from_millis(100)).await;
        assert!(
            matches!(waited, Err(ArtiError::StartLock { .. })),
            "{waited:?}"
        );
        drop(first);
        let second = StartLock::take(Some(&dir), Duration::from_secs(1)).await;
        assert!(second.is_ok(), "{second:?}");
        let unnamed = StartLock::take(None, Duration::ZERO).await;
        assert!(unnamed.is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
