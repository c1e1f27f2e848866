//! The calling thread's errno.
#![allow(unsafe_code)]

/// Reads errno.
pub fn get() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sets errno.
pub fn set(value: i32) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = value }
}

/// An errno value: why a call failed, as the C library reports it. A type of its own,
/// so that a function's `Err` says it is an errno and not some other number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// This thread's errno, now (right after the call that failed).
    pub fn last() -> Errno {
        Errno(get())
    }
}

impl From<i32> for Errno {
    fn from(value: i32) -> Errno {
        Errno(value)
    }
}

/// Sets errno to `value` and returns -1: the usual failure of a socket call.
pub fn fail<T: From<i8>>(value: impl Into<Errno>) -> T {
    set(value.into().0);
    T::from(-1)
}

extern "C" {
    fn __h_errno_location() -> *mut libc::c_int;
}

/// Sets the calling thread's h_errno.
pub fn set_h_errno(value: i32) {
    // SAFETY: glibc's __h_errno_location returns this thread's h_errno slot.
    unsafe { *__h_errno_location() = value }
}
