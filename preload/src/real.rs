//! The C library's own definitions of the symbols torsocks interposes.
//!
//! Inside `libtorsocks.so`, a call to `connect` would bind to our own exported
//! `connect`, so every pass-through goes through a pointer found with
//! `dlsym(RTLD_NEXT, name)` (G-2). Pointers are resolved lazily and cached, so a call
//! that arrives before initialisation (from another library's constructor) still
//! works; [`resolve_all`] resolves them all at initialisation and ends the process when
//! one is missing.
#![allow(unsafe_code)]

use std::ffi::{c_void, CStr};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};

use libc::{c_char, c_int, c_long, c_uint, msghdr, size_t, sockaddr, socklen_t, ssize_t, FILE};

/// A lazily resolved pointer to the next definition of a C function.
pub struct Real<F> {
    name: &'static CStr,
    ptr: AtomicPtr<c_void>,
    _type: PhantomData<F>,
}

// SAFETY: the only state is an atomic pointer; F is a plain function-pointer type.
unsafe impl<F> Sync for Real<F> {}

impl<F: Copy> Real<F> {
    const fn new(name: &'static CStr) -> Self {
        Real {
            name,
            ptr: AtomicPtr::new(std::ptr::null_mut()),
            _type: PhantomData,
        }
    }

    /// The symbol's name, for messages.
    pub fn name(&self) -> &'static str {
        self.name.to_str().unwrap_or("?")
    }

    /// Looks the symbol up if needed; `None` when the C library does not define it.
    pub fn try_get(&self) -> Option<F> {
        let mut p = self.ptr.load(Ordering::Acquire);
        if p.is_null() {
            // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other
            // preconditions; it returns NULL when the symbol is not found.
            p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
            if p.is_null() {
                return None;
            }
            self.ptr.store(p, Ordering::Release);
        }
        debug_assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
        // SAFETY: F is the function-pointer type of this symbol's C prototype, and
        // function pointers have the size and representation of data pointers here.
        Some(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) })
    }

    /// The function. A missing symbol is fatal (G-2): it was checked at initialisation,
    /// so this only happens for a call made before it, in a broken C library.
    pub fn get(&self) -> F {
        match self.try_get() {
            Some(f) => f,
            None => missing(self.name()),
        }
    }
}

fn missing(name: &str) -> ! {
    let here = torsocks_core::log::Location {
        function: "resolve_all",
        file: file!(),
        line: line!(),
    };
    torsocks_core::log::fatal(format_args!("Unable to find {name}"), here);
    torsocks_core::log::fatal(format_args!("This is critical for torsocks. Exiting"), here);
    // SAFETY: _exit has no preconditions; no cleanup may run in a half-initialised process.
    unsafe { libc::_exit(1) }
}

macro_rules! reals {
    ($( $stat:ident = $name:literal : fn($($arg:ty),*) -> $ret:ty; )*) => {
        $(
            #[doc = concat!("The C library's `", $name, "`.")]
            pub static $stat: Real<unsafe extern "C" fn($($arg),*) -> $ret> = Real::new(
                // SAFETY: the literal ends with exactly one NUL.
                unsafe { CStr::from_bytes_with_nul_unchecked(concat!($name, "\0").as_bytes()) }
            );
        )*

        /// Resolves every symbol; a missing one ends the process (G-2).
        pub fn resolve_all() {
            $( if $stat.try_get().is_none() { missing($stat.name()); } )*
            if FCNTL.try_get().is_none() { missing(FCNTL.name()); }
            if SYSCALL.try_get().is_none() { missing(SYSCALL.name()); }
        }
    };
}

reals! {
    SOCKET = "socket": fn(c_int, c_int, c_int) -> c_int;
    SOCKETPAIR = "socketpair": fn(c_int, c_int, c_int, *mut c_int) -> c_int;
    CONNECT = "connect": fn(c_int, *const sockaddr, socklen_t) -> c_int;
    CLOSE = "close": fn(c_int) -> c_int;
    FCLOSE = "fclose": fn(*mut FILE) -> c_int;
    DUP = "dup": fn(c_int) -> c_int;
    DUP2 = "dup2": fn(c_int, c_int) -> c_int;
    DUP3 = "dup3": fn(c_int, c_int, c_int) -> c_int;
    GETPEERNAME = "getpeername": fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
    SENDTO = "sendto": fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t;
    SENDMSG = "sendmsg": fn(c_int, *const msghdr, c_int) -> ssize_t;
    SENDMMSG = "sendmmsg": fn(c_int, *mut libc::mmsghdr, c_uint, c_int) -> c_int;
    RECVMSG = "recvmsg": fn(c_int, *mut msghdr, c_int) -> ssize_t;
    LISTEN = "listen": fn(c_int, c_int) -> c_int;
    ACCEPT = "accept": fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
    ACCEPT4 = "accept4": fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
    EXECVE = "execve": fn(*const c_char, *const *const c_char, *const *const c_char) -> c_int;
    EXIT = "_exit": fn(c_int) -> !;
    GETADDRINFO = "getaddrinfo": fn(*const c_char, *const c_char, *const libc::addrinfo, *mut *mut libc::addrinfo) -> c_int;
    DLVSYM = "dlvsym": fn(*mut c_void, *const c_char, *const c_char) -> *mut c_void;
    GETNAMEINFO = "getnameinfo": fn(*const sockaddr, socklen_t, *mut c_char, socklen_t, *mut c_char, socklen_t, c_int) -> c_int;
}

/// The C library's `fcntl` (variadic: the third argument is an int or a pointer).
pub static FCNTL: Real<unsafe extern "C" fn(c_int, c_int, ...) -> c_int> = Real::new(c"fcntl");

/// The C library's `syscall` (variadic).
pub static SYSCALL: Real<unsafe extern "C" fn(c_long, ...) -> c_long> = Real::new(c"syscall");
