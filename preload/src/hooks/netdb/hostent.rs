//! gethostbyname family (P-48..P-52) and gethostbyaddr family (P-53, P-54).
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr};

use libc::{c_char, c_int, c_void, hostent, size_t, socklen_t};
use torsocks_core::resolve::{h_errno, LookupError};

use super::numeric_literal;
use crate::errno::set_h_errno;
use crate::hooks::run;
use crate::resolve::{self, Want};

/// Bytes a hostent with one IPv4 address and `name` needs in a caller's buffer: the
/// alignment slack, the alias list (1 pointer), the address list (2 pointers), the
/// address and the NUL-terminated name. 24 bytes is never enough (P-51).
fn hostent_len(name: &[u8]) -> usize {
    let ptr = std::mem::size_of::<*mut c_char>();
    (ptr - 1) + 3 * ptr + 4 + name.len() + 1
}

/// Lays out a hostent for `name` and `addr` in the caller's `buf` (P-51, P-54).
unsafe fn fill_hostent(
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    name: &[u8],
    addr: [u8; 4],
) -> bool {
    if buf.is_null() || buflen < hostent_len(name) || buflen <= 24 {
        return false;
    }
    let ptr = std::mem::size_of::<*mut c_char>();
    let pad = buf.align_offset(ptr);
    let lists = buf.add(pad).cast::<*mut c_char>();
    let addr_at = buf.add(pad + 3 * ptr);
    let name_at = addr_at.add(4);
    std::ptr::copy_nonoverlapping(addr.as_ptr().cast::<c_char>(), addr_at, 4);
    std::ptr::copy_nonoverlapping(name.as_ptr().cast::<c_char>(), name_at, name.len());
    *name_at.add(name.len()) = 0;
    *lists = std::ptr::null_mut(); // aliases: empty list
    *lists.add(1) = addr_at; // addresses: one, then NULL
    *lists.add(2) = std::ptr::null_mut();
    *ret = hostent {
        h_name: name_at,
        h_aliases: lists,
        h_addrtype: libc::AF_INET,
        h_length: 4,
        h_addr_list: lists.add(1),
    };
    true
}

/// Per-thread storage of the non-reentrant functions (P-48): valid until the same
/// thread's next gethostbyname, gethostbyname2 or gethostbyaddr.
struct Storage {
    hostent: hostent,
    buf: [c_char; 512],
}

thread_local! {
    static STORAGE: RefCell<Option<Box<Storage>>> = const { RefCell::new(None) };
}

fn stored_hostent(name: &[u8], addr: [u8; 4]) -> *mut hostent {
    STORAGE
        .try_with(|cell| {
            let mut slot = cell.borrow_mut();
            let storage = slot.get_or_insert_with(|| {
                Box::new(Storage {
                    // SAFETY: hostent is plain data; all-zero is a valid value.
                    hostent: unsafe { std::mem::zeroed() },
                    buf: [0; 512],
                })
            });
            let ret: *mut hostent = &mut storage.hostent;
            // SAFETY: ret and buf are this thread's storage; 512 bytes fit any name.
            let ok = unsafe { fill_hostent(ret, storage.buf.as_mut_ptr(), 512, name, addr) };
            if ok {
                ret
            } else {
                std::ptr::null_mut()
            }
        })
        .unwrap_or(std::ptr::null_mut())
}

fn fail_hostent(outcome: LookupError) -> *mut hostent {
    set_h_errno(outcome.h_errno());
    std::ptr::null_mut()
}

/// The out-parameters of the `_r` functions: `*result` and `*h_errnop` (either may be
/// NULL), and the return-value conventions of P-51 and P-54.
struct Reentrant {
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
}

impl Reentrant {
    /// Clears `*result` first, as the functions must.
    unsafe fn new(result: *mut *mut hostent, h_errnop: *mut c_int) -> Reentrant {
        if !result.is_null() {
            *result = std::ptr::null_mut();
        }
        Reentrant { result, h_errnop }
    }

    unsafe fn h_errno(&self, value: i32) {
        if !self.h_errnop.is_null() {
            *self.h_errnop = value;
        }
    }

    /// The buffer is too small: ERANGE with NETDB_INTERNAL.
    unsafe fn too_small(&self) -> c_int {
        self.h_errno(h_errno::NETDB_INTERNAL);
        libc::ERANGE
    }

    unsafe fn failed(&self, outcome: LookupError) -> c_int {
        self.h_errno(outcome.h_errno());
        outcome.r_errno()
    }

