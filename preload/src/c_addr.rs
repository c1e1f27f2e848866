//! Reading and writing C socket addresses.
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use libc::{sa_family_t, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_storage, socklen_t};

/// The size of `sockaddr_in` (16).
pub const V4_LEN: usize = std::mem::size_of::<sockaddr_in>();
/// The size of `sockaddr_in6` (28).
pub const V6_LEN: usize = std::mem::size_of::<sockaddr_in6>();

/// The size of `sockaddr_storage` (128): the kernel reads no more of a caller's address.
pub const STORAGE_LEN: usize = std::mem::size_of::<sockaddr_storage>();

/// The bytes torsocks may read of a caller's `len`-byte address: `min(len,
/// STORAGE_LEN)`, since the kernel refuses anything longer and so reads no more.
pub fn readable_len(len: socklen_t) -> usize {
    (len as usize).min(STORAGE_LEN)
}

/// The readable bytes of a caller's socket address `(ptr, len)`, `None` for NULL.
/// Expanded inside an export's unsafe block, whose SAFETY comment is the C contract
/// that a non-NULL `ptr` points to `len` readable bytes.
macro_rules! caller_addr {
    ($ptr:expr, $len:expr) => {{
        let (ptr, len) = ($ptr, $len);
        (!ptr.is_null()).then(|| {
            std::slice::from_raw_parts(ptr.cast::<u8>(), $crate::c_addr::readable_len(len))
        })
    }};
}
pub(crate) use caller_addr;

/// The family of a caller's address (its first two bytes), or `None` for NULL or a
/// length too short to hold the family field.
pub fn family(addr: Option<&[u8]>) -> Option<i32> {
    let field = addr?.get(..std::mem::size_of::<sa_family_t>())?;
    Some(i32::from(sa_family_t::from_ne_bytes([field[0], field[1]])))
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// Reads an AF_INET or AF_INET6 address in the C layout (`sockaddr_in`,
/// `sockaddr_in6`); `None` for other families or fewer bytes than the family's size.
pub fn read_inet(addr: &[u8]) -> Option<SocketAddr> {
    match family(Some(addr))? {
        libc::AF_INET if addr.len() >= V4_LEN => Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(array::<4>(addr, 4)),
            u16::from_be_bytes(array(addr, 2)),
        ))),
        libc::AF_INET6 if addr.len() >= V6_LEN => Some(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(array::<16>(addr, 8)),
            u16::from_be_bytes(array(addr, 2)),
            // Both are kept as the caller stored them, as the C fields hold them.
            u32::from_ne_bytes(array(addr, 4)),
            u32::from_ne_bytes(array(addr, 24)),
        ))),
        _ => None,
    }
}

/// A socket address in C layout, owned.
#[derive(Clone, Copy)]
pub struct RawAddr {
    storage: sockaddr_storage,
    len: socklen_t,
}

