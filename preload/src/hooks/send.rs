//! sendto, sendmsg, sendmmsg (P-24..P-27): datagrams only to where V allows, and
//! MSG_FASTOPEN turned into a Tor connect followed by an ordinary send.
#![allow(unsafe_code)]

use libc::{c_int, c_uint, c_void, mmsghdr, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use super::check::{self, Verdict};
use super::connect::connect_checked;
use super::run;
use crate::c_addr::caller_addr;
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
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::SENDTO.get()(fd, buf, n, flags, dest, dlen) };
    // SAFETY: as above, the destination alone (P-24).
    let connect = || unsafe { real::CONNECT.get()(fd, dest, dlen) };
    // SAFETY: as above, the data alone, MSG_FASTOPEN taken out (P-24).
    let send = || unsafe { libc::send(fd, buf, n, flags & !libc::MSG_FASTOPEN) };
    // SAFETY: sendto(2)'s contract: a non-NULL dest points to dlen readable bytes.
    let to = unsafe { caller_addr!(dest, dlen) };
    let hook = || sending(fd, flags, to, pass, connect, send);
    run(pass, || fail(libc::ENOMEM), hook)
}

/// The rules of a send with the destination `to` (P-24, P-25): with MSG_FASTOPEN,
/// connect exactly as connect() would, then an ordinary send; otherwise V.
fn sending(
    fd: c_int,
    flags: c_int,
    to: Option<&[u8]>,
    pass: impl FnOnce() -> ssize_t,
    connect: impl FnOnce() -> c_int,
    send: impl FnOnce() -> ssize_t,
) -> ssize_t {
    if flags & libc::MSG_FASTOPEN != 0 {
        if connect_checked(fd, to, connect) != 0 {
            return -1;
        }
        return send();
    }
    match check::destination(fd, to) {
        Verdict::Deny(e) => fail(e),
        Verdict::Pass | Verdict::Tor(_) => pass(), // P-25
    }
}

/// sendmsg(2) (P-26).
#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::SENDMSG.get()(fd, msg, flags) };
    if msg.is_null() {
        return run(pass, || fail(libc::ENOMEM), pass); // D-14: the C library reports it
    }
    // SAFETY: sendmsg(2)'s contract: a non-NULL msg points to a readable msghdr.
    let header = unsafe { *msg };
    // SAFETY: the caller's header with no destination, its buffers unchanged (P-24).
    let send = || unsafe { real::SENDMSG.get()(fd, &unnamed(header), flags & !libc::MSG_FASTOPEN) };
    let (name, namelen) = (header.msg_name.cast::<sockaddr>(), header.msg_namelen);
    // SAFETY: the caller's own destination, handed on unchanged (P-24).
    let connect = || unsafe { real::CONNECT.get()(fd, name, namelen) };
    // SAFETY: sendmsg(2)'s contract: a non-NULL msg_name points to msg_namelen readable
    // bytes.
    let to = unsafe { caller_addr!(name, namelen) };
    let hook = || sending(fd, flags, to, pass, connect, send);
    run(pass, || fail(libc::ENOMEM), hook)
}

/// `header` without its destination: what follows the Tor connect of MSG_FASTOPEN.
fn unnamed(mut header: msghdr) -> msghdr {
    header.msg_name = std::ptr::null_mut();
    header.msg_namelen = 0;
    header
}

/// sendmmsg(2) (P-27): every destination is checked before anything is sent.
#[no_mangle]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    vec: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's own arguments, handed on unchanged.
    let pass = || unsafe { real::SENDMMSG.get()(fd, vec, vlen, flags) };
    let messages: &[mmsghdr] = if vec.is_null() {
        &[] // the C library reports the bad pointer
    } else {
        // SAFETY: sendmmsg(2)'s contract: vec points to vlen readable headers.
        unsafe { std::slice::from_raw_parts(vec, vlen as usize) }
    };
    // SAFETY: as for sendmsg, for each message.
    let destination =
        |m: &mmsghdr| unsafe { caller_addr!(m.msg_hdr.msg_name, m.msg_hdr.msg_namelen) };
    let hook = || sending_many(fd, flags, messages.iter().map(destination), pass);
    run(pass, || fail(libc::ENOMEM), hook)
}

/// sendmmsg's rule: no MSG_FASTOPEN, and V for every destination before anything is
/// sent.
fn sending_many<'a>(
    fd: c_int,
    flags: c_int,
    mut destinations: impl Iterator<Item = Option<&'a [u8]>>,
    pass: impl FnOnce() -> c_int,
) -> c_int {
    if flags & libc::MSG_FASTOPEN != 0 {
        return fail(libc::EOPNOTSUPP);
    }
    let denied = destinations.find_map(|to| match check::destination(fd, to) {
        Verdict::Deny(e) => Some(e),
        _ => None,
    });
    match denied {
        Some(e) => fail(e),
        None => pass(),
    }
}
