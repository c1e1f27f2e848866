//! The registry of named sandboxes: one file per running sandbox in a directory of
//! the user's own (0700, under `$XDG_RUNTIME_DIR`), saying which process is its PID 1
//! beyond the PID number (its start time, so that a reused PID is never taken for
//! it) and what its first command got (user, bounds, environment), so that a joined
//! command gets the same. The format is sans-IO and unit-tested; the files are
//! written before the launcher confines itself, and an entry whose PID 1 is gone is
//! stale: removed by the next `--name`, `--list` or `--join`.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};
use torsocks_core::hex;

use super::error::JoinError;

/// The first line of every entry (and the format's version).
const MAGIC: &str = "torsocks-ns sandbox 1";

/// What a running sandbox is, for `--list` and `--join`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its PID 1, in the launcher's PID namespace.
    pub pid1: i32,
    /// PID 1's start time (clock ticks after boot, `/proc/PID/stat` field 22).
    pub start: u64,
    /// The launcher's pid.
    pub launcher: i32,
    /// The user the commands run as, in the sandbox's user namespace.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
    /// RLIMIT_NPROC of its commands.
    pub max_procs: u64,
    /// RLIMIT_AS of its commands, when bounded.
    pub memory: Option<u64>,
    /// Whether its commands run in a session of their own.
    pub new_session: bool,
    /// The first command's argv.
    pub command: Vec<OsString>,
    /// The first command's environment.
    pub env: Vec<(OsString, OsString)>,
    /// The launcher's working directory (the command's, bound at the same path).
    pub cwd: Option<PathBuf>,
    /// `--allow-userns`: its commands may create user namespaces.
    pub allow_userns: bool,
}

impl Entry {
    /// The user commands run as.
    pub(crate) fn run_as(&self) -> crate::ns::RunAs {
        crate::ns::RunAs {
            uid: Uid::from_raw(self.uid),
            gid: Gid::from_raw(self.gid),
        }
    }

    /// The entry's text.
    pub(crate) fn encode(&self) -> String {
        let mut text = format!(
            "{MAGIC}\npid1 {}\nstart {}\nlauncher {}\nrun_as {} {}\nmax_procs {}\nmemory {}\n\
             new_session {}\nuserns {}\n",
            self.pid1,
            self.start,
            self.launcher,
            self.uid,
            self.gid,
            self.max_procs,
            self.memory.map_or("-".to_string(), |m| m.to_string()),
            u8::from(self.new_session),
            u8::from(self.allow_userns),
        );
        if let Some(cwd) = &self.cwd {
            text.push_str(&format!(
                "cwd {}\n",
                hex::encode(cwd.as_os_str().as_bytes())
            ));
        }
        for arg in &self.command {
            text.push_str(&format!("arg {}\n", hex::encode(arg.as_bytes())));
        }
        for (name, value) in &self.env {
            let mut pair = name.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            text.push_str(&format!("env {}\n", hex::encode(&pair)));
        }
        text
    }

    /// Reads an entry; `None` for anything that is not one.
    pub(crate) fn decode(text: &str) -> Option<Entry> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut entry = Entry::empty();
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            entry.read_field(key, value)?;
        }
        (entry.pid1 > 0 && entry.start > 0 && !entry.command.is_empty()).then_some(entry)
    }

    fn empty() -> Entry {
        Entry {
            pid1: 0,
            start: 0,
            launcher: 0,
            uid: 0,
            gid: 0,
            max_procs: 0,
            memory: None,
            new_session: true,
            command: Vec::new(),
            env: Vec::new(),
            cwd: None,
            allow_userns: false,
        }
    }

    fn read_field(&mut self, key: &str, value: &str) -> Option<()> {
        match key {
            "pid1" => self.pid1 = value.parse().ok()?,
            "start" => self.start = value.parse().ok()?,
            "launcher" => self.launcher = value.parse().ok()?,
            "run_as" => {
                let (uid, gid) = value.split_once(' ')?;
                (self.uid, self.gid) = (uid.parse().ok()?, gid.parse().ok()?);
            }
            "max_procs" => self.max_procs = value.parse().ok()?,
            "memory" if value == "-" => self.memory = None,
            "memory" => self.memory = Some(value.parse().ok()?),
            "new_session" => self.new_session = value == "1",
            "userns" => self.allow_userns = value == "1",
            "cwd" => self.cwd = Some(PathBuf::from(OsString::from_vec(hex::decode(value)?))),
            "arg" => self.command.push(OsString::from_vec(hex::decode(value)?)),
            "env" => {
                let pair = hex::decode(value)?;
                let at = pair.iter().position(|&b| b == b'=')?;
                let (name, value) = (&pair[..at], &pair[at + 1..]);
                self.env.push((
                    OsString::from_vec(name.to_vec()),
                    OsString::from_vec(value.to_vec()),
                ));
            }
            _ => return None,
        }
        Some(())
    }

    /// Whether PID 1 is still the process this entry names (its start time, read
    /// from `stat`, the text of `/proc/PID/stat`).
    pub(crate) fn is_alive_in(&self, stat: Option<&str>) -> bool {
        stat.and_then(start_time) == Some(self.start)
    }
}

