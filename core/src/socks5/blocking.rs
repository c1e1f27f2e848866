//! Drives a [`Handshake`] over a blocking stream: what the preload library does on the
//! application's own socket, and what tests do over in-memory pipes.

use std::fmt;
use std::io::{self, Read, Write};

use super::{Action, Handshake, Reply, Socks5Error};
use crate::resolve::LookupError;

/// Why an exchange failed.
#[derive(Debug)]
pub enum ExchangeError {
    /// Writing to the server failed (S-3).
    Send(io::Error),
    /// Reading from the server failed (S-3).
    Recv(io::Error),
    /// The server closed the stream before a complete reply (S-3 → EIO).
    Eof,
    /// The server broke or refused the protocol.
    Protocol(Socks5Error),
}

impl ExchangeError {
    /// The errno a failed `connect()` reports.
    pub fn errno(&self) -> i32 {
        match self {
            ExchangeError::Send(e) | ExchangeError::Recv(e) => {
                e.raw_os_error().unwrap_or(libc::EIO)
            }
            ExchangeError::Eof => libc::EIO,
            ExchangeError::Protocol(e) => e.errno(),
        }
    }

    /// The outcome of a failed lookup (§4.9): transport failures are temporary.
    pub fn lookup_error(&self) -> LookupError {
        match self {
            ExchangeError::Send(_) | ExchangeError::Recv(_) | ExchangeError::Eof => {
                LookupError::TryAgain
            }
            ExchangeError::Protocol(e) => e.lookup_error(),
        }
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Send(e) => write!(f, "send socks5 data: {e}"),
            ExchangeError::Recv(e) => write!(f, "recv socks5 data: {e}"),
            ExchangeError::Eof => f.write_str("Tor closed the SOCKS5 connection mid-reply"),
            ExchangeError::Protocol(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExchangeError {}

impl From<Socks5Error> for ExchangeError {
    fn from(e: Socks5Error) -> Self {
        ExchangeError::Protocol(e)
    }
}

/// Runs `handshake` to completion over `stream`, reading exactly the replies.
/// Interrupted reads and writes are retried (S-3).
pub fn exchange<S: Read + Write>(
    mut handshake: Handshake,
    stream: &mut S,
) -> Result<Reply, ExchangeError> {
    let mut input = Vec::new();
    loop {
        match handshake.step(&input)? {
            Action::Send(bytes) => {
                input.clear();
                stream.write_all(&bytes).map_err(ExchangeError::Send)?;
            }
            Action::Recv(n) => {
                input.resize(n, 0);
                let got = loop {
                    match stream.read(&mut input) {
                        Ok(0) => return Err(ExchangeError::Eof),
                        Ok(got) => break got,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(ExchangeError::Recv(e)),
                    }
                };
                input.truncate(got);
            }
            Action::Done(reply) => return Ok(reply),
        }
    }
}
