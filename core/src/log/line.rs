//! Formatting one log line into a fixed buffer (L-5, L-7).

use std::fmt::{self, Write};

use super::{Level, Location};

/// The longest line, LF included (L-7).
pub const MAX_LINE: usize = 4096;

/// A line being built: at most [`MAX_LINE`] − 1 bytes of text; longer text is cut.
pub struct LineBuf {
    bytes: [u8; MAX_LINE],
    len: usize,
}

impl LineBuf {
    /// An empty line.
    pub fn new() -> Self {
        LineBuf {
            bytes: [0; MAX_LINE],
            len: 0,
        }
    }

    /// The finished line: the text and one LF.
    pub fn finish(&mut self) -> &[u8] {
        self.bytes[self.len] = b'\n';
        &self.bytes[..self.len + 1]
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_LINE - 1 - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        // Never fail: a truncated line is still written (L-7).
        Ok(())
    }
}

/// Formats `[<time> ]<LEVEL> torsocks[<pid>]: <message>[: <strerror>] (in <fn>() at <file>:<line>)`.
pub fn format_line(
    buf: &mut LineBuf,
    time: Option<u64>,
    level: Level,
    pid: i32,
    message: fmt::Arguments<'_>,
    strerror: Option<&str>,
    location: &Location,
) {
    if let Some(secs) = time {
        let _ = write!(buf, "{secs} ");
    }
    let _ = write!(buf, "{level} torsocks[{pid}]: {message}");
    if let Some(text) = strerror {
        let _ = write!(buf, ": {text}");
    }
    let _ = write!(
        buf,
        " (in {}() at {}:{})",
        location.function, location.file, location.line
    );
}
