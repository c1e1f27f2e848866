//! recvmsg (P-28..P-34): a program must not receive an inet socket from another
//! process over a unix socket, since that socket could bypass Tor.
#![allow(unsafe_code)]

use libc::{c_int, c_void, msghdr, ssize_t};
use torsocks_core::log_debug;

use super::run;
use crate::c_addr::RawAddr;
use crate::errno::{self, fail};
use crate::real;

/// Room for 253 descriptors (SCM_MAX_FD) plus one credentials message.
const CONTROL_LEN: usize = 1024 + 64;

/// A control-message buffer aligned as `struct cmsghdr` must be.
#[repr(C, align(8))]
struct Control([u8; CONTROL_LEN]);

/// The family of the socket behind `fd`, read from its local address (getsockname;
/// [`crate::sockopt::socket_family`] asks SO_DOMAIN instead). None when `fd` is no socket.
fn local_address_family(fd: c_int) -> Option<i32> {
    RawAddr::local_of(fd).ok().map(|a| a.family())
}

/// recvmsg(2).
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::RECVMSG.get()(fd, msg, flags) };
    run(pass, || fail(libc::ENOMEM), || receiving(fd, flags, pass))
}

/// What the next message on a unix socket carries, seen with MSG_PEEK.
struct Peeked {
    /// The descriptors of its SCM_RIGHTS messages (ours now: they must be closed).
    fds: Vec<c_int>,
    /// The kernel dropped control data that did not fit.
    truncated: bool,
}

/// The rules of recvmsg on `fd` (P-28..P-34); `pass` is the caller's own recvmsg.
fn receiving(fd: c_int, flags: c_int, pass: impl FnOnce() -> ssize_t) -> ssize_t {
    match local_address_family(fd) {
        None => return fail(libc::EBADF), // P-28
        Some(libc::AF_UNIX) => {}
        Some(_) => return pass(), // P-29
    }
    let peeked = match peek(fd, flags) {
        Ok(Some(peeked)) => peeked,
        Ok(None) => return pass(), // no control data
        Err(()) => return -1,      // errno from the peek (EAGAIN on an empty non-blocking socket)
    };
    // P-32, P-33: inspect every descriptor; close each of our copies.
    let mut inet = false;
    for passed in peeked.fds {
        if matches!(
            local_address_family(passed),
            Some(libc::AF_INET | libc::AF_INET6)
        ) {
            inet = true;
        }
        // SAFETY: `passed` is our own copy of the descriptor, made by the peek.
        unsafe { real::CLOSE.get()(passed) };
    }
    if peeked.truncated {
        return fail(libc::EMSGSIZE); // P-31
    }
    if inet {
        log_debug!("[recvmsg] Inet socket passing detected. Denying it.");
        return fail(libc::EACCES); // P-34: the message stays queued
    }
    pass()
}

/// Peeks at the next message with private buffers (P-30): `None` when it carries no
/// control data; `Err` with errno set when the peek fails.
fn peek(fd: c_int, flags: c_int) -> Result<Option<Peeked>, ()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast::<c_void>(),
        iov_len: 1,
    };
    let mut control = Control([0; CONTROL_LEN]);
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut header: msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.0.as_mut_ptr().cast();
    header.msg_controllen = CONTROL_LEN as _;
    let peek_flags = flags | libc::MSG_PEEK | libc::MSG_CMSG_CLOEXEC;
    let rc = loop {
        // SAFETY: header points to our own iovec and control buffer, of the sizes given.
        let rc = unsafe { real::RECVMSG.get()(fd, &mut header, peek_flags) };
        if rc >= 0 || errno::get() != libc::EINTR {
            break rc;
        }
    };
    if rc < 0 {
        return Err(());
    }
    let used = (header.msg_controllen as usize).min(CONTROL_LEN);
    if used == 0 {
        return Ok(None);
    }
    Ok(Some(Peeked {
        fds: passed_descriptors(&control.0[..used]),
        truncated: header.msg_flags & libc::MSG_CTRUNC != 0,
    }))
}

