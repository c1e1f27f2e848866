//! The res_* family (P-69..P-79): DNS queries answered from Tor's RESOLVE and
//! RESOLVE_PTR with synthesized messages. No DNS packet is ever sent (D-17).
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::CStr;
use std::mem::MaybeUninit;

use libc::{c_char, c_int, c_uchar, c_uint, c_ulong, c_ushort, c_void, sockaddr_in};
use torsocks_core::dns::{self, Answer, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_PTR};
use torsocks_core::log_warn;
use torsocks_core::resolve::{h_errno, LookupError};

use super::run;
use crate::errno::{self, set_h_errno};
use crate::init::state;
use crate::resolve::{self, Want};

/// glibc's `struct __res_state` up to `res_h_errno`, the one field torsocks writes
/// (P-77). Its layout is part of glibc's ABI.
#[repr(C)]
pub struct ResState {
    retrans: c_int,
    retry: c_int,
    options: c_ulong,
    nscount: c_int,
    nsaddr_list: [sockaddr_in; 3],
    id: c_ushort,
    dnsrch: [*mut c_char; 7],
    defdname: [c_char; 256],
    pfcode: c_ulong,
    bits: c_uint,
    sort_list: [[u32; 2]; 10],
    qhook: *mut c_void,
    rhook: *mut c_void,
    res_h_errno: c_int,
}

#[cfg(target_arch = "x86_64")]
const _: () = assert!(std::mem::offset_of!(ResState, res_h_errno) == 496);

/// Why a query got no response message at all.
enum Unanswerable {
    /// Class, type or name torsocks will not look up: -1 with NO_RECOVERY.
    Unsupported,
}

/// Looks up `name` for `qclass`/`qtype` through Tor (P-70..P-73).
fn look_up(
    function: &str,
    name: &str,
    qclass: u16,
    qtype: u16,
) -> Result<Result<Answer, LookupError>, Unanswerable> {
    if qclass != CLASS_IN {
        return Err(Unanswerable::Unsupported); // P-71
    }
    if ![TYPE_A, TYPE_AAAA, TYPE_PTR].contains(&qtype) {
        log_warn!(
            "[{function}] DNS query type {qtype} cannot be resolved through Tor. Denying it."
        );
        return Err(Unanswerable::Unsupported); // P-72
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > 255 {
        return Ok(Err(LookupError::NoRecovery));
    }
    Ok(match qtype {
        TYPE_A => resolve::forward(name.as_bytes(), Want::V4).map(Answer::Address),
        TYPE_AAAA if !state().config.enable_ipv6 => Err(LookupError::NoData),
        TYPE_AAAA => resolve::forward(name.as_bytes(), Want::V6).map(Answer::Address),
        _ => match dns::parse_reverse_name(name) {
            Some(ip) => resolve::reverse(ip).map(Answer::Name),
            None => Err(LookupError::NotFound),
        },
    })
}

/// Where the res_* functions report failures: h_errno, and the resolver state's copy
/// for the n-variants (P-77).
#[derive(Clone, Copy)]
struct Errors<'a>(Option<&'a Cell<c_int>>);

impl Errors<'_> {
    fn set(self, value: i32) {
        set_h_errno(value);
        if let Some(copy) = self.0 {
            copy.set(value);
        }
    }

    /// -1 with NO_RECOVERY.
    fn fail(self) -> c_int {
        self.set(h_errno::NO_RECOVERY);
        -1
    }
}

/// Copies `response` into the caller's buffer; -1/EMSGSIZE when it does not fit.
fn deliver(errors: Errors<'_>, response: &[u8], answer: Option<&mut [MaybeUninit<u8>]>) -> c_int {
    let Some(answer) = answer.filter(|a| response.len() <= a.len()) else {
        errno::set(libc::EMSGSIZE);
        return errors.fail();
    };
    for (slot, byte) in answer.iter_mut().zip(response) {
        slot.write(*byte);
    }
    response.len() as c_int
}

