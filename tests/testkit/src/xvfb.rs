//! A virtual X server (Xvfb) for graphical programs run under `--x11`, and what its
//! screenshots (`xwd`) show.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use crate::require;

/// A virtual X server on a display of its own; stopped when dropped.
pub struct Xvfb {
    child: Child,
    /// Its display, as DISPLAY names it (`:N`).
    pub display: String,
}

impl Xvfb {
    /// Starts one and waits until it listens (`-displayfd` names the display then).
    pub fn start() -> Option<Xvfb> {
        let program = require::program("Xvfb")?;
        let mut child = Command::new(program)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Some(Xvfb {
            child,
            display: format!(":{}", line.trim()),
        })
    }

    /// A screenshot, as `xwd` dumps it.
    pub fn screenshot(&self) -> Vec<u8> {
        Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.display])
            .output()
            .unwrap()
            .stdout
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In an XWD dump of a 24-bit TrueColor screen (24 or 32 bits a pixel, little-endian,
/// lines padded), the share of pixels that are `colour`.
pub fn share_of(xwd: &[u8], colour: u32) -> f64 {
    let field = |i: usize| {
        xwd.get(i * 4..i * 4 + 4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let (header, width, height) = (field(0), field(4), field(5));
    let (per_pixel, per_line, colours) = (field(11) / 8, field(12), field(19));
    let start = header + colours * 12;
    let mut same = 0usize;
    for y in 0..height {
        for x in 0..width {
            let at = start + y * per_line + x * per_pixel;
            if let Some(p) = xwd.get(at..at + 3) {
                same += usize::from(u32::from_le_bytes([p[0], p[1], p[2], 0]) == colour);
            }
        }
    }
    same as f64 / (width * height).max(1) as f64
}

/// A screenshot of the window named `title` (`xwd -name`), once it is mapped; `None`
/// while there is no such window.
pub fn window(display: &str, title: &str) -> Option<Vec<u8>> {
    let out = Command::new("xwd")
        .args(["-silent", "-display", display, "-name", title])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    (out.status.success() && !out.stdout.is_empty()).then_some(out.stdout)
}