    /// Lays the answer out in `buf` and reports it, or ERANGE when it does not fit.
    unsafe fn answer(
        &self,
        ret: *mut hostent,
        buf: *mut c_char,
        buflen: size_t,
        name: &[u8],
        addr: [u8; 4],
    ) -> c_int {
        if !fill_hostent(ret, buf, buflen, name, addr) {
            return self.too_small();
        }
        if !self.result.is_null() {
            *self.result = ret;
        }
        0
    }
}

/// The IPv4 answer for `name` (P-49): numeric IPv4 locally, numeric IPv6 not found,
/// anything else through N(IPv4).
unsafe fn ipv4_for(name: *const c_char) -> Result<Ipv4Addr, LookupError> {
    let text = CStr::from_ptr(name).to_bytes();
    match numeric_literal(name) {
        Some(IpAddr::V4(v4)) => return Ok(v4),
        Some(IpAddr::V6(_)) => return Err(LookupError::NotFound), // D-10
        None => {}
    }
    match resolve::forward(text, Want::V4)? {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(_) => Err(LookupError::NoData),
    }
}

/// gethostbyname(3).
#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut hostent {
    run(
        std::ptr::null_mut,
        || fail_hostent(LookupError::NoRecovery),
        || {
            if name.is_null() {
                return fail_hostent(LookupError::NotFound);
            }
            match ipv4_for(name) {
                Ok(v4) => stored_hostent(CStr::from_ptr(name).to_bytes(), v4.octets()),
                Err(outcome) => fail_hostent(outcome),
            }
        },
    )
}

/// gethostbyname2(3) (P-50).
#[no_mangle]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, af: c_int) -> *mut hostent {
    if af != libc::AF_INET {
        set_h_errno(h_errno::HOST_NOT_FOUND);
        return std::ptr::null_mut();
    }
    gethostbyname(name)
}

/// The shared body of the `_r` forward functions (P-51).
unsafe fn gethostbyname_r_impl(
    name: *const c_char,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    let out = Reentrant::new(result, h_errnop);
    if name.is_null() {
        return out.failed(LookupError::NotFound);
    }
    let text = CStr::from_ptr(name).to_bytes();
    if buf.is_null() || buflen < hostent_len(text) || buflen <= 24 {
        return out.too_small(); // checked before any Tor traffic
    }
    match ipv4_for(name) {
        Ok(v4) => out.answer(ret, buf, buflen, text, v4.octets()),
        Err(outcome) => out.failed(outcome),
    }
}

/// gethostbyname_r(3).
#[no_mangle]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    run(
        || libc::EIO,
        || libc::EIO,
        || gethostbyname_r_impl(name, ret, buf, buflen, result, h_errnop),
    )
}

/// gethostbyname2_r(3) (P-52).
#[no_mangle]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    if af != libc::AF_INET {
        return Reentrant::new(result, h_errnop).failed(LookupError::NotFound);
    }
    gethostbyname_r(name, ret, buf, buflen, result, h_errnop)
}

unsafe fn ipv4_arg(addr: *const c_void, len: socklen_t, kind: c_int) -> Option<[u8; 4]> {
    if addr.is_null() || kind != libc::AF_INET || len < 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    std::ptr::copy_nonoverlapping(addr.cast::<u8>(), octets.as_mut_ptr(), 4);
    Some(octets)
}

/// gethostbyaddr(3) (P-53).
#[no_mangle]
pub unsafe extern "C" fn gethostbyaddr(
    addr: *const c_void,
    len: socklen_t,
    kind: c_int,
) -> *mut hostent {
    run(
        std::ptr::null_mut,
        || fail_hostent(LookupError::NoRecovery),
        || {
            let Some(octets) = ipv4_arg(addr, len, kind) else {
                return fail_hostent(LookupError::NotFound);
            };
            match resolve::reverse(IpAddr::V4(octets.into())) {
                Ok(name) => stored_hostent(name.as_bytes(), octets),
                Err(outcome) => fail_hostent(outcome),
            }
        },
    )
}

/// gethostbyaddr_r(3) (P-54).
#[no_mangle]
pub unsafe extern "C" fn gethostbyaddr_r(
    addr: *const c_void,
    len: socklen_t,
    kind: c_int,
    ret: *mut hostent,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut hostent,
    h_errnop: *mut c_int,
) -> c_int {
    run(
        || libc::EIO,
        || libc::EIO,
        || {
            let out = Reentrant::new(result, h_errnop);
            if buf.is_null() || buflen <= 24 {
                return out.too_small();
            }
            let Some(octets) = ipv4_arg(addr, len, kind) else {
                return out.failed(LookupError::NotFound);
            };
            match resolve::reverse(IpAddr::V4(octets.into())) {
                Ok(name) => out.answer(ret, buf, buflen, name.as_bytes(), octets),
                Err(outcome) => out.failed(outcome),
            }
        },
    )
}
