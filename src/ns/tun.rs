//! The TUN device (`/dev/net/tun`): creating it, reading and writing its packets.
//!
//! Every packet on it is preceded by a virtio-net header (`IFF_VNET_HDR`), through which
//! neither side computes or verifies TCP checksums: see [`netstack::vnet`].
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;

/// `_IOW('T', 202, int)` and `_IOW('T', 208, unsigned int)` (linux/if_tun.h).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
/// `IFF_VNET_HDR` (linux/if_tun.h): packets carry a `struct virtio_net_hdr`.
const IFF_VNET_HDR: libc::c_int = 0x4000;
/// `TUN_F_CSUM` (linux/if_tun.h): the kernel may send packets whose checksum is left
/// to be completed. No segmentation offload (`TUN_F_TSO4`...): packets stay within the
/// MTU.
const TUN_F_CSUM: libc::c_uint = 0x01;

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Creates the TUN interface `name` (IP packets behind a virtio-net header, checksum
/// offload on) in the current network namespace and returns its fd, close-on-exec and
/// non-blocking.
pub(crate) fn create(name: &str) -> io::Result<OwnedFd> {
    let file: File = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open("/dev/net/tun")?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TUN | libc::IFF_NO_PI | IFF_VNET_HDR) as libc::c_short,
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
    // SAFETY: TUNSETOFFLOAD takes its flags by value.
    let rc = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            TUNSETOFFLOAD as _,
            TUN_F_CSUM as libc::c_ulong,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file.into())
}

/// Reads one packet into `buf`, which must hold [`netstack::vnet::HEADER_LEN`] bytes
/// more than the MTU, and returns it without its header; `Ok(None)` for a read that
/// carried none (too short, or segmentation offload, never negotiated); `WouldBlock`
/// when none is waiting.
pub(crate) fn read_packet<'b>(fd: &OwnedFd, buf: &'b mut [u8]) -> io::Result<Option<&'b [u8]>> {
    let n = read(fd, buf)?;
    Ok(netstack::vnet::inbound(&buf[..n]))
}

/// Writes one IP packet behind its virtio-net header, as
/// [`netstack::vnet::outbound_header`] made it for the packet.
pub(crate) fn write_packet(
    fd: &OwnedFd,
    header: &[u8; netstack::vnet::HEADER_LEN],
    packet: &[u8],
) -> io::Result<usize> {
    let iov = [
        libc::iovec {
            iov_base: header.as_ptr() as *mut libc::c_void,
            iov_len: header.len(),
        },
        libc::iovec {
            iov_base: packet.as_ptr() as *mut libc::c_void,
            iov_len: packet.len(),
        },
    ];
    // SAFETY: both iovecs point to live buffers of their lengths, which writev only
    // reads; fd is an open TUN device.
    let n = unsafe { libc::writev(std::os::fd::AsRawFd::as_raw_fd(fd), iov.as_ptr(), 2) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// One read(2).
fn read(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
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

/// Hands an fd (the TUN device, PID 1's pidfd) to tokio's reactor.
pub(crate) fn register_fd(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
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
/// on it. It is forked before the launcher confines itself (which forbids forks), while
/// the launcher has a single thread; without a fork (it failed), the launcher's own
/// close at exit is the last.
pub(crate) fn release_after_exit(tun: &OwnedFd) {
    let Ok((read_end, write_end)) = nix::unistd::pipe() else {
        return;
    };
    let keep = [
        std::os::fd::AsRawFd::as_raw_fd(tun),
        std::os::fd::AsRawFd::as_raw_fd(&read_end),
    ];
    // SAFETY: the child calls only async-signal-safe functions (close_range, read,
    // _exit) before it exits.
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
            // The write end stays open until this process exits.
            std::mem::forget(write_end);
        }
        Err(_) => {}
    }
}
