//! The system calls of confinement that have no safe wrapper: the SIGSYS handler that
//! names a refused call (`-d`), and the list of fds inherited from the caller.
#![allow(unsafe_code)]

/// Where `si_syscall` is in a SIGSYS `siginfo_t` (64-bit Linux: the union starts at
/// 16, and `_sigsys` begins with the call's address).
const SI_SYSCALL_OFFSET: usize = 16 + std::mem::size_of::<usize>();

/// The exit status after a refused call: as if killed by SIGSYS.
const EXIT_REFUSED: i32 = 128 + libc::SIGSYS;

/// Writes `torsocks-ns: ... NAME (NR) ...` to stderr and exits: only async-signal-safe
/// calls (write, _exit), the message built in a buffer on the stack.
extern "C" fn report(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SIGSYS with SA_SIGINFO; the field
    // read is inside it.
    let nr = unsafe {
        *info
            .cast::<u8>()
            .add(SI_SYSCALL_OFFSET)
            .cast::<libc::c_int>()
    };
    let mut message = Message::default();
    message.push(b"torsocks-ns: a system call outside the confinement's allow-list: ");
    message.push(super::seccomp::name(nr as i64).unwrap_or("?").as_bytes());
    message.push(b" (");
    message.number(nr as i64);
    message.push(b"); ending. This is a bug of torsocks-ns: please report it.\n");
    // SAFETY: write and _exit are async-signal-safe; the buffer outlives the call.
    unsafe {
        libc::write(2, message.bytes.as_ptr().cast(), message.len);
        libc::_exit(EXIT_REFUSED);
    }
}

/// A message in a fixed buffer (no allocation in a signal handler).
struct Message {
    bytes: [u8; 256],
    len: usize,
}

impl Default for Message {
    fn default() -> Self {
        Message {
            bytes: [0; 256],
            len: 0,
        }
    }
}

impl Message {
    fn push(&mut self, text: &[u8]) {
        let n = text.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&text[..n]);
        self.len += n;
    }

    fn number(&mut self, mut n: i64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        if n < 0 {
            self.push(b"-");
            n = -n;
        }
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[at..]);
    }
}

/// Installs [`report`] for SIGSYS: a call refused by a filter that traps is named.
pub(super) fn name_refused_calls() -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid starting value; the handler has the
    // SA_SIGINFO signature and calls only async-signal-safe functions.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = report as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The fds above stderr this process holds now (read from /proc/self/fd, whose own fd
/// is left out): at the start, those are the caller's.
pub(super) fn open_fds() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let listed: Vec<i32> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    // SAFETY: F_GETFD only asks whether the fd is open (the directory's is closed now).
    listed
        .into_iter()
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
        .collect()
}

/// Closes `fds`, which this process owns and no longer uses.
pub(super) fn close(fds: &[i32]) {
    for &fd in fds {
        // SAFETY: the fds were inherited from the caller, and nothing of this process
        // holds them (everything it opened itself got numbers of its own).
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_written_without_allocating() {
        let mut message = Message::default();
        message.push(b"call ");
        message.number(257);
        message.push(b" ");
        message.number(0);
        message.push(b" ");
        message.number(-3);
        assert_eq!(&message.bytes[..message.len], b"call 257 0 -3");
        let mut full = Message::default();
        full.push(&[b'x'; 300]);
        assert_eq!(full.len, 256, "a long message is cut, never overflows");
    }
}
