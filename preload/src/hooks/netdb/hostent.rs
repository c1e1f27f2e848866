//! gethostbyname family (P-48..P-52) and gethostbyaddr family (P-53, P-54).
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::CStr;
use std::mem::MaybeUninit;
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

/// Lays out a hostent for `name` and `addr` in `buf` (P-51, P-54): the lists, the
/// address and the name live in the buffer, and the returned hostent points into it.
/// `None` when the buffer is too small.
fn fill_hostent(buf: &mut [MaybeUninit<u8>], name: &[u8], addr: [u8; 4]) -> Option<hostent> {
    let word = std::mem::size_of::<*mut c_char>();
    if buf.len() < hostent_len(name) || buf.len() <= 24 {
        return None;
    }
    let base = buf.as_mut_ptr();
    let lists = base.align_offset(word);
    let addr_at = lists + 3 * word;
    let name_at = addr_at + 4;
    let pointer_to = |at: usize| base.wrapping_add(at).cast::<c_char>();
    let null = 0usize.to_ne_bytes();
    // The alias list is empty; the address list holds one address, then NULL.
    let address = pointer_to(addr_at).expose_provenance().to_ne_bytes();
    let pieces: [(usize, &[u8]); 6] = [
        (lists, &null),
        (lists + word, &address),
        (lists + 2 * word, &null),
        (addr_at, &addr),
        (name_at, name),
        (name_at + name.len(), &[0]),
    ];
    for (at, bytes) in pieces {
        for (slot, byte) in buf[at..at + bytes.len()].iter_mut().zip(bytes) {
            slot.write(*byte);
        }
    }
    Some(hostent {
        h_name: pointer_to(name_at),
        h_aliases: pointer_to(lists).cast(),
        h_addrtype: libc::AF_INET,
        h_length: 4,
        h_addr_list: pointer_to(lists + word).cast(),
    })
}

/// Per-thread storage of the non-reentrant functions (P-48): valid until the same
/// thread's next gethostbyname, gethostbyname2 or gethostbyaddr.
struct Storage {
    hostent: hostent,
    buf: [MaybeUninit<u8>; 512],
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
                    buf: [MaybeUninit::uninit(); 512],
                })
            });
            match fill_hostent(&mut storage.buf, name, addr) {
                Some(filled) => {
                    storage.hostent = filled;
                    &mut storage.hostent as *mut hostent
                }
                None => std::ptr::null_mut(),
            }
        })
        .unwrap_or(std::ptr::null_mut())
}

fn fail_hostent(outcome: LookupError) -> *mut hostent {
    set_h_errno(outcome.h_errno());
    std::ptr::null_mut()
}

/// The out-parameters of the `_r` functions: `*result` and `*h_errnop` (either may be
/// absent), and the return-value conventions of P-51 and P-54.
struct Reentrant<'a> {
    result: Option<&'a mut *mut hostent>,
    h_errnop: Option<&'a mut c_int>,
}

impl<'a> Reentrant<'a> {
    /// Clears `*result` first, as the functions must.
    fn new(mut result: Option<&'a mut *mut hostent>, h_errnop: Option<&'a mut c_int>) -> Self {
        if let Some(result) = result.as_deref_mut() {
            *result = std::ptr::null_mut();
        }
        Reentrant { result, h_errnop }
    }

    fn h_errno(&mut self, value: i32) {
        if let Some(h) = self.h_errnop.as_deref_mut() {
            *h = value;
        }
    }

    /// The buffer is too small: ERANGE with NETDB_INTERNAL.
    fn too_small(&mut self) -> c_int {
        self.h_errno(h_errno::NETDB_INTERNAL);
        libc::ERANGE
    }

    fn failed(&mut self, outcome: LookupError) -> c_int {
        self.h_errno(outcome.h_errno());
        outcome.r_errno()
    }

