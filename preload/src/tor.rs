//! Talking to Tor from inside a host program: connecting to the Tor endpoint with the
//! real `connect` (S-2), running the SOCKS5 exchange over a blocking view of any fd
//! (S-3), the hand-off of an application socket (H-1..H-6), and lookups on a fresh
//! socket (S-1).
#![allow(unsafe_code)]

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use torsocks_core::resolve::LookupError;
use torsocks_core::socks5::blocking::{exchange, ExchangeError};
use torsocks_core::socks5::{Handshake, Reply, Request};
use torsocks_core::{log_debug, log_error, log_perror};

use crate::c_addr::RawAddr;
use crate::errno::Errno;
use crate::init::state;
use crate::real;

/// A socket fd seen as a blocking stream, whatever its O_NONBLOCK flag: EINTR is
/// retried and EAGAIN waits with poll() (S-3). Uses send/recv, which torsocks does not
/// interpose.
struct FdStream(i32);

impl FdStream {
    fn wait(&self, events: i16) -> io::Result<()> {
        let mut pfd = libc::pollfd {
            fd: self.0,
            events,
            revents: 0,
        };
        loop {
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, -1) };
            if rc >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Read for FdStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: buf is valid for writes of its length.
            let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => self.wait(libc::POLLIN)?,
                _ => return Err(e),
            }
        }
    }
}

impl Write for FdStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            // SAFETY: buf is valid for reads of its length. MSG_NOSIGNAL: a closed Tor
            // connection is an error here, never a SIGPIPE for the host program.
            let n =
                unsafe { libc::send(self.0, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => self.wait(libc::POLLOUT)?,
                _ => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Connects `fd` to the Tor endpoint with the real connect (S-2): EINTR retried,
/// EINPROGRESS/EALREADY waited for, EISCONN accepted. Errors are logged as PERROR.
fn connect_to_tor(fd: i32, endpoint: SocketAddr) -> Result<(), Errno> {
    let raw = RawAddr::from_socket_addr(endpoint);
    let result = loop {
        // SAFETY: raw is a valid sockaddr of raw.len() bytes.
        let rc = unsafe { real::CONNECT.get()(fd, raw.as_ptr(), raw.len()) };
        if rc == 0 {
            break Ok(());
        }
        match crate::errno::get() {
            libc::EINTR => continue,
            libc::EISCONN => break Ok(()),
            libc::EINPROGRESS | libc::EALREADY => break wait_connected(fd),
            e => break Err(Errno(e)),
        }
    };
    if let Err(e) = result {
        log_perror!(e.0, "socks5 libc connect");
    }
    result
}

fn wait_connected(fd: i32) -> Result<(), Errno> {
    FdStream(fd)
        .wait(libc::POLLOUT)
        .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid out-pointers of the right size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut i32).cast(),
            &mut len,
        )
    };
    match (rc, err) {
        (0, 0) => Ok(()),
        (0, e) => Err(Errno(e)),
        _ => Err(Errno::last()),
    }
}

/// Runs the SOCKS5 exchange for `request` on `fd` (already connected to Tor), logging
/// failures as spec §3.1 says.
fn run_exchange(fd: i32, request: Request) -> Result<Reply, ExchangeError> {
    let auth = {
        let s = state();
        s.config.socks_auth(s.isolation_pid(), s.isolation_time())
    };
    let handshake = Handshake::new(auth, request)?;
    let result = exchange(handshake, &mut FdStream(fd));
    match &result {
        Ok(_) => log_debug!("Socks5 connection is successful."),
        Err(ExchangeError::Send(e)) => {
            log_perror!(e.raw_os_error().unwrap_or(libc::EIO), "send socks5 data")
        }
        Err(ExchangeError::Recv(e)) => {
            log_perror!(e.raw_os_error().unwrap_or(libc::EIO), "recv socks5 data")
        }
        Err(ExchangeError::Eof) => log_perror!(libc::EIO, "recv socks5 data"),
        Err(ExchangeError::Protocol(e)) => log_error!("{e}"),
    }
    result
}

