//! Browsers with sandboxes of their own under `--x11`, on a virtual X server (Xvfb):
//! the page comes through Tor (the test's host saw the request, the mock Tor the
//! name) and a screenshot of the display shows it.
//!
//! * Firefox ESR, root-run and rootless, with its content sandbox on: its tab
//!   processes stack Firefox's seccomp filter on the sandbox's.
//! * Chromium, rootless and without `--no-sandbox`: its sandbox needs user namespaces,
//!   refused by default (it will not start), given by `--allow-userns`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use torsocks_testkit::http::HttpServer;
use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::procfs;
use torsocks_testkit::sandbox::{home_of_nobody, launcher, terminate};
use torsocks_testkit::xvfb::{share_of, Xvfb};
use torsocks_testkit::{require, wait};

/// The page's background, as the screenshot's pixels hold it (0xRRGGBB).
const PAGE_COLOUR: u32 = 0x00aa00;
const PAGE: &str = "<html><body style=\"background:#00aa00\"><h1>through Tor</h1></body></html>";

/// Every process below `pid` (Firefox starts its children from threads other than
/// its main one: each thread's children are read).
fn descendants(pid: u32) -> Vec<u32> {
    let mut all = Vec::new();
    let mut next = vec![pid];
    while let Some(p) = next.pop() {
        let threads = std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten();
        for thread in threads.flatten() {
            let children = std::fs::read_to_string(thread.path().join("children"));
            for child in children.unwrap_or_default().split_whitespace() {
                if let Ok(child) = child.parse() {
                    all.push(child);
                    next.push(child);
                }
            }
        }
    }
    all
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

/// How many seccomp filters process `pid` runs under.
fn filters(pid: u32) -> u32 {
    procfs::status(pid, "Seccomp_filters").parse().unwrap_or(0)
}

/// Firefox's tab processes (`-contentproc … tab`) among the launcher's descendants,
/// and how many more filters than its main process the first of them has.
fn content_sandbox(launcher: u32) -> Option<u32> {
    let all = descendants(launcher);
    let main = all
        .iter()
        .copied()
        .find(|&p| cmdline(p).starts_with("firefox-esr "))?;
    let tab = all.iter().copied().find(|&p| {
        let c = cmdline(p);
        c.contains("-contentproc") && c.trim_end().ends_with("tab")
    })?;
    filters(tab).checked_sub(filters(main))
}

/// A user namespace of its own (`/proc/PID/ns/user`), as its link names it.
fn user_namespace(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/user"))
        .map(|l| l.display().to_string())
        .unwrap_or_default()
}

/// Chromium's renderers (`--type=renderer`) among the launcher's descendants: how many
/// more filters than the browser process the first of them has, when it is also in a
/// user namespace of its own (the namespace layer of Chromium's sandbox).
fn renderer_sandbox(launcher: u32) -> Option<u32> {
    let all = descendants(launcher);
    let is_chromium = |p: u32| cmdline(p).starts_with("/usr/lib/chromium/chromium ");
    let main = all
        .iter()
        .copied()
        .find(|&p| is_chromium(p) && !cmdline(p).contains("--type="))?;
    let renderer = all
        .iter()
        .copied()
        .find(|&p| is_chromium(p) && cmdline(p).contains("--type=renderer"))?;
    (user_namespace(renderer) != user_namespace(main))
        .then(|| filters(renderer).checked_sub(filters(main)))
        .flatten()
}

/// What a browser run showed.
struct Browsed {
    /// The page's request reached the test's host.
    fetched: bool,
    /// It came through (the mock) Tor.
    through_tor: bool,
    /// The last screenshot, and whether it showed the page.
    shot: Vec<u8>,
    shown: bool,
    /// What `inspect` found of the browser's own sandbox while it ran.
    sandboxed: Option<u32>,
    /// What torsocks-ns and the browser wrote on stderr.
    stderr: String,
}

/// `browser` (a shell command, `URL` in it replaced by the page's) through
/// `torsocks-ns --x11 options` on `x` (`rootless`: run by nobody), to a page of the
/// test's own host reached through the mock Tor; `inspect` looks at the launcher's
/// descendants while the page is shown.
fn browse(
    x: &Xvfb,
    rootless: bool,
    options: &[&str],
    browser: &str,
    inspect: fn(u32) -> Option<u32>,
) -> Option<Browsed> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::serve(
        listener,
        BTreeMap::from([("/page.html", PAGE.as_bytes().to_vec())]),
    )
    .unwrap();
    let mock = MockTor::builder()
        .name("page.test", IpAddr::V4(Ipv4Addr::LOCALHOST))
        .start()
        .unwrap();
    let home = home_of_nobody(&[]);
    let mut cmd = launcher(rootless, &home)?;
    let script = browser.replace("URL", &format!("http://page.test:{port}/page.html"));
    let errors = home.with_file_name("stderr");
    let mut running = cmd
        .args(["-P", &mock.addr().port().to_string(), "--automap", "--x11"])
        .args(options)
        .args(["--", "sh", "-c", &script])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env("DISPLAY", &x.display)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .unwrap();
    let mut ended = false;
    wait::until(Duration::from_secs(90), || {
        ended = matches!(running.try_wait(), Ok(Some(_)));
        ended || !server.requests().is_empty()
    });
    let fetched = !server.requests().is_empty();
    let mut shot = Vec::new();
    let shown = fetched
        && !ended
        && wait::until(Duration::from_secs(60), || {
            shot = x.screenshot();
            share_of(&shot, PAGE_COLOUR) > 0.3
        });
    let sandboxed = inspect(running.id());
    terminate(running);
    let stderr = std::fs::read_to_string(&errors).unwrap_or_default();
    let _ = std::fs::remove_dir_all(home.parent().unwrap_or(Path::new("/nonexistent")));
    let through_tor = mock
        .requests()
        .iter()
        .any(|r| r.host.as_deref() == Some("page.test"));
    Some(Browsed {
        fetched,
        through_tor,
        shot,
        shown,
        sandboxed,
        stderr,
    })
}

