//! syscall(2) (P-42, P-43): the system calls torsocks wraps are routed to their hooks;
//! every other number goes straight to the C library, silently.
#![allow(unsafe_code)]

use libc::{c_long, c_void};

use super::{connect, fd, inbound, peer, process, recv, send, socket};
use crate::real;

/// syscall(2). C declares it variadic; on the supported ABIs (x86-64 and aarch64 Linux)
/// the first six arguments after the number arrive exactly as fixed arguments would,
/// and a caller that passed fewer leaves only unused values in the rest.
#[no_mangle]
pub unsafe extern "C" fn syscall(
    number: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    let (i1, i2, i3, i4) = (a1 as i32, a2 as i32, a3 as i32, a4 as i32);
    let p = |a: c_long| a as *mut c_void;
    // SAFETY: syscall(2)'s contract: the arguments are those of the numbered system
    // call, whose C wrapper has the hook's prototype.
    unsafe {
        match number {
            libc::SYS_socket => c_long::from(socket::socket(i1, i2, i3)),
            libc::SYS_socketpair => c_long::from(socket::socketpair(i1, i2, i3, p(a4).cast())),
            libc::SYS_connect => c_long::from(connect::connect(i1, p(a2).cast(), a3 as u32)),
            libc::SYS_close => c_long::from(fd::close(i1)),
            libc::SYS_sendto => {
                send::sendto(i1, p(a2), a3 as usize, i4, p(a5).cast(), a6 as u32) as c_long
            }
            libc::SYS_sendmsg => send::sendmsg(i1, p(a2).cast(), i3) as c_long,
            libc::SYS_sendmmsg => c_long::from(send::sendmmsg(i1, p(a2).cast(), a3 as u32, i4)),
            libc::SYS_recvmsg => recv::recvmsg(i1, p(a2).cast(), i3) as c_long,
            libc::SYS_listen => c_long::from(inbound::listen(i1, i2)),
            libc::SYS_accept => c_long::from(inbound::accept(i1, p(a2).cast(), p(a3).cast())),
            libc::SYS_accept4 => c_long::from(inbound::accept4(i1, p(a2).cast(), p(a3).cast(), i4)),
            libc::SYS_getpeername => {
                c_long::from(peer::getpeername(i1, p(a2).cast(), p(a3).cast()))
            }
            libc::SYS_execve => {
                c_long::from(process::execve(p(a1).cast(), p(a2).cast(), p(a3).cast()))
            }
            libc::SYS_dup => c_long::from(fd::dup(i1)),
            #[cfg(target_arch = "x86_64")]
            libc::SYS_dup2 => c_long::from(fd::dup2(i1, i2)),
            libc::SYS_dup3 => c_long::from(fd::dup3(i1, i2, i3)),
            libc::SYS_fcntl => c_long::from(fd::fcntl(i1, i2, a3)),
            _ => real::SYSCALL.get()(number, a1, a2, a3, a4, a5, a6),
        }
    }
}
