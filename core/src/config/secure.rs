//! Secure-mode detection (CF-2). The only `unsafe` of the configuration module: three
//! libc calls that read process credentials and cannot fail.
#![allow(unsafe_code)]

/// True when the process runs with privileges it did not inherit from its invoker:
/// real and effective uid or gid differ, or the kernel set `AT_SECURE` (setuid, setgid
/// or file capabilities). `TORSOCKS_*` variables must then be ignored.
pub fn process_is_secure() -> bool {
    // SAFETY: getuid, geteuid, getgid, getegid and getauxval take no pointers, have no
    // preconditions and always succeed (getauxval returns 0 for a missing entry).
    unsafe {
        libc::getuid() != libc::geteuid()
            || libc::getgid() != libc::getegid()
            || libc::getauxval(libc::AT_SECURE) != 0
    }
}
