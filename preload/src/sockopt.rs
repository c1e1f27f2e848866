//! Socket options read with getsockopt: what kind of socket an fd is.
#![allow(unsafe_code)]

/// The socket family of `fd` (H-1), from SO_DOMAIN.
pub fn socket_family(fd: i32) -> Option<i32> {
    int_option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)
}

/// The socket type of `fd` (SO_TYPE).
pub fn socket_type(fd: i32) -> Option<i32> {
    int_option(fd, libc::SOL_SOCKET, libc::SO_TYPE)
}

fn int_option(fd: i32, level: i32, name: i32) -> Option<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid out-pointers of the right size.
    let rc =
        unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut i32).cast(), &mut len) };
    (rc == 0).then_some(value)
}