    /// Lays the answer out in the caller's hostent and buffer and reports it, or ERANGE
    /// when it does not fit.
    fn answer(&mut self, out: Answer<'_>, name: &[u8], addr: [u8; 4]) -> c_int {
        let Answer { ret, buf } = out;
        let (Some(ret), Some(filled)) = (ret, buf.and_then(|b| fill_hostent(b, name, addr))) else {
            return self.too_small();
        };
        let ret: *mut hostent = ret.write(filled);
        if let Some(result) = self.result.as_deref_mut() {
            *result = ret;
        }
        0
    }
}

/// Where a `_r` function lays out its answer: the caller's hostent and buffer.
struct Answer<'a> {
    ret: Option<&'a mut MaybeUninit<hostent>>,
    buf: Option<&'a mut [MaybeUninit<u8>]>,
}

impl Answer<'_> {
    /// Room for a hostent naming `name`.
    fn fits(&self, name: &[u8]) -> bool {
        self.buf
            .as_ref()
            .is_some_and(|b| b.len() >= hostent_len(name) && b.len() > 24)
    }
}

/// The IPv4 answer for `name` (P-49): numeric IPv4 locally, numeric IPv6 not found,
/// anything else through N(IPv4).
fn ipv4_for(name: &CStr) -> Result<Ipv4Addr, LookupError> {
    match numeric_literal(name) {
        Some(IpAddr::V4(v4)) => return Ok(v4),
        Some(IpAddr::V6(_)) => return Err(LookupError::NotFound), // D-10
        None => {}
    }
    match resolve::forward(name.to_bytes(), Want::V4)? {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(_) => Err(LookupError::NoData),
    }
}

/// gethostbyname(3).
#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut hostent {
    // SAFETY: gethostbyname(3)'s contract: a non-NULL name is NUL-terminated.
    let name = (!name.is_null()).then(|| unsafe { CStr::from_ptr(name) });
    by_name(name)
}

