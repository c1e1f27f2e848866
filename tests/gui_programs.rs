//! Graphical programs under `--x11` on a virtual X server (Xvfb), root-run and
//! rootless: a Qt program (PyQt5) draws its window, whose pixels the screenshot shows
//! (Qt's MIT-SHM across the sandbox's IPC namespace included), and a GTK program
//! (zenity) opens its dialog.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::process::Stdio;
use std::time::Duration;

use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::sandbox::{home_of_nobody, launcher, terminate};
use torsocks_testkit::xvfb::{share_of, window, Xvfb};
use torsocks_testkit::{require, wait};

/// The Qt window's colour (0xRRGGBB).
const QT_COLOUR: u32 = 0xaa0055;

/// A Qt window titled `qt-in-torsocks`, filled with [`QT_COLOUR`].
const QT_WINDOW: &str = "import sys\n\
from PyQt5.QtWidgets import QApplication, QWidget\n\
app = QApplication(sys.argv)\n\
w = QWidget(); w.setWindowTitle('qt-in-torsocks'); w.resize(400, 300)\n\
w.setStyleSheet('background-color: #aa0055'); w.show()\n\
app.exec_()\n";

/// `program` through `torsocks-ns --x11` on `x` (`rootless`: run by nobody) until the
/// window titled `title` satisfies `shows` (or a minute passes); whether it did.
fn shown(
    x: &Xvfb,
    rootless: bool,
    program: &[&str],
    title: &str,
    shows: impl Fn(&[u8]) -> bool,
) -> Option<bool> {
    let mock = MockTor::answering();
    let home = home_of_nobody(&[]);
    let mut cmd = launcher(rootless, &home)?;
    let running = cmd
        .args(["-P", &mock.addr().port().to_string(), "--x11", "--"])
        .args(program)
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env("DISPLAY", &x.display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ok = wait::until(Duration::from_secs(60), || {
        window(&x.display, title).is_some_and(|dump| shows(&dump))
    });
    terminate(running);
    let _ = std::fs::remove_dir_all(home.parent().unwrap());
    Some(ok)
}

#[test]
fn a_qt_and_a_gtk_program_open_their_windows() {
    if !require::tun() || require::program("zenity").is_none() {
        return;
    }
    let Some(x) = Xvfb::start() else {
        return;
    };
    let qt = ["/usr/bin/python3", "-c", QT_WINDOW];
    let gtk = [
        "zenity",
        "--info",
        "--title=gtk-in-torsocks",
        "--text=GTK through torsocks-ns",
    ];
    for rootless in [false, true] {
        let who = if rootless { "rootless" } else { "root-run" };
        let drawn = |dump: &[u8]| share_of(dump, QT_COLOUR) > 0.5;
        let Some(qt_shown) = shown(&x, rootless, &qt, "qt-in-torsocks", drawn) else {
            return;
        };
        assert!(qt_shown, "{who}: the Qt window never showed its colour");
        // The dialog is drawn: not a black (unpainted) window.
        let painted = |dump: &[u8]| share_of(dump, 0) < 0.5;
        let Some(gtk_shown) = shown(&x, rootless, &gtk, "gtk-in-torsocks", painted) else {
            return;
        };
        assert!(gtk_shown, "{who}: the GTK dialog never showed");
    }
}
