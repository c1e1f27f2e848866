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

/// The family of the socket behind `fd`, read from its local address (getsockname;
/// [`crate::sockopt::socket_family`] asks SO_DOMAIN instead). None when `fd` is no socket.
fn local_address_family(fd: c_int) -> Option<i32> {
    RawAddr::local_of(fd).ok().map(|a| a.family())
}

/// recvmsg(2).
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    let pass = || real::RECVMSG.get()(fd, msg, flags);
    run(
        pass,
        || fail(libc::ENOMEM),
        || {
            match local_address_family(fd) {
                None => return fail(libc::EBADF), // P-28
                Some(libc::AF_UNIX) => {}
                Some(_) => return pass(), // P-29
            }
            // P-30: peek at the next message with private buffers.
            let mut byte = [0u8; 1];
            let mut iov = libc::iovec {
                iov_base: byte.as_mut_ptr().cast::<c_void>(),
                iov_len: 1,
            };
            let mut control = [0u64; CONTROL_LEN / 8];
            let mut peek: msghdr = std::mem::zeroed();
            peek.msg_iov = &mut iov;
            peek.msg_iovlen = 1;
            peek.msg_control = control.as_mut_ptr().cast();
            peek.msg_controllen = CONTROL_LEN as _;
            let peek_flags = flags | libc::MSG_PEEK | libc::MSG_CMSG_CLOEXEC;
            let rc = loop {
                let rc = real::RECVMSG.get()(fd, &mut peek, peek_flags);
                if rc >= 0 || errno::get() != libc::EINTR {
                    break rc;
                }
            };
            if rc < 0 {
                return -1; // errno from the peek (EAGAIN on an empty non-blocking socket)
            }
            if peek.msg_controllen == 0 {
                return pass();
            }
            // P-32, P-33: inspect every SCM_RIGHTS message; close every peeked fd.
            let mut inet = false;
            let mut cmsg = libc::CMSG_FIRSTHDR(&peek);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(cmsg).cast::<c_int>();
                    let header = libc::CMSG_LEN(0) as usize;
                    let count = ((*cmsg).cmsg_len as usize).saturating_sub(header) / 4;
                    for i in 0..count {
                        let passed = std::ptr::read_unaligned(data.add(i));
                        if matches!(
                            local_address_family(passed),
                            Some(libc::AF_INET | libc::AF_INET6)
                        ) {
                            inet = true;
                        }
                        real::CLOSE.get()(passed);
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&peek, cmsg);
            }
            if peek.msg_flags & libc::MSG_CTRUNC != 0 {
                return fail(libc::EMSGSIZE); // P-31
            }
            if inet {
                log_debug!("[recvmsg] Inet socket passing detected. Denying it.");
                return fail(libc::EACCES); // P-34: the message stays queued
            }
            pass()
        },
    )
}