/// The size of `struct cmsghdr` (`cmsg_len`, `cmsg_level`, `cmsg_type`), where its
/// data begins (CMSG_LEN(0)).
const CMSG_HEADER: usize = std::mem::size_of::<libc::cmsghdr>();

/// CMSG_ALIGN: control messages start on `size_t` boundaries.
fn cmsg_align(len: usize) -> usize {
    let a = std::mem::size_of::<usize>();
    len.div_ceil(a) * a
}

/// The descriptors of every SCM_RIGHTS message in a control buffer (the walk of
/// CMSG_FIRSTHDR/CMSG_NXTHDR over bytes: cmsg(3)).
fn passed_descriptors(control: &[u8]) -> Vec<c_int> {
    let word = std::mem::size_of::<usize>();
    let int = std::mem::size_of::<c_int>();
    let int_at =
        |b: &[u8], at: usize| c_int::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut fds = Vec::new();
    let mut at = 0;
    while let Some(header) = control.get(at..at + CMSG_HEADER) {
        let mut len_bytes = [0u8; std::mem::size_of::<usize>()];
        len_bytes.copy_from_slice(&header[..word]);
        let len = usize::from_ne_bytes(len_bytes);
        let (level, kind) = (int_at(header, word), int_at(header, word + int));
        if len < CMSG_HEADER {
            break; // malformed: the kernel never writes this
        }
        // The kernel never claims more than it wrote; read what is there regardless,
        // so that every descriptor we were given is found and closed.
        let data = control
            .get(at + CMSG_HEADER..(at + len).min(control.len()))
            .unwrap_or_default();
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            fds.extend(data.chunks_exact(int).map(|b| int_at(b, 0)));
        }
        at += cmsg_align(len);
    }
    fds
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One control message as the kernel lays it out.
    fn message(level: c_int, kind: c_int, data: &[u8]) -> Vec<u8> {
        let len = CMSG_HEADER + data.len();
        let mut m = len.to_ne_bytes().to_vec();
        m.extend(level.to_ne_bytes());
        m.extend(kind.to_ne_bytes());
        m.extend(data);
        m.resize(cmsg_align(len), 0);
        m
    }

    fn fds(list: &[c_int]) -> Vec<u8> {
        list.iter().flat_map(|fd| fd.to_ne_bytes()).collect()
    }

    #[test]
    fn the_header_is_the_c_librarys() {
        // SAFETY: CMSG_LEN and CMSG_SPACE are arithmetic on their argument.
        let (len0, space3) = unsafe { (libc::CMSG_LEN(0), libc::CMSG_SPACE(3)) };
        assert_eq!(len0 as usize, CMSG_HEADER);
        assert_eq!(space3 as usize, cmsg_align(CMSG_HEADER + 3));
    }

    #[test]
    fn descriptors_of_every_rights_message_are_found() {
        let mut control = message(libc::SOL_SOCKET, libc::SCM_RIGHTS, &fds(&[7]));
        control.extend(message(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[0; 12]));
        control.extend(message(
            libc::SOL_SOCKET,
            libc::SCM_RIGHTS,
            &fds(&[8, 9, 10]),
        ));
        assert_eq!(passed_descriptors(&control), vec![7, 8, 9, 10]);
    }

    #[test]
    fn other_messages_and_truncated_buffers_give_nothing_more() {
        let creds = message(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[0; 12]);
        assert!(passed_descriptors(&creds).is_empty());
        let rights = message(libc::SOL_SOCKET, libc::SCM_RIGHTS, &fds(&[3, 4]));
        assert_eq!(passed_descriptors(&rights[..CMSG_HEADER + 4]), vec![3]);
        assert!(passed_descriptors(&rights[..CMSG_HEADER - 1]).is_empty());
        let mut bad = rights.clone();
        bad[..8].copy_from_slice(&0usize.to_ne_bytes());
        assert!(passed_descriptors(&bad).is_empty());
    }
}
