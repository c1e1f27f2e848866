//! sendto, sendmsg, sendmmsg (P-24..P-27): datagrams only to where V allows, and
//! MSG_FASTOPEN turned into a Tor connect followed by an ordinary send.
#![allow(unsafe_code)]

use libc::{c_int, c_uint, c_void, mmsghdr, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use super::check::{self, Verdict};
use super::connect::connect_checked;
use super::run;
use crate::errno::fail;
use crate::real;

/// sendto(2).
#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    dest: *const sockaddr,
    dlen: socklen_t,
) -> ssize_t {
    let pass = || real::SENDTO.get()(fd, buf, n, flags, dest, dlen);
    run(
        pass,
        || fail(libc::ENOMEM),
        || {
            if flags & libc::MSG_FASTOPEN != 0 {
                // P-24: connect exactly as connect() would, then an ordinary send.
                if connect_checked(fd, dest, dlen) != 0 {
                    return -1;
                }
                return libc::send(fd, buf, n, flags & !libc::MSG_FASTOPEN);
            }
            match check::destination(fd, dest, dlen) {
                Verdict::Deny(e) => fail(e),
                Verdict::Pass | Verdict::Tor(_) => pass(), // P-25
            }
        },
    )
}

/// The destination of a message: msg_name when set (P-26).
unsafe fn message_destination(msg: *const msghdr) -> (*const sockaddr, socklen_t) {
    if (*msg).msg_name.is_null() || (*msg).msg_namelen == 0 {
        (std::ptr::null(), 0)
    } else {
        ((*msg).msg_name.cast(), (*msg).msg_namelen)
    }
}

/// sendmsg(2) (P-26).
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let pass = || real::SENDMSG.get()(fd, msg, flags);
    run(
        pass,
        || fail(libc::ENOMEM),
        || {
            if msg.is_null() {
                return pass(); // D-14: the C library reports the bad pointer
            }
            let (dest, dlen) = message_destination(msg);
            if flags & libc::MSG_FASTOPEN != 0 {
                if connect_checked(fd, dest, dlen) != 0 {
                    return -1;
                }
                let mut connected = *msg;
                connected.msg_name = std::ptr::null_mut();
                connected.msg_namelen = 0;
                return real::SENDMSG.get()(fd, &connected, flags & !libc::MSG_FASTOPEN);
            }
            match check::destination(fd, dest, dlen) {
                Verdict::Deny(e) => fail(e),
                Verdict::Pass | Verdict::Tor(_) => pass(),
            }
        },
    )
}

/// sendmmsg(2) (P-27): every destination is checked before anything is sent.
#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    vec: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    let pass = || real::SENDMMSG.get()(fd, vec, vlen, flags);
    run(
        pass,
        || fail(libc::ENOMEM),
        || {
            if flags & libc::MSG_FASTOPEN != 0 {
                return fail(libc::EOPNOTSUPP);
            }
            if !vec.is_null() {
                for i in 0..vlen as usize {
                    let (dest, dlen) = message_destination(&(*vec.add(i)).msg_hdr);
                    if let Verdict::Deny(e) = check::destination(fd, dest, dlen) {
                        return fail(e);
                    }
                }
            }
            pass()
        },
    )
}