/// Opens a Tor stream on the application's `fd` for `request` (a CONNECT): H-2 when
/// the fd's family is Tor's, H-3 otherwise. Returns the errno of a failure.
pub fn hand_off(fd: i32, request: Request) -> Result<(), Errno> {
    let endpoint = state().config.tor_endpoint();
    let tor_family = if endpoint.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    if crate::sockopt::socket_family(fd) == Some(tor_family) {
        connect_to_tor(fd, endpoint)?;
        return run_exchange(fd, request)
            .map(drop)
            .map_err(|e| Errno(e.errno()));
    }
    // H-3: a socket of Tor's family, then dup3()ed over the application's fd.
    let tmp = new_tor_socket(tor_family)?;
    let result = connect_to_tor(tmp, endpoint)
        .and_then(|()| {
            run_exchange(tmp, request)
                .map(drop)
                .map_err(|e| Errno(e.errno()))
        })
        .and_then(|()| replace_fd(tmp, fd));
    // SAFETY: tmp is our own socket.
    unsafe { real::CLOSE.get()(tmp) };
    result
}

fn new_tor_socket(family: i32) -> Result<i32, Errno> {
    // SAFETY: plain socket creation through the real function.
    let fd = unsafe { real::SOCKET.get()(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        Err(Errno::last())
    } else {
        Ok(fd)
    }
}

/// Socket options the application may have set and expects to keep (H-3).
const CARRIED_OPTIONS: [(i32, i32); 7] = [
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
    (libc::SOL_SOCKET, libc::SO_LINGER),
    (libc::SOL_SOCKET, libc::SO_RCVBUF),
    (libc::SOL_SOCKET, libc::SO_SNDBUF),
    (libc::SOL_SOCKET, libc::SO_RCVTIMEO),
    (libc::SOL_SOCKET, libc::SO_SNDTIMEO),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY),
];

/// Puts `tmp` in place of `app` (H-3): O_NONBLOCK and FD_CLOEXEC as the application's
/// fd had them, its socket options copied, then dup3.
fn replace_fd(tmp: i32, app: i32) -> Result<(), Errno> {
    // SAFETY: fcntl on fds we were given; a failure is reported through errno.
    let (status, fd_flags) = unsafe {
        (
            real::FCNTL.get()(app, libc::F_GETFL),
            real::FCNTL.get()(app, libc::F_GETFD),
        )
    };
    if status < 0 || fd_flags < 0 {
        return Err(Errno::last());
    }
    for (level, name) in CARRIED_OPTIONS {
        let mut value = [0u8; 32];
        let mut len = value.len() as libc::socklen_t;
        // SAFETY: value is a 32-byte buffer, enough for every option above.
        unsafe {
            if libc::getsockopt(app, level, name, value.as_mut_ptr().cast(), &mut len) == 0 {
                libc::setsockopt(tmp, level, name, value.as_ptr().cast(), len);
            }
        }
    }
    // SAFETY: as above.
    unsafe {
        let tmp_status = real::FCNTL.get()(tmp, libc::F_GETFL);
        real::FCNTL.get()(
            tmp,
            libc::F_SETFL,
            (tmp_status & !libc::O_NONBLOCK) | (status & libc::O_NONBLOCK),
        );
        let cloexec = if fd_flags & libc::FD_CLOEXEC != 0 {
            libc::O_CLOEXEC
        } else {
            0
        };
        if real::DUP3.get()(tmp, app, cloexec) < 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// A RESOLVE or RESOLVE_PTR on a fresh socket of Tor's family (S-1).
pub fn lookup(request: Request) -> Result<Reply, LookupError> {
    let endpoint = state().config.tor_endpoint();
    let family = if endpoint.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let fd = new_tor_socket(family).map_err(|_| LookupError::TryAgain)?;
    let result = match connect_to_tor(fd, endpoint) {
        Ok(()) => run_exchange(fd, request).map_err(|e| e.lookup_error()),
        Err(_) => Err(LookupError::TryAgain),
    };
    // SAFETY: fd is our own socket.
    unsafe { real::CLOSE.get()(fd) };
    result
}