impl RawAddr {
    /// The C form of `addr`.
    pub fn from_socket_addr(addr: SocketAddr) -> RawAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let mut storage: sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(v4) => {
                let sin = sockaddr_in {
                    sin_family: libc::AF_INET as sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*v4.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write((&mut storage as *mut sockaddr_storage).cast(), sin) };
                V4_LEN
            }
            SocketAddr::V6(v6) => {
                let sin6 = sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: as above, for sockaddr_in6.
                unsafe { std::ptr::write((&mut storage as *mut sockaddr_storage).cast(), sin6) };
                V6_LEN
            }
        };
        RawAddr {
            storage,
            len: len as socklen_t,
        }
    }

    /// A copy of a caller's address bytes (at most sockaddr_storage's size).
    pub fn copy_from(addr: &[u8]) -> RawAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let mut storage: sockaddr_storage = unsafe { std::mem::zeroed() };
        let n = addr.len().min(STORAGE_LEN);
        // SAFETY: storage is STORAGE_LEN bytes of plain data, n of them written from a
        // slice that holds at least n; the two do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                addr.as_ptr(),
                (&mut storage as *mut sockaddr_storage).cast::<u8>(),
                n,
            )
        };
        RawAddr {
            storage,
            len: n as socklen_t,
        }
    }

    /// The address a socket is bound to (getsockname into storage big enough for any
    /// family, P-41); the errno on failure.
    pub fn local_of(fd: i32) -> Result<RawAddr, crate::errno::Errno> {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let mut storage: sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<sockaddr_storage>() as socklen_t;
        // SAFETY: storage and len are valid out-pointers of the sizes given.
        let rc = unsafe {
            libc::getsockname(fd, (&mut storage as *mut sockaddr_storage).cast(), &mut len)
        };
        if rc != 0 {
            return Err(crate::errno::Errno::last());
        }
        Ok(RawAddr { storage, len })
    }

    /// The address family.
    pub fn family(&self) -> i32 {
        i32::from(self.storage.ss_family)
    }

    /// The address as an IP socket address, for AF_INET and AF_INET6.
    pub fn inet(&self) -> Option<SocketAddr> {
        read_inet(self.bytes())
    }

    /// Pointer for C calls.
    pub fn as_ptr(&self) -> *const sockaddr {
        (&self.storage as *const sockaddr_storage).cast()
    }

    /// Length for C calls.
    pub fn len(&self) -> socklen_t {
        self.len
    }

    /// True for a zero-length address.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes, as C sees them.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: storage is plain data at least `len` bytes long.
        unsafe {
            std::slice::from_raw_parts(
                (&self.storage as *const sockaddr_storage).cast::<u8>(),
                self.len as usize,
            )
        }
    }

    /// Copies `min(out.len(), self.len)` bytes to the start of a caller's buffer and
    /// returns that count (P-22).
    pub fn copy_to(&self, out: &mut [std::mem::MaybeUninit<u8>]) -> socklen_t {
        let n = out.len().min(self.len as usize);
        for (slot, byte) in out.iter_mut().zip(self.bytes()) {
            slot.write(*byte);
        }
        n as socklen_t
    }
}

/// The IP of an address, with IPv4-mapped addresses classified by the embedded IPv4.
pub fn canonical_ip(addr: &SocketAddr) -> IpAddr {
    torsocks_core::addr::canonical(addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_back_as_written() {
        for addr in [
            "192.0.2.7:80".parse::<SocketAddr>().unwrap(),
            "[2001:db8::1]:443".parse().unwrap(),
            SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 9, 0x0102, 3)),
        ] {
            let raw = RawAddr::from_socket_addr(addr);
            assert_eq!(read_inet(raw.bytes()), Some(addr));
            assert_eq!(raw.inet(), Some(addr));
            assert_eq!(RawAddr::copy_from(raw.bytes()).inet(), Some(addr));
        }
    }

    #[test]
    fn short_or_foreign_addresses_are_not_inet() {
        let v4 = RawAddr::from_socket_addr("192.0.2.7:80".parse().unwrap());
        assert_eq!(family(None), None);
        assert_eq!(family(Some(&v4.bytes()[..1])), None);
        assert_eq!(family(Some(&v4.bytes()[..2])), Some(libc::AF_INET));
        assert_eq!(read_inet(&v4.bytes()[..V4_LEN - 1]), None);
        let unix = (libc::AF_UNIX as sa_family_t).to_ne_bytes();
        assert_eq!(read_inet(&unix), None);
    }

    #[test]
    fn copy_to_truncates_to_the_callers_room() {
        let v6 = RawAddr::from_socket_addr("[2001:db8::1]:443".parse().unwrap());
        let mut room = [std::mem::MaybeUninit::new(0xAAu8); 40];
        assert_eq!(v6.copy_to(&mut room) as usize, V6_LEN);
        assert_eq!(v6.copy_to(&mut room[..4]), 4);
    }
}