/// gethostbyname's rules (P-48, P-49).
fn by_name(name: Option<&CStr>) -> *mut hostent {
    run(
        std::ptr::null_mut,
        || fail_hostent(LookupError::NoRecovery),
        || {
            let Some(name) = name else {
                return fail_hostent(LookupError::NotFound);
            };
            match ipv4_for(name) {
                Ok(v4) => stored_hostent(name.to_bytes(), v4.octets()),
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
    // SAFETY: as gethostbyname.
    let name = (!name.is_null()).then(|| unsafe { CStr::from_ptr(name) });
    by_name(name)
}

/// The shared body of the `_r` forward functions (P-51).
fn by_name_r(name: Option<&CStr>, af: c_int, out: Answer<'_>, mut status: Reentrant<'_>) -> c_int {
    if af != libc::AF_INET {
        return status.failed(LookupError::NotFound); // P-52
    }
    run(
        || libc::EIO,
        || libc::EIO,
        || {
            let Some(name) = name else {
                return status.failed(LookupError::NotFound);
            };
            if !out.fits(name.to_bytes()) {
                return status.too_small(); // checked before any Tor traffic
            }
            match ipv4_for(name) {
                Ok(v4) => status.answer(out, name.to_bytes(), v4.octets()),
                Err(outcome) => status.failed(outcome),
            }
        },
    )
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
    // SAFETY: the same arguments, under the same contract.
    unsafe { gethostbyname2_r(name, libc::AF_INET, ret, buf, buflen, result, h_errnop) }
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
    // SAFETY: gethostbyname_r(3)'s contract: a non-NULL name is NUL-terminated; ret,
    // result and h_errnop are NULL or writable; a non-NULL buf has buflen writable bytes.
    let (name, out, status) = unsafe {
        (
            (!name.is_null()).then(|| CStr::from_ptr(name)),
            Answer {
                ret: ret.cast::<MaybeUninit<hostent>>().as_mut(),
                buf: (!buf.is_null())
                    .then(|| std::slice::from_raw_parts_mut(buf.cast::<MaybeUninit<u8>>(), buflen)),
            },
            Reentrant::new(result.as_mut(), h_errnop.as_mut()),
        )
    };
    by_name_r(name, af, out, status)
}

/// The IPv4 address a gethostbyaddr caller passed, if it is one (P-53).
fn ipv4_arg(addr: Option<&[u8]>, kind: c_int) -> Option<[u8; 4]> {
    let bytes = addr.filter(|_| kind == libc::AF_INET)?.get(..4)?;
    bytes.try_into().ok()
}

/// gethostbyaddr(3) (P-53).
#[no_mangle]
pub unsafe extern "C" fn gethostbyaddr(
    addr: *const c_void,
    len: socklen_t,
    kind: c_int,
) -> *mut hostent {
    let addr = (!addr.is_null()).then(|| {
        // SAFETY: gethostbyaddr(3)'s contract: a non-NULL addr points to len readable bytes.
        unsafe { std::slice::from_raw_parts(addr.cast::<u8>(), len as usize) }
    });
    let octets = ipv4_arg(addr, kind);
    run(
        std::ptr::null_mut,
        || fail_hostent(LookupError::NoRecovery),
        || {
            let Some(octets) = octets else {
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
    // SAFETY: as gethostbyaddr for addr, and as gethostbyname_r for the rest.
    let (addr, out, status) = unsafe {
        (
            (!addr.is_null()).then(|| std::slice::from_raw_parts(addr.cast::<u8>(), len as usize)),
            Answer {
                ret: ret.cast::<MaybeUninit<hostent>>().as_mut(),
                buf: (!buf.is_null())
                    .then(|| std::slice::from_raw_parts_mut(buf.cast::<MaybeUninit<u8>>(), buflen)),
            },
            Reentrant::new(result.as_mut(), h_errnop.as_mut()),
        )
    };
    by_address_r(ipv4_arg(addr, kind), out, status)
}

/// gethostbyaddr_r's rules (P-54).
fn by_address_r(octets: Option<[u8; 4]>, out: Answer<'_>, mut status: Reentrant<'_>) -> c_int {
    run(
        || libc::EIO,
        || libc::EIO,
        || {
            if out.buf.as_ref().is_none_or(|b| b.len() <= 24) {
                return status.too_small();
            }
            let Some(octets) = octets else {
                return status.failed(LookupError::NotFound);
            };
            match resolve::reverse(IpAddr::V4(octets.into())) {
                Ok(name) => status.answer(out, name.as_bytes(), octets),
                Err(outcome) => status.failed(outcome),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostent_is_laid_out_inside_the_callers_buffer() {
        let mut buf = [MaybeUninit::<u8>::uninit(); 64];
        let h = fill_hostent(&mut buf, b"example.org", [192, 0, 2, 7]).unwrap();
        let range = buf.as_ptr_range();
        let inside = |p: *const c_char| range.contains(&p.cast());
        assert!(inside(h.h_name) && inside(h.h_aliases.cast()) && inside(h.h_addr_list.cast()));
        // SAFETY: every pointer was just shown to point into `buf`, which fill_hostent
        // wrote: the name with its NUL, the lists, the address.
        unsafe {
            assert_eq!(CStr::from_ptr(h.h_name).to_bytes(), b"example.org");
            assert!((*h.h_aliases).is_null());
            let first = *h.h_addr_list;
            assert!(inside(first));
            assert_eq!(
                std::slice::from_raw_parts(first.cast::<u8>(), 4),
                [192, 0, 2, 7]
            );
            assert!((*h.h_addr_list.add(1)).is_null());
        }
        assert_eq!((h.h_addrtype, h.h_length), (libc::AF_INET, 4));
    }

    #[test]
    fn a_buffer_too_small_is_refused() {
        let name = b"example.org";
        let mut exact = vec![MaybeUninit::<u8>::uninit(); hostent_len(name) + 8];
        assert!(fill_hostent(&mut exact, name, [0; 4]).is_some());
        let mut small = [MaybeUninit::<u8>::uninit(); 24];
        assert!(fill_hostent(&mut small, b"a", [0; 4]).is_none());
        let mut short = vec![MaybeUninit::<u8>::uninit(); hostent_len(name) - 1];
        assert!(fill_hostent(&mut short, name, [0; 4]).is_none());
    }
}
