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

/// Sets errno to `value` and returns -1: the usual failure of a socket call.
pub fn fail<T: From<i8>>(value: i32) -> T {
    set(value);
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
