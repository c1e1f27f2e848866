//! getnameinfo (P-65..P-68).
#![allow(unsafe_code)]

use libc::{c_char, c_int, sockaddr, socklen_t};

use crate::hooks::run;
use crate::real;
use crate::resolve;

/// getnameinfo(3) (P-65..P-68).
#[no_mangle]
pub unsafe extern "C" fn getnameinfo(
    sa: *const sockaddr,
    salen: socklen_t,
    host: *mut c_char,
    hostlen: socklen_t,
    serv: *mut c_char,
    servlen: socklen_t,
    flags: c_int,
) -> c_int {
    let pass = || real::GETNAMEINFO.get()(sa, salen, host, hostlen, serv, servlen, flags);
    run(
        pass,
        || libc::EAI_MEMORY,
        || {
            let Some(addr) = crate::c_addr::read_inet(sa, salen) else {
                return pass(); // P-65: not inet, or salen too short
            };
            if host.is_null() || hostlen == 0 || flags & libc::NI_NUMERICHOST != 0 {
                return pass();
            }
            if !serv.is_null() && servlen > 0 {
                // P-66: the service part from the local database, numerically for the host.
                let rc = real::GETNAMEINFO.get()(
                    sa,
                    salen,
                    std::ptr::null_mut(),
                    0,
                    serv,
                    servlen,
                    flags | libc::NI_NUMERICHOST,
                );
                if rc != 0 {
                    return rc;
                }
            }
            match resolve::reverse(addr.ip()) {
                Ok(name) => {
                    if name.len() + 1 > hostlen as usize {
                        return libc::EAI_OVERFLOW;
                    }
                    std::ptr::copy_nonoverlapping(name.as_ptr().cast::<c_char>(), host, name.len());
                    *host.add(name.len()) = 0;
                    0
                }
                Err(_) if flags & libc::NI_NAMEREQD != 0 => libc::EAI_NONAME, // P-67
                Err(_) => real::GETNAMEINFO.get()(
                    sa,
                    salen,
                    host,
                    hostlen,
                    std::ptr::null_mut(),
                    0,
                    flags | libc::NI_NUMERICHOST,
                ),
            }
        },
    )
}
