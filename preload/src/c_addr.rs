//! Reading and writing C socket addresses.
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use libc::{sa_family_t, sockaddr, sockaddr_in, sockaddr_in6, sockaddr_storage, socklen_t};

/// The size of `sockaddr_in` (16).
pub const V4_LEN: usize = std::mem::size_of::<sockaddr_in>();
/// The size of `sockaddr_in6` (28).
pub const V6_LEN: usize = std::mem::size_of::<sockaddr_in6>();

/// The family of a caller's address, or `None` for NULL or a length too short to hold
/// the family field.
///
/// # Safety
/// `addr` is NULL or points to at least `len` readable bytes.
pub unsafe fn family(addr: *const sockaddr, len: socklen_t) -> Option<i32> {
    if addr.is_null() || (len as usize) < std::mem::size_of::<sa_family_t>() {
        return None;
    }
    Some(i32::from(std::ptr::read_unaligned(
        addr.cast::<sa_family_t>(),
    )))
}

/// Reads an AF_INET or AF_INET6 address; `None` for other families or a length below
/// the family's size.
///
/// # Safety
/// `addr` is NULL or points to at least `len` readable bytes.
pub unsafe fn read_inet(addr: *const sockaddr, len: socklen_t) -> Option<SocketAddr> {
    match family(addr, len)? {
        libc::AF_INET if len as usize >= V4_LEN => {
            let sin = std::ptr::read_unaligned(addr.cast::<sockaddr_in>());
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= V6_LEN => {
            let sin6 = std::ptr::read_unaligned(addr.cast::<sockaddr_in6>());
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
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

    /// A copy of the caller's `len` bytes at `addr` (at most sockaddr_storage's size).
    ///
    /// # Safety
    /// `addr` points to at least `len` readable bytes.
    pub unsafe fn copy_from(addr: *const sockaddr, len: socklen_t) -> RawAddr {
        let mut storage: sockaddr_storage = std::mem::zeroed();
        let n = (len as usize).min(std::mem::size_of::<sockaddr_storage>());
        std::ptr::copy_nonoverlapping(
            addr.cast::<u8>(),
            (&mut storage as *mut sockaddr_storage).cast::<u8>(),
            n,
        );
        RawAddr {
            storage,
            len: n as socklen_t,
        }
    }

    /// The address a socket is bound to (getsockname into storage big enough for any
    /// family, P-41); the errno on failure.
    pub fn local_of(fd: i32) -> Result<RawAddr, i32> {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let mut storage: sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<sockaddr_storage>() as socklen_t;
        // SAFETY: storage and len are valid out-pointers of the sizes given.
        let rc = unsafe {
            libc::getsockname(fd, (&mut storage as *mut sockaddr_storage).cast(), &mut len)
        };
        if rc != 0 {
            return Err(crate::errno::get());
        }
        Ok(RawAddr { storage, len })
    }

    /// The address family.
    pub fn family(&self) -> i32 {
        i32::from(self.storage.ss_family)
    }

    /// The address as an IP socket address, for AF_INET and AF_INET6.
    pub fn inet(&self) -> Option<SocketAddr> {
        // SAFETY: storage holds `len` initialised bytes.
        unsafe { read_inet(self.as_ptr(), self.len) }
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

    /// Copies `min(*len, self.len)` bytes to the caller and sets `*len` to that count
    /// (P-22).
    ///
    /// # Safety
    /// `addr` points to at least `*len` writable bytes; `len` is valid.
    pub unsafe fn copy_to(&self, addr: *mut sockaddr, len: *mut socklen_t) {
        let n = (*len).min(self.len);
        std::ptr::copy_nonoverlapping(self.bytes().as_ptr(), addr.cast::<u8>(), n as usize);
        *len = n;
    }
}

/// The IP of an address, with IPv4-mapped addresses classified by the embedded IPv4.
pub fn canonical_ip(addr: &SocketAddr) -> IpAddr {
    torsocks_core::addr::canonical(addr.ip())
}