/// The page came through Tor and the screen showed it (else the screenshot is kept).
fn assert_shown(who: &str, run: &Browsed) {
    assert!(
        run.fetched,
        "{who}: the page was never asked for: {}",
        run.stderr
    );
    assert!(
        run.through_tor,
        "{who}: the request did not come through Tor"
    );
    if !run.shown {
        let kept = std::env::temp_dir().join(format!("browsers-{}.xwd", who.replace(' ', "-")));
        let _ = std::fs::write(&kept, &run.shot);
        panic!(
            "{who}: the screen never showed the page ({:.0}% of it the page's colour; the \
             screenshot is {})",
            share_of(&run.shot, PAGE_COLOUR) * 100.0,
            kept.display()
        );
    }
}

const FIREFOX: &str =
    "mkdir -p /tmp/profile && exec firefox-esr --no-remote --profile /tmp/profile URL";

#[test]
fn firefox_with_its_content_sandbox_loads_a_page_through_tor() {
    if !require::tun() || require::program("firefox-esr").is_none() {
        return;
    }
    let Some(x) = Xvfb::start() else {
        return;
    };
    for rootless in [false, true] {
        let who = if rootless {
            "firefox rootless"
        } else {
            "firefox root-run"
        };
        let Some(run) = browse(&x, rootless, &[], FIREFOX, content_sandbox) else {
            return;
        };
        assert_shown(who, &run);
        assert!(
            run.sandboxed.is_some_and(|more| more > 0),
            "{who}: no tab process under a seccomp filter of Firefox's own ({:?})",
            run.sandboxed
        );
    }
}

const CHROMIUM: &str = "exec chromium --user-data-dir=/tmp/chromium --no-first-run \
    --no-default-browser-check --disable-gpu URL";

/// Chromium's sandbox needs user namespaces, which the sandbox refuses unless
/// `--allow-userns`: then, run by an unprivileged user, without `--no-sandbox`, its
/// renderers run in user namespaces of their own under its seccomp filter.
#[test]
fn chromium_with_its_sandbox_loads_a_page_through_tor_with_allow_userns() {
    if !require::tun() || require::program("chromium").is_none() {
        return;
    }
    let Some(x) = Xvfb::start() else {
        return;
    };
    let Some(refused) = browse(&x, true, &[], CHROMIUM, renderer_sandbox) else {
        return;
    };
    assert!(
        !refused.fetched && refused.stderr.contains("No usable sandbox"),
        "without --allow-userns Chromium's sandbox cannot start, and neither can it: {}",
        refused.stderr
    );
    let Some(run) = browse(&x, true, &["--allow-userns"], CHROMIUM, renderer_sandbox) else {
        return;
    };
    assert_shown("chromium --allow-userns", &run);
    assert!(
        run.sandboxed.is_some_and(|more| more > 0),
        "chromium --allow-userns: no renderer in a user namespace of its own under \
         Chromium's seccomp filter ({:?})",
        run.sandboxed
    );
}
