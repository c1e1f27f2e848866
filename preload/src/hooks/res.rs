//! The res_* family (P-69..P-79): DNS queries answered from Tor's RESOLVE and
//! RESOLVE_PTR with synthesized messages. No DNS packet is ever sent (D-17).
#![allow(unsafe_code)]

use std::ffi::CStr;

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

/// Sets h_errno, and the resolver state's copy for the n-variants (P-77).
unsafe fn set_errors(statp: *mut ResState, value: i32) {
    set_h_errno(value);
    if !statp.is_null() {
        (*statp).res_h_errno = value;
    }
}

/// Copies `response` into the caller's buffer; -1/EMSGSIZE when it does not fit.
unsafe fn deliver(
    statp: *mut ResState,
    response: &[u8],
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    if answer.is_null() || anslen < 0 || response.len() > anslen as usize {
        errno::set(libc::EMSGSIZE);
        set_errors(statp, h_errno::NO_RECOVERY);
        return -1;
    }
    std::ptr::copy_nonoverlapping(response.as_ptr(), answer, response.len());
    response.len() as c_int
}

/// res_query and friends (P-75): the response length, or -1 with h_errno.
unsafe fn query(
    function: &str,
    statp: *mut ResState,
    name: String,
    qclass: c_int,
    qtype: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
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
            deliver(statp, &response, answer, anslen)
        }
        Err(outcome) => {
            set_errors(statp, outcome.h_errno());
            -1
        }
    }
}

/// res_send and res_nsend (P-76): a response for every well-formed query.
unsafe fn send(
    function: &str,
    statp: *mut ResState,
    msg: *const c_uchar,
    msglen: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    let bytes = if msg.is_null() || msglen <= 0 {
        &[][..]
    } else {
        std::slice::from_raw_parts(msg, msglen as usize)
    };
    let Ok(q) = dns::parse_query(bytes) else {
        errno::set(libc::EINVAL);
        set_errors(statp, h_errno::NO_RECOVERY);
        return -1;
    };
    let outcome = match look_up(function, &q.name, q.qclass, q.qtype) {
        Err(Unanswerable::Unsupported) => {
            set_errors(statp, h_errno::NO_RECOVERY);
            return -1;
        }
        Ok(outcome) => outcome,
    };
    let (rcode, a) = match outcome {
        Ok(a) => (0, Some(a)),
        Err(e) => (e.rcode(), None),
    };
    let response = dns::build_response(q.id, q.recursion_desired, rcode, &q.wire, a.as_ref());
    deliver(statp, &response, answer, anslen)
}

unsafe fn text(name: *const c_char) -> Option<String> {
    (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
}

unsafe fn joined(name: *const c_char, domain: *const c_char) -> Option<String> {
    let name = text(name)?;
    Some(match text(domain) {
        Some(domain) => format!("{name}.{domain}"),
        None => name,
    })
}

unsafe fn fail_null(statp: *mut ResState) -> c_int {
    set_errors(statp, h_errno::NO_RECOVERY);
    -1
}

/// The body of every res_query-like export: the name (built lazily, inside the guard),
/// then [`query`]; a NULL name fails with NO_RECOVERY.
unsafe fn query_export(
    function: &str,
    statp: *mut ResState,
    name: impl FnOnce() -> Option<String>,
    class: c_int,
    kind: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    run(
        || -1,
        || fail_null(statp),
        || match name() {
            Some(name) => query(function, statp, name, class, kind, answer, anslen),
            None => fail_null(statp),
        },
    )
}

/// Defines a res_query-like export and its `__res_` alias.
macro_rules! query_exports {
    ($($name:ident, $alias:ident, $label:literal;)*) => {$(
        #[doc = concat!("`", $label, "` (P-75).")]
        #[no_mangle]
        pub unsafe extern "C" fn $name(dname: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int {
            query_export($label, std::ptr::null_mut(), || text(dname), class, kind, answer, anslen)
        }
        #[doc = concat!("The `__", $label, "` alias (G-8).")]
        #[no_mangle]
        pub unsafe extern "C" fn $alias(dname: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int {
            $name(dname, class, kind, answer, anslen)
        }
    )*};
}

/// Defines a res_nquery-like export (with resolver state) and its `__res_` alias.
macro_rules! nquery_exports {
    ($($name:ident, $alias:ident, $label:literal;)*) => {$(
        #[doc = concat!("`", $label, "` (P-75, P-77).")]
        #[no_mangle]
        pub unsafe extern "C" fn $name(statp: *mut ResState, dname: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int {
            query_export($label, statp, || text(dname), class, kind, answer, anslen)
        }
        #[doc = concat!("The `__", $label, "` alias (G-8).")]
        #[no_mangle]
        pub unsafe extern "C" fn $alias(statp: *mut ResState, dname: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int {
            $name(statp, dname, class, kind, answer, anslen)
        }
    )*};
}

query_exports! {
    res_query, __res_query, "res_query";
    res_search, __res_search, "res_search";
}

nquery_exports! {
    res_nquery, __res_nquery, "res_nquery";
    res_nsearch, __res_nsearch, "res_nsearch";
}

/// res_querydomain(3): `<name>.<domain>` (P-70).
#[no_mangle]
pub unsafe extern "C" fn res_querydomain(
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    let full = || joined(name, domain);
    query_export(
        "res_querydomain",
        std::ptr::null_mut(),
        full,
        class,
        kind,
        answer,
        anslen,
    )
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
    res_querydomain(name, domain, class, kind, answer, anslen)
}

/// res_nquerydomain(3).
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
    let full = || joined(name, domain);
    query_export("res_nquerydomain", statp, full, class, kind, answer, anslen)
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
    res_nquerydomain(statp, name, domain, class, kind, answer, anslen)
}

/// res_send(3) (P-76).
#[no_mangle]
pub unsafe extern "C" fn res_send(
    msg: *const c_uchar,
    msglen: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    run(
        || -1,
        || fail_null(std::ptr::null_mut()),
        || {
            send(
                "res_send",
                std::ptr::null_mut(),
                msg,
                msglen,
                answer,
                anslen,
            )
        },
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
    res_send(msg, msglen, answer, anslen)
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
    run(
        || -1,
        || fail_null(statp),
        || send("res_nsend", statp, msg, msglen, answer, anslen),
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
    res_nsend(statp, msg, msglen, answer, anslen)
}
