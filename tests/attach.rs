//! `--attach PID`: a network namespace made the way rootless container engines make
//! them (an unprivileged user's user and network namespaces, linked to a target host by
//! a veth) gets a Tor-only network: its link removed, `tun0` added, a process inside
//! with CAP_NET_ADMIN unable to restore its way out, and no network at all once
//! torsocks-ns ends. The way out is first shown working.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use torsocks_testkit::output::text;
use torsocks_testkit::require;
use torsocks_testkit::wait::until_ready;
use torsocks_testkit::world::World;

/// The container's side of the veth and its peer in the target host's namespace.
const INSIDE_ADDR: &str = "10.213.0.2";
const PEER_ADDR: &str = "10.213.0.1";

/// A "container": `nobody`'s user namespace (root mapped to nobody) with a network
/// namespace of its own, holding one process; its host pid.
fn container() -> Child {
    until_ready(
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .args(["unshare", "--user", "--map-root-user", "--net", "--"])
            .args(["sh", "-c", "echo ready; exec sleep 600"]),
    )
}

/// A command run inside the container as its root (CAP_NET_ADMIN in its namespaces).
fn inside(pid: u32, script: &str) -> Output {
    Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-U", "-n", "--preserve-credentials"])
        .args(["sh", "-c", script])
        .output()
        .unwrap()
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", text(&out));
}

/// The container's veth to the target host, with its default route through it.
fn link_to_target(w: &World, pid: u32) {
    let host_end = format!("tsa{pid}");
    ip(&[
        "link",
        "add",
        &host_end,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &pid.to_string(),
    ]);
    let ns = w.host.namespace();
    ip(&["link", "set", &host_end, "netns", &ns]);
    ip(&[
        "-n",
        &ns,
        "addr",
        "add",
        &format!("{PEER_ADDR}/30"),
        "dev",
        &host_end,
    ]);
    ip(&["-n", &ns, "link", "set", &host_end, "up"]);
    let setup = format!(
        "ip addr add {INSIDE_ADDR}/30 dev eth0 && ip link set eth0 up && ip link set lo up \
         && ip route add default via {PEER_ADDR}"
    );
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "sh", "-c", &setup])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// Requests the target host saw from the container's own address.
fn seen_from_inside(w: &World) -> usize {
    w.host
        .received()
        .1
        .iter()
        .filter(|(peer, _)| peer.ip().to_canonical().to_string() == INSIDE_ADDR)
        .count()
}

#[test]
fn a_rootless_container_gets_a_tor_only_network_then_none() {
    let Some(w) = World::with_tun() else { return };
    if require::program("nsenter").is_none() || require::program("curl").is_none() {
        return;
    }
    let Some(mut attach) = w.ns_as_nobody() else {
        return;
    };
    let mut container = container();
    let pid = container.id();
    link_to_target(&w, pid);
    let url = format!("http://{}/hello.txt", w.host.ip());
    let fetch = format!("curl -sS --max-time 10 {url}");
    // Before: the container's own way out reaches the target host directly.
    let direct = inside(pid, &fetch);
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout),
        "hello from the target host\n",
        "{}",
        text(&direct)
    );
    assert_eq!(seen_from_inside(&w), 1);

    let mut launcher = attach
        .args(["--stats", "--attach", &pid.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(launcher.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("✓ eth0 removed"), "{first}");
    let second = lines.next().unwrap().unwrap();
    assert!(second.contains("✓ tun0 added"), "{second}");

    let links = inside(pid, "ip -br link | cut -d' ' -f1 | sort | tr '\\n' ' '");
    assert_eq!(String::from_utf8_lossy(&links.stdout), "lo tun0 ");
    // The container's root tries to restore its way out: nothing to restore it on.
    let restore = inside(
        pid,
        &format!(
            "ip addr add {INSIDE_ADDR}/30 dev eth0 || ip route add default via {PEER_ADDR}; \
                  ip route replace default via {PEER_ADDR} 2>&1 || echo refused"
        ),
    );
    assert!(
        String::from_utf8_lossy(&restore.stdout).ends_with("refused\n"),
        "{}",
        text(&restore)
    );
    // Through Tor now: by address and by name (DNS answered through Tor too).
    let through = inside(
        pid,
        &format!("{fetch} && curl -sS --max-time 10 http://target.test/hello.txt"),
    );
    assert_eq!(
        String::from_utf8_lossy(&through.stdout),
        "hello from the target host\nhello from the target host\n",
        "{}",
        text(&through)
    );
    assert_eq!(
        seen_from_inside(&w),
        1,
        "nothing more came from the container's own address"
    );
    assert!(w
        .mock
        .requests()
        .iter()
        .any(|r| r.host.as_deref() == Some(&w.host.ip().to_string())));

    // torsocks-ns ends: the namespace is left with lo alone.
    // SAFETY: kill(2) on the launcher this test started, by its pid.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(launcher.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = launcher.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(128 + 15), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("connections: 2 opened")),
        "{rest:?}"
    );
    let after = inside(
        pid,
        &format!("ip -br link | cut -d' ' -f1 | tr '\\n' ' '; {fetch} || echo no-network"),
    );
    let after_out = String::from_utf8_lossy(&after.stdout);
    assert!(
        after_out.starts_with("lo ") && after_out.ends_with("no-network\n"),
        "{}",
        text(&after)
    );
    assert_eq!(seen_from_inside(&w), 1);

    let _ = container.kill();
    let _ = container.wait();
}

// The test's own namespace (this machine's) is refused: an interface of the test's own,
// there before, is there after (other tests add and remove theirs meanwhile).
#[test]
fn this_machine_s_own_namespace_is_never_stripped() {
    let Some(w) = World::with_tun() else { return };
    let witness = format!("tsk{}", std::process::id());
    let peer = format!("{witness}p");
    ip(&[
        "link", "add", &witness, "type", "veth", "peer", "name", &peer,
    ]);
    let out = w
        .ns()
        .args(["--attach", &std::process::id().to_string()])
        .output()
        .unwrap();
    let still_there = Command::new("ip")
        .args(["link", "show", &witness])
        .output()
        .unwrap();
    ip(&["link", "del", &witness]);
    torsocks_testkit::output::assert_fails(&out, 1, "shares torsocks-ns's own network namespace");
    assert!(still_there.status.success(), "{}", text(&still_there));
}