/// res_query and friends (P-75): the response length, or -1 with h_errno.
fn query(
    function: &str,
    errors: Errors<'_>,
    name: String,
    (qclass, qtype): (c_int, c_int),
    answer: Option<&mut [MaybeUninit<u8>]>,
) -> c_int {
    let (qclass, qtype) = (qclass as u16, qtype as u16);
    let outcome = match look_up(function, &name, qclass, qtype) {
        Err(Unanswerable::Unsupported) => Err(LookupError::NoRecovery),
        Ok(outcome) => outcome,
    };
    let result = outcome.and_then(|a| {
        dns::encode_question(&name, qtype, qclass)
            .map(|q| (a, q))
            .ok_or(LookupError::NoRecovery)
    });
    match result {
        Ok((a, question)) => {
            let response = dns::build_response(0, true, 0, &question, Some(&a));
            deliver(errors, &response, answer)
        }
        Err(outcome) => {
            errors.set(outcome.h_errno());
            -1
        }
    }
}

/// res_send and res_nsend (P-76): a response for every well-formed query.
fn send(
    function: &str,
    errors: Errors<'_>,
    msg: &[u8],
    answer: Option<&mut [MaybeUninit<u8>]>,
) -> c_int {
    let Ok(q) = dns::parse_query(msg) else {
        errno::set(libc::EINVAL);
        return errors.fail();
    };
    let outcome = match look_up(function, &q.name, q.qclass, q.qtype) {
        Err(Unanswerable::Unsupported) => return errors.fail(),
        Ok(outcome) => outcome,
    };
    let (rcode, a) = match outcome {
        Ok(a) => (0, Some(a)),
        Err(e) => (e.rcode(), None),
    };
    let response = dns::build_response(q.id, q.recursion_desired, rcode, &q.wire, a.as_ref());
    deliver(errors, &response, answer)
}

fn text(name: Option<&CStr>) -> Option<String> {
    name.map(|n| n.to_string_lossy().into_owned())
}

fn joined(name: Option<&CStr>, domain: Option<&CStr>) -> Option<String> {
    let name = text(name)?;
    Some(match text(domain) {
        Some(domain) => format!("{name}.{domain}"),
        None => name,
    })
}

/// The body of every res_query-like export: the name (built lazily, inside the guard),
/// then [`query`]; a NULL name fails with NO_RECOVERY.
fn query_export(
    function: &str,
    errors: Errors<'_>,
    name: impl FnOnce() -> Option<String>,
    question: (c_int, c_int),
    answer: Option<&mut [MaybeUninit<u8>]>,
) -> c_int {
    run(
        || -1,
        || errors.fail(),
        || match name() {
            Some(name) => query(function, errors, name, question, answer),
            None => errors.fail(),
        },
    )
}

/// The caller's answer buffer, `None` when NULL or of negative size; expanded inside
/// the export's unsafe block, whose contract it relies on.
macro_rules! answer_room {
    ($answer:ident, $anslen:ident) => {
        (!$answer.is_null() && $anslen >= 0).then(|| {
            std::slice::from_raw_parts_mut($answer.cast::<MaybeUninit<u8>>(), $anslen as usize)
        })
    };
}

/// The resolver state's h_errno, when there is a state; as `answer_room`.
macro_rules! state_errors {
    ($statp:ident) => {
        Errors($statp.as_mut().map(|s| Cell::from_mut(&mut s.res_h_errno)))
    };
}

/// Defines a res_query-like export and its `__res_` alias; `$statp` says whether it
/// takes the resolver state (the n-variants).
macro_rules! resolver_export {
    ($name:ident, $alias:ident, $label:literal, ($($statp:ident)?)) => {
        #[doc = concat!("`", $label, "` (P-75, P-77).")]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($statp: *mut ResState,)? dname: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int {
            // SAFETY: the resolver functions' contract: statp is NULL or a valid state, a
            // non-NULL dname is NUL-terminated, a non-NULL answer has anslen writable bytes.
            let (errors, name, answer) = unsafe {
                (
                    resolver_export!(@errors $($statp)?),
                    (!dname.is_null()).then(|| CStr::from_ptr(dname)),
                    answer_room!(answer, anslen),
                )
            };
            query_export($label, errors, || text(name), (class, kind), answer)
        }
        #[doc = concat!("The `__", $label, "` alias (G-8).")]
        #[no_mangle]
        pub unsafe extern "C" fn $alias($($statp: *mut ResState,)? dname: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int {
            // SAFETY: the same arguments, under the same contract.
            unsafe { $name($($statp,)? dname, class, kind, answer, anslen) }
        }
    };
    (@errors $statp:ident) => { state_errors!($statp) };
    (@errors) => { Errors(None) };
}

