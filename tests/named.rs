//! Named sandboxes: `--name` registers a running sandbox, `--list` shows it, `--join`
//! runs a command inside it (its namespaces, user, privileges, environment and Tor
//! session), root-run and rootless; another user's sandbox cannot be joined.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use torsocks_testkit::output::{assert_fails, text};
use torsocks_testkit::wait::until_ready;
use torsocks_testkit::world::World;

/// A registry directory of the test's own (0700, owned by `uid`), as `$XDG_RUNTIME_DIR`.
fn runtime_dir(name: &str, uid: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tsrs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    dir
}

/// A sandbox named `name` whose command says "ready", waits for a line, then ends;
/// the line read before it returns.
fn start_named(mut cmd: Command, runtime: &PathBuf, name: &str) -> (Child, ChildStdin) {
    let mut child = until_ready(
        cmd.env("XDG_RUNTIME_DIR", runtime)
            .args([
                "--stats",
                "--name",
                name,
                "--",
                "sh",
                "-c",
                "echo ready; read line",
            ])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// Ends the named sandbox; its stderr (the --stats summary).
fn finish(child: Child, mut stdin: ChildStdin) -> String {
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// torsocks-ns against the world's mock Tor with `runtime` as its registry, run to
/// the end.
fn registered(w: &World, runtime: &PathBuf, args: &[&str]) -> std::process::Output {
    w.ns()
        .env("XDG_RUNTIME_DIR", runtime)
        .args(args)
        .output()
        .unwrap()
}

/// What a joined command shows of itself, and a fetch through Tor.
const INSIDE: &str = "id -un; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; \
                      ip -br link | cut -d' ' -f1 | sort | tr '\\n' ' '; echo; \
                      curl -sS --max-time 10 http://target.test/hello.txt"; // world::TARGET_NAME

fn assert_joined_as(out: &std::process::Output, user: &str) {
    assert!(out.status.success(), "{}", text(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            user,
            "CapEff:\t0000000000000000",
            "NoNewPrivs:\t1",
            "Seccomp:\t2",
            "lo tun0 ",
            "hello from the target host"
        ],
        "{}",
        text(out)
    );
}

#[test]
fn a_named_sandbox_is_listed_and_joined_root_run() {
    let Some(w) = World::with_tun() else { return };
    let runtime = runtime_dir("named-root", 0);
    let (child, stdin) = start_named(w.ns(), &runtime, "web");
    let list = registered(&w, &runtime, &["--list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.lines().nth(1).is_some_and(|l| l.starts_with("web ")
            && l.contains(&child.id().to_string())
            && l.ends_with("sh -c echo ready; read line")),
        "{}",
        text(&list)
    );
    let taken = registered(&w, &runtime, &["--name", "web", "true"]);
    assert_fails(&taken, 1, "--name web: a sandbox of that name is running");
    let bad = registered(&w, &runtime, &["--name", "../web", "true"]);
    assert_fails(&bad, 1, "--name \"../web\": use 1 to 64 letters");
    let joined = registered(&w, &runtime, &["--join", "web", "--", "sh", "-c", INSIDE]);
    assert_joined_as(&joined, "nobody");
    let by_pid = registered(
        &w,
        &runtime,
        &["--join", &child.id().to_string(), "sh", "-c", "exit 7"],
    );
    assert_eq!(by_pid.status.code(), Some(7), "{}", text(&by_pid));
    // The joined command's connection went through the first command's session.
    let summary = finish(child, stdin);
    assert!(summary.contains("connections: 1 opened"), "{summary}");
    assert!(w
        .host
        .received()
        .1
        .iter()
        .any(|(_, path)| path == "/hello.txt"));
    let after = registered(&w, &runtime, &["--join", "web", "true"]);
    assert_fails(&after, 1, "--join web: no running sandbox of yours");
    let _ = std::fs::remove_dir_all(&runtime);
}

#[test]
fn a_rootless_sandbox_is_joined_and_another_user_s_is_refused() {
    let Some(w) = World::with_tun() else { return };
    let Some(mut nobody) = w.ns_as_nobody() else {
        return;
    };
    let nobody_runtime = runtime_dir("named-nobody", 65534);
    let (child, stdin) = start_named(
        std::mem::replace(&mut nobody, w.ns_as_nobody().unwrap()),
        &nobody_runtime,
        "mine",
    );
    let joined = nobody
        .env("XDG_RUNTIME_DIR", &nobody_runtime)
        .args(["--join", "mine", "--", "sh", "-c", INSIDE])
        .output()
        .unwrap();
    assert_joined_as(&joined, "nobody");
    // Root's registry does not hold nobody's sandbox; its launcher's pid is refused.
    let root_runtime = runtime_dir("named-other", 0);
    let by_name = registered(&w, &root_runtime, &["--join", "mine", "true"]);
    assert_fails(&by_name, 1, "--join mine: no running sandbox of yours");
    let by_pid = registered(
        &w,
        &root_runtime,
        &["--join", &child.id().to_string(), "true"],
    );
    assert_fails(
        &by_pid,
        1,
        "not a sandbox of yours: joining another user's sandbox is refused",
    );
    finish(child, stdin);
    let _ = std::fs::remove_dir_all(&nobody_runtime);
    let _ = std::fs::remove_dir_all(&root_runtime);
}

// A joined command gets its sandbox's user namespace policy: none by default, as
// with `--allow-userns` when the sandbox was started with it.
#[test]
fn a_joined_command_keeps_the_sandbox_s_user_namespace_policy() {
    let Some(w) = World::with_tun() else { return };
    let runtime = runtime_dir("named-userns", 0);
    let (plain, plain_in) = start_named(w.ns(), &runtime, "plain");
    let mut allowing = w.ns();
    allowing.arg("--allow-userns");
    let (allowed, allowed_in) = start_named(allowing, &runtime, "browser");
    let made = |name: &str| {
        let script = "unshare -Ur true 2>/dev/null && echo made || echo refused";
        let out = registered(&w, &runtime, &["--join", name, "sh", "-c", script]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(made("plain"), "refused");
    assert_eq!(made("browser"), "made");
    finish(plain, plain_in);
    finish(allowed, allowed_in);
    let _ = std::fs::remove_dir_all(&runtime);
}
