//! The registry of torified fds (RG-1..RG-6): which fds were connected through Tor,
//! to which destination, so that getpeername reports the destination and a second
//! connect fails with EISCONN.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::c_addr::RawAddr;

/// What is known of a torified fd.
#[derive(Clone)]
pub struct Entry {
    /// The socket's identity (st_dev, st_ino) when the entry was made (RG-3).
    identity: (u64, u64),
    /// The destination exactly as passed to connect (RG-1).
    pub destination: RawAddr,
    /// For a cookie destination, the onion name.
    pub onion: Option<Box<str>>,
}

static ENTRIES: Mutex<Option<HashMap<i32, Entry>>> = Mutex::new(None);

/// How many entries exist. Most programs never torify more than a few fds, and every
/// close/dup in the process consults the registry: with no entry, no lock is taken.
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn recount(map: &HashMap<i32, Entry>) {
    COUNT.store(map.len(), Ordering::Release);
}

fn empty() -> bool {
    COUNT.load(Ordering::Acquire) == 0
}

fn entries() -> MutexGuard<'static, Option<HashMap<i32, Entry>>> {
    // No code panics while holding the lock, so a poisoned lock is still consistent.
    ENTRIES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holds the registry's lock until the returned guard is dropped (fork handlers, G-6).
pub fn hold() -> MutexGuard<'static, Option<HashMap<i32, Entry>>> {
    entries()
}

/// The identity of the open file behind `fd`.
pub fn identity(fd: i32) -> Option<(u64, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a struct stat on success and nothing on failure.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded.
    let st = unsafe { st.assume_init() };
    Some((st.st_dev, st.st_ino))
}

/// Records a successful hand-off (RG-2).
pub fn insert(fd: i32, destination: RawAddr, onion: Option<Box<str>>) {
    let Some(identity) = identity(fd) else { return };
    let mut guard = entries();
    let map = guard.get_or_insert_with(HashMap::new);
    map.insert(
        fd,
        Entry {
            identity,
            destination,
            onion,
        },
    );
    recount(map);
}

/// The entry of `fd`, if it is still the same socket (RG-3); a stale entry is dropped.
pub fn lookup(fd: i32) -> Option<Entry> {
    if empty() {
        return None;
    }
    let mut guard = entries();
    let map = guard.as_mut()?;
    let entry = map.get(&fd)?;
    if identity(fd) == Some(entry.identity) {
        return Some(entry.clone());
    }
    map.remove(&fd);
    recount(map);
    None
}

/// Forgets `fd` (RG-4).
pub fn remove(fd: i32) {
    if empty() {
        return;
    }
    if let Some(map) = entries().as_mut() {
        map.remove(&fd);
        recount(map);
    }
}

/// `new` is now a duplicate of `old` (RG-5): it gets a copy of old's entry, and loses
/// its own previous one.
pub fn duplicate(old: i32, new: i32) {
    if empty() {
        return;
    }
    let copy = lookup(old);
    let mut guard = entries();
    let map = guard.get_or_insert_with(HashMap::new);
    match copy {
        Some(entry) => {
            map.insert(new, entry);
        }
        None => {
            map.remove(&new);
        }
    }
    recount(map);
}