/// Field `n` (numbered as in proc_pid_stat(5), from 3) of a `/proc/PID/stat` text;
/// the command name (field 2) may hold spaces and parentheses, so fields are counted
/// after its last `)`.
pub(crate) fn stat_field<T: std::str::FromStr>(stat: &str, n: usize) -> Option<T> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

/// Field 22 (starttime) of a `/proc/PID/stat` text.
pub(crate) fn start_time(stat: &str) -> Option<u64> {
    stat_field(stat, 22)
}

/// A sandbox's name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`
/// (a file name in the registry, and a word on a command line).
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The registry's directory for this user: `$XDG_RUNTIME_DIR/torsocks-ns`, else (root
/// without one) `/run/torsocks-ns`.
pub(crate) fn directory(runtime_dir: Option<&Path>, is_root: bool) -> Result<PathBuf, JoinError> {
    match (runtime_dir, is_root) {
        (Some(dir), _) if dir.is_absolute() => Ok(dir.join("torsocks-ns")),
        (_, true) => Ok(PathBuf::from("/run/torsocks-ns")),
        _ => Err(JoinError::NoRuntimeDir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            pid1: 4242,
            start: 987_654,
            launcher: 4241,
            uid: 1000,
            gid: 1000,
            max_procs: 4096,
            memory: Some(1 << 30),
            new_session: false,
            command: vec!["sh".into(), "-c".into(), "echo a b\nnext".into()],
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("EMPTY".into(), "".into()),
                ("WITH".into(), "a=b\nc".into()),
            ],
            cwd: Some("/home/u/a dir".into()),
            allow_userns: false,
        }
    }

    #[test]
    fn an_entry_reads_back_as_written() {
        assert_eq!(Entry::decode(&entry().encode()), Some(entry()));
        let unbounded = Entry {
            memory: None,
            allow_userns: true,
            ..entry()
        };
        assert_eq!(Entry::decode(&unbounded.encode()), Some(unbounded));
    }

    #[test]
    fn what_is_not_an_entry_is_refused() {
        assert_eq!(Entry::decode(""), None);
        assert_eq!(Entry::decode("torsocks-ns sandbox 2\npid1 1\n"), None);
        let text = entry().encode();
        assert_eq!(Entry::decode(&text.replace("pid1 4242", "pid1 x")), None);
        assert_eq!(Entry::decode(&format!("{text}unknown 1\n")), None);
        assert_eq!(Entry::decode(&text.replace("env 50", "env zz")), None);
    }

    #[test]
    fn a_reused_pid_is_not_the_sandbox() {
        let stat = |start: u64| {
            format!("4242 (a) b) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 {start} 1 1")
        };
        assert_eq!(start_time(&stat(987_654)), Some(987_654));
        assert!(entry().is_alive_in(Some(&stat(987_654))));
        assert!(!entry().is_alive_in(Some(&stat(987_655))));
        assert!(!entry().is_alive_in(None));
    }

    #[test]
    fn names_are_file_names_and_words() {
        for good in ["web", "a.b_c-1", "X"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "a b", "..", &"n".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_directory_is_the_user_s_runtime_directory() {
        assert_eq!(
            directory(Some(Path::new("/run/user/1000")), false).unwrap(),
            Path::new("/run/user/1000/torsocks-ns")
        );
        assert_eq!(
            directory(None, true).unwrap(),
            Path::new("/run/torsocks-ns")
        );
        assert!(directory(None, false).is_err());
        assert!(directory(Some(Path::new("relative")), false).is_err());
    }
}