resolver_export!(res_query, __res_query, "res_query", ());
resolver_export!(res_search, __res_search, "res_search", ());
resolver_export!(res_nquery, __res_nquery, "res_nquery", (statp));
resolver_export!(res_nsearch, __res_nsearch, "res_nsearch", (statp));

/// res_nquerydomain(3): `<name>.<domain>` (P-70).
#[no_mangle]
pub unsafe extern "C" fn res_nquerydomain(
    statp: *mut ResState,
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    // SAFETY: as res_nquery, for both names.
    let (errors, name, domain, answer) = unsafe {
        (
            state_errors!(statp),
            (!name.is_null()).then(|| CStr::from_ptr(name)),
            (!domain.is_null()).then(|| CStr::from_ptr(domain)),
            answer_room!(answer, anslen),
        )
    };
    let full = || joined(name, domain);
    query_export("res_nquerydomain", errors, full, (class, kind), answer)
}

/// The `__res_nquerydomain` alias (G-8).
#[no_mangle]
pub unsafe extern "C" fn __res_nquerydomain(
    statp: *mut ResState,
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    // SAFETY: the same arguments, under the same contract.
    unsafe { res_nquerydomain(statp, name, domain, class, kind, answer, anslen) }
}

/// res_querydomain(3) (P-70).
#[no_mangle]
pub unsafe extern "C" fn res_querydomain(
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    // SAFETY: as res_nquerydomain.
    let (name, domain, answer) = unsafe {
        (
            (!name.is_null()).then(|| CStr::from_ptr(name)),
            (!domain.is_null()).then(|| CStr::from_ptr(domain)),
            answer_room!(answer, anslen),
        )
    };
    let full = || joined(name, domain);
    query_export("res_querydomain", Errors(None), full, (class, kind), answer)
}

/// The `__res_querydomain` alias (G-8).
#[no_mangle]
pub unsafe extern "C" fn __res_querydomain(
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    // SAFETY: the same arguments, under the same contract.
    unsafe { res_querydomain(name, domain, class, kind, answer, anslen) }
}

/// The query of res_send and res_nsend: empty for NULL or a non-positive length (a
/// malformed query); expanded inside the export's unsafe block.
macro_rules! query_bytes {
    ($msg:ident, $msglen:ident) => {
        if $msg.is_null() || $msglen <= 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts($msg, $msglen as usize)
        }
    };
}

/// res_nsend(3) (P-76, P-77).
#[no_mangle]
pub unsafe extern "C" fn res_nsend(
    statp: *mut ResState,
    msg: *const c_uchar,
    msglen: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    // SAFETY: as res_nquery; a non-NULL msg has msglen readable bytes.
    let (errors, msg, answer) = unsafe {
        (
            state_errors!(statp),
            query_bytes!(msg, msglen),
            answer_room!(answer, anslen),
        )
    };
    run(
        || -1,
        || errors.fail(),
        || send("res_nsend", errors, msg, answer),
    )
}

/// The `__res_nsend` alias (G-8).
#[no_mangle]
pub unsafe extern "C" fn __res_nsend(
    statp: *mut ResState,
    msg: *const c_uchar,
    msglen: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    // SAFETY: the same arguments, under the same contract.
    unsafe { res_nsend(statp, msg, msglen, answer, anslen) }
}

/// res_send(3) (P-76).
#[no_mangle]
pub unsafe extern "C" fn res_send(
    msg: *const c_uchar,
    msglen: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    // SAFETY: as res_nsend.
    let (msg, answer) = unsafe { (query_bytes!(msg, msglen), answer_room!(answer, anslen)) };
    let errors = Errors(None);
    run(
        || -1,
        || errors.fail(),
        || send("res_send", errors, msg, answer),
    )
}

/// The `__res_send` alias (G-8).
#[no_mangle]
pub unsafe extern "C" fn __res_send(
    msg: *const c_uchar,
    msglen: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    // SAFETY: the same arguments, under the same contract.
    unsafe { res_send(msg, msglen, answer, anslen) }
}
