//! Creating the TUN device (`/dev/net/tun`, TUNSETIFF).
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Creates the TUN interface `name` (raw IP packets, no packet-information header) in
/// the current network namespace and returns its fd, close-on-exec and non-blocking.
pub(crate) fn create(name: &str) -> io::Result<OwnedFd> {
    let file: File = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open("/dev/net/tun")?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
        _pad: [0; 22],
    };
    let bytes = name.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: TUNSETIFF reads and writes one struct ifreq, which IfReq lays out.
    let rc = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            TUNSETIFF as _,
            &mut req as *mut IfReq,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file.into())
}

/// Reads one packet; `WouldBlock` when none is waiting.
pub(crate) fn read_packet(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for writes of its length; fd is an open TUN device.
    let n = unsafe {
        libc::read(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Writes one packet.
pub(crate) fn write_packet(fd: &OwnedFd, packet: &[u8]) -> io::Result<usize> {
    // SAFETY: packet is valid for reads of its length; fd is an open TUN device.
    let n = unsafe {
        libc::write(
            std::os::fd::AsRawFd::as_raw_fd(fd),
            packet.as_ptr().cast(),
            packet.len(),
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Hands the TUN fd to tokio's reactor.
pub(crate) fn register(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd stays open and keeps its number until the AsyncFd drops it.
    unsafe { tokio::io::unix::AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)
}

/// Lets the last reference to the TUN device go after this process has exited.
///
/// Closing the last fd of a TUN device unregisters the interface, and the kernel waits
/// for an RCU barrier to do so: tens of milliseconds that the caller would otherwise
/// wait for the command's status. A child keeps a reference until this process is gone
/// (it sees EOF on a pipe whose write end only this process holds), then exits,
/// releasing it. The child holds nothing else: not the caller's stdio, so nobody waits
/// on it. Without a fork (it failed), the fd is simply closed here.
pub(crate) fn release_later(tun: OwnedFd) {
    let Ok((read_end, write_end)) = nix::unistd::pipe() else {
        return;
    };
    let keep = [
        std::os::fd::AsRawFd::as_raw_fd(&tun),
        std::os::fd::AsRawFd::as_raw_fd(&read_end),
    ];
    // SAFETY: the child calls only async-signal-safe functions (close_range, read,
    // _exit) before it exits, as required after fork in a process that had threads.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let (low, high) = (keep[0].min(keep[1]), keep[0].max(keep[1]));
            // SAFETY: integer arguments only; the closed fds are this child's copies.
            unsafe {
                libc::syscall(libc::SYS_close_range, 0u32, (low - 1) as u32, 0u32);
                if high > low + 1 {
                    libc::syscall(
                        libc::SYS_close_range,
                        (low + 1) as u32,
                        (high - 1) as u32,
                        0u32,
                    );
                }
                libc::syscall(libc::SYS_close_range, (high + 1) as u32, u32::MAX, 0u32);
                let mut byte = 0u8;
                libc::read(keep[1], (&mut byte as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(read_end);
            drop(tun);
            // The write end stays open until this process exits.
            std::mem::forget(write_end);
        }
        Err(_) => drop(tun),
    }
}
