//! End-to-end tier: the private Tor network carries curl to the onion service and to a
//! test-zone name on the target host, and no tor process ever talks to anything but
//! loopback and the target host.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::process::Command;
use std::time::Duration;

use torsocks_testkit::require;
use torsocks_testkit::target_host::{http_files, TargetHost};
use torsocks_testkit::tornet::{TorNet, TorNetOptions, ONION_BODY};

const ZONE_NAME: &str = "www.tornet.test";
/// A zone name for reverse lookups: tor exits refuse those of internal addresses, so
/// it has an address of TEST-NET-1 (RFC 5737), to which nothing ever connects.
const PTR_NAME: &str = "ptr.tornet.test";
const PTR_ADDR: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 80);

fn curl(socks: std::net::SocketAddr, url: &str) -> std::process::Output {
    Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "60",
            "--socks5-hostname",
        ])
        .arg(socks.to_string())
        .arg(url)
        .output()
        .expect("run curl")
}

#[test]
fn curl_through_private_tor_network() {
    if !require::root("confine tor by uid and create the target host")
        || require::program("tor").is_none()
        || require::program("tor-gencert").is_none()
        || require::program("curl").is_none()
    {
        return;
    }
    let host = TargetHost::start().expect("target host");
    let options = TorNetOptions {
        zone: vec![(ZONE_NAME.into(), host.ip()), (PTR_NAME.into(), PTR_ADDR)],
        allow: vec![(
            host.subnet().to_string(),
            format!("tsrs{}h", host.subnet().addr.octets()[2]),
        )],
    };
    let net = TorNet::start(options).expect("private Tor network");
    net.wait_for_onion(Duration::from_secs(180))
        .unwrap_or_else(|e| panic!("{e}\nonion log:\n{}", net.log_of("onion")));

    let onion_url = format!("http://{}/", net.onion_hostname());
    let out = curl(net.socks_addr(), &onion_url);
    assert!(
        out.status.success(),
        "curl onion: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, ONION_BODY);

    // A test-zone name: resolved by an exit through the stub, fetched from the target host.
    let mut attempt = 0;
    let out = loop {
        let out = curl(net.socks_addr(), &format!("http://{ZONE_NAME}/hello.txt"));
        attempt += 1;
        if out.status.success() || attempt == 5 {
            break out;
        }
        net.newnym().ok();
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(
        out.status.success(),
        "curl zone name: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, http_files()["/hello.txt"]);
    assert!(net.dns_queries().iter().any(|q| q == ZONE_NAME));
    assert!(host
        .http_requests()
        .iter()
        .any(|(_, path)| path == "/hello.txt"));

    // Preload mode end to end: torsocks curl, with and without per-process isolation.
    for isolate in [false, true] {
        let mut args = vec!["-P".to_string(), net.socks_addr().port().to_string()];
        if isolate {
            args.push("-i".into());
        }
        for (url, body) in [
            (onion_url.clone(), ONION_BODY.to_vec()),
            (
                format!("http://{ZONE_NAME}/hello.txt"),
                http_files()["/hello.txt"].clone(),
            ),
        ] {
            let out = Command::new(torsocks_testkit::install::bin("torsocks"))
                .args(&args)
                .args(["curl", "--silent", "--show-error", "--max-time", "60", &url])
                .env("TORSOCKS_CONF_FILE", "/dev/null")
                .output()
                .expect("run torsocks curl");
            assert!(
                out.status.success(),
                "torsocks {args:?} curl {url}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, body, "torsocks {args:?} curl {url}");
        }
    }

    // Namespace mode end to end: curl and a static busybox wget in the sandbox.
    for (program, url, body) in [
        (
            vec!["curl", "--silent", "--show-error", "--max-time", "60"],
            onion_url.clone(),
            ONION_BODY.to_vec(),
        ),
        (
            vec!["curl", "--silent", "--show-error", "--max-time", "60"],
            format!("http://{ZONE_NAME}/hello.txt"),
            http_files()["/hello.txt"].clone(),
        ),
        (
            vec!["/bin/busybox", "wget", "-q", "-O", "-"],
            onion_url.clone(),
            ONION_BODY.to_vec(),
        ),
        (
            vec!["/bin/busybox", "wget", "-q", "-O", "-"],
            format!("http://{ZONE_NAME}/hello.txt"),
            http_files()["/hello.txt"].clone(),
        ),
    ] {
        let out = Command::new(torsocks_testkit::install::bin("torsocks-ns"))
            .args(["-P", &net.socks_addr().port().to_string(), "--"])
            .args(&program)
            .arg(&url)
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .output()
            .expect("run torsocks-ns");
        assert!(
            out.status.success(),
            "torsocks-ns {program:?} {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, body, "torsocks-ns {program:?} {url}");
    }

    // A reverse lookup in the sandbox: RESOLVE_PTR through Tor to an exit's resolver.
    let out = Command::new(torsocks_testkit::install::bin("torsocks-ns"))
        .args(["-P", &net.socks_addr().port().to_string(), "--"])
        .args(["getent", "hosts", &PTR_ADDR.to_string()])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .expect("run torsocks-ns getent");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && names_ptr(&answer),
        "PTR through the daemon: {answer}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    sandbox_features_end_to_end(&net);
    embedded_client_end_to_end(&net);
    embedded_runs_at_once(&net);

    let peers = net.peers().expect("ss");
    // Seven tor processes talk to each other: the check must have seen them.
    assert!(
        peers.connections >= 7,
        "ss saw only {} tor connections",
        peers.connections
    );
    assert!(
        peers.foreign.is_empty(),
        "tor talked beyond loopback and the target host: {:#?}",
        peers.foreign
    );
}

/// Whether `getent hosts PTR_ADDR` printed the zone's name for it.
fn names_ptr(output: &str) -> bool {
    let addr = PTR_ADDR.to_string();
    output
        .lines()
        .any(|l| l.split_whitespace().eq([addr.as_str(), PTR_NAME]))
}

/// The `first=SECONDS` curl printed (`-w`), as printed.
fn first_fetch_time(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix("first="))
        .unwrap_or("?")
        .to_string()
}

/// The resident memory of a process, from /proc.
/// What `child` printed up to and including the line `marker` (or all it printed, when
/// it ended first).
fn until_line(child: &mut std::process::Child, marker: &str) -> String {
    use std::io::{BufRead, BufReader};
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let marker = format!("{marker}\n");
    while !seen.ends_with(&marker) && stdout.read_line(&mut seen).unwrap() > 0 {}
    seen
}

/// Whether this kernel enables Landlock (it lists it among its security modules).
fn landlock_here() -> bool {
    std::fs::read_to_string("/sys/kernel/security/lsm")
        .map(|lsm| lsm.split(',').any(|m| m == "landlock"))
        .unwrap_or(true)
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `--check`, an onion service of a server inside the sandbox fetched from outside, and
/// NEWNYM through the ControlPort, against the real tor processes.
fn sandbox_features_end_to_end(net: &TorNet) {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;

    let ns = || {
        let mut cmd = Command::new(torsocks_testkit::install::bin("torsocks-ns"));
        cmd.args(["-P", &net.socks_addr().port().to_string()])
            .args(["--control", &net.control_addr().to_string()])
            .env("TORSOCKS_CONF_FILE", "/dev/null");
        cmd
    };
    let out = Command::new(torsocks_testkit::install::bin("torsocks"))
        .args(["-P", &net.socks_addr().port().to_string(), "--check"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env_remove("LD_PRELOAD")
        .output()
        .expect("torsocks --check");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "torsocks --check against real Tor:\n{report}"
    );
    let out = ns().arg("--check").output().expect("torsocks-ns --check");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "--check against real Tor:\n{report}");
    assert!(report.contains("✓ it is Tor: it answers HTTP"), "{report}");
    assert!(!report.contains('✗'), "{report}");

    let server = "import socket, sys\n\
        s = socket.socket(); s.bind(('127.0.0.1', 8000)); s.listen()\n\
        print('ready', flush=True)\n\
        while True:\n\
        \x20   c, _ = s.accept(); c.recv(1000)\n\
        \x20   c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\nserved from the sandbox\\n'); c.close()\n";
    let mut child = ns()
        .args(["--onion-service", "80:8000", "--", "python3", "-c", server])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("torsocks-ns --onion-service");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let mut errors = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    errors.read_line(&mut line).unwrap();
    let address = line
        .split_whitespace()
        .find(|w| w.ends_with(".onion:"))
        .map(|w| w.trim_end_matches(':').to_string())
        .unwrap_or_else(|| panic!("no onion address in {line:?}"));
    // Publishing takes a while in any Tor network: retry until the descriptor is out.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let body = loop {
        match torsocks_testkit::tornet::socks_http_get(net.socks_addr(), &address, 80, "/") {
            Ok(body) => break body,
            Err(e) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                panic!(
                    "{address} never answered: {e}\nonion log:\n{}",
                    net.log_of("client")
                );
            }
            Err(_) => {
                let _ = net.newnym();
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    };
    assert!(body.ends_with(b"served from the sandbox\n"), "{body:?}");
    // A new identity also asks Tor for new circuits.
    torsocks_testkit::install::ask_new_identity(&child);
    line.clear();
    errors.read_line(&mut line).unwrap();
    assert!(line.contains("Tor was sent NEWNYM"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::io::stdout().flush();
    stock_tor_details_end_to_end(net);
}

/// What a new user met on a stock setup, through real Tor: a request sent with a
/// half-close (`nc -N`) gets its reply, `host NAME` exits 0, and Tor's ControlPort on a
/// Unix socket (as Debian's) takes NEWNYM.
fn stock_tor_details_end_to_end(net: &TorNet) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let port = net.socks_addr().port().to_string();
    let request = r"printf 'GET /hello.txt HTTP/1.0\r\n\r\n'";
    let script = format!(
        "{request} | nc -N -w 60 {ZONE_NAME} 80 | tail -n 1; host {ZONE_NAME} > /dev/null && echo host-ok"
    );
    let out = Command::new(torsocks_testkit::install::bin("torsocks-ns"))
        .args(["-P", &port, "--", "sh", "-c", &script])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .expect("torsocks-ns nc -N");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the target host\nhost-ok\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Tor's SOCKS port on a Unix socket (`SocksPort unix:PATH`), root-run: the launcher
    // (nobody, in a root with that socket alone) reaches it.
    let unix = format!("unix:{}", net.socks_socket().display());
    let out = Command::new(torsocks_testkit::install::bin("torsocks-ns"))
        .args(["-a", &unix, "--", "sh", "-c", &script])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .current_dir("/")
        .output()
        .expect("torsocks-ns -a unix:");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the target host\nhost-ok\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let socket = net.dir().join("client").join("control");
    let mut child = Command::new(torsocks_testkit::install::bin("torsocks-ns"))
        .args([
            "-P",
            &port,
            "--control",
            &format!("unix:{}", socket.display()),
        ])
        .args(["--", "sh", "-c", "echo ready; sleep 60"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("torsocks-ns --control unix:");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n");
    torsocks_testkit::install::ask_new_identity(&child);
    let said = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("new identity"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        said.as_deref()
            .is_some_and(|l| l.contains("Tor was sent NEWNYM")),
        "{said:?}"
    );
}

/// Three embedded runs started at once with one new state directory (a `--shell` open
/// while a script runs): each bootstraps and fetches its page, one writing the shared
/// state and cache, the others reading them.
fn embedded_runs_at_once(net: &TorNet) {
    let Some(setpriv) = require::program("setpriv") else {
        return;
    };
    let dir = net.dir().join("arti");
    let state = dir.join("shared-state");
    let _ = std::fs::remove_dir_all(&state);
    let url = format!("http://{ZONE_NAME}/hello.txt");
    let runs: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&setpriv)
                .args(["--reuid=debian-tor", "--regid=debian-tor", "--clear-groups"])
                .arg(torsocks_testkit::install::bin("torsocks-ns"))
                .args(["--tor", "embedded", "-P", "1", "--tor-state"])
                .arg(&state)
                .arg("--arti-config")
                .arg(dir.join("arti.toml"))
                .args(["--", "curl", "-sS", "--max-time", "60", &url])
                .env("TORSOCKS_CONF_FILE", "/dev/null")
                .env("HOME", &dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("torsocks-ns --tor embedded")
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stdout == http_files()["/hello.txt"],
            "run {i} of three at once: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The embedded Tor client (Arti) against the private network, with no tor daemon on
/// the SOCKS port: namespace mode and `torsocks --embedded`. It runs as the tor user,
/// so the same uid confinement as the tor processes' guards what it may reach, and
/// `ss` shows it talking to loopback only.
fn embedded_client_end_to_end(net: &TorNet) {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    use std::time::Instant;

    let Some(setpriv) = require::program("setpriv") else {
        return;
    };
    let dir = net.dir().join("arti");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("arti.toml");
    std::fs::write(&config, net.arti_config().expect("arti config")).unwrap();
    let state = dir.join("state");
    let owned = Command::new("chown")
        .args(["-R", "debian-tor:debian-tor"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(owned.success());
    // Rootless namespace mode needs a TUN device usable by the user.
    std::fs::set_permissions(
        "/dev/net/tun",
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    // A program run as debian-tor, the user of the embedded runs below.
    let same_user = || {
        let mut cmd = Command::new(&setpriv);
        cmd.args([
            "--reuid=debian-tor",
            "--regid=debian-tor",
            "--clear-groups",
            "--",
        ]);
        cmd
    };
    let as_tor_user = |program: &str| {
        let mut cmd = same_user();
        cmd.arg(torsocks_testkit::install::bin(program))
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .env("HOME", &dir);
        cmd
    };
    let embedded_args = [
        "--tor-state".to_string(),
        state.display().to_string(),
        "--arti-config".into(),
        config.display().to_string(),
    ];

    // Namespace mode: a name of the test zone (the session's first connection, timed),
    // the onion service by curl and by a static busybox, a reverse lookup, a name the
    // zone does not have (NXDOMAIN kept), then a pause in which `ss` looks at the
    // launcher and its memory is read.
    let onion_url = format!("http://{}/", net.onion_hostname());
    let script = format!(
        "curl -sS --max-time 60 -w 'first=%{{time_total}}\\n' http://{ZONE_NAME}/hello.txt; \
         curl -sS --max-time 60 {onion_url}; \
         /bin/busybox wget -q -O - {onion_url}; \
         getent hosts {PTR_ADDR}; \
         getent hosts nothing-here.tornet.test; echo \"nxdomain=$?\"; \
         echo paused; read x"
    );
    let started = Instant::now();
    let mut child = as_tor_user("torsocks-ns")
        .args(["--tor", "embedded", "-d", "-P", "1"])
        .args(&embedded_args)
        .args(["--", "sh", "-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("torsocks-ns --tor embedded");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.ends_with("paused\n") {
        if stdout.read_line(&mut seen).unwrap() == 0 {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "torsocks-ns --tor embedded ended early: {seen}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let cold = started.elapsed();
    // The launcher and its children in this network namespace: the embedded client's
    // process (torsocks-arti) among them. (The sandbox's processes have a network of
    // their own, which `ss` here does not show.)
    let helpers = torsocks_testkit::procfs::children(child.id());
    let arti = helpers
        .iter()
        .copied()
        .find(|&pid| torsocks_testkit::procfs::is_named(pid, "torsocks-arti"))
        .unwrap_or_else(|| panic!("no torsocks-arti among the launcher's children {helpers:?}"));
    let ss = Command::new("ss").args(["-tnpH"]).output().unwrap();
    let of = |pid: u32| {
        let needle = format!("pid={pid},");
        String::from_utf8_lossy(&ss.stdout)
            .lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let arti_connections = of(arti);
    let mut connections = of(child.id());
    connections.extend(arti_connections.iter().cloned());
    let rss_kib = resident_kib(child.id());
    let arti_rss_kib = resident_kib(arti);
    // Both processes confined, seen from outside while they serve.
    let confinement = |pid: u32| {
        let of = |key| torsocks_testkit::procfs::status_of_threads(pid, key).join("|");
        let ptrace = torsocks_testkit::procfs::ptrace_attach(same_user(), pid);
        format!(
            "NoNewPrivs {} Seccomp {} CapEff {} ptrace {ptrace}",
            of("NoNewPrivs"),
            of("Seccomp"),
            of("CapEff"),
        )
    };
    let launcher_confinement = confinement(child.id());
    let arti_confinement = confinement(arti);
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{seen}\n{stderr}");
    let hello = String::from_utf8_lossy(&http_files()["/hello.txt"]).into_owned();
    assert!(seen.starts_with(&hello), "zone name: {seen}\n{stderr}");
    let onion_body = String::from_utf8_lossy(ONION_BODY).into_owned();
    assert_eq!(
        seen.matches(onion_body.as_str()).count(),
        2,
        "the onion service by curl and busybox: {seen}\n{stderr}"
    );
    assert!(
        names_ptr(&seen),
        "PTR through the embedded client: {seen}\n{stderr}"
    );
    assert!(seen.contains("nxdomain=2"), "NXDOMAIN kept: {seen}");
    for (who, seen) in [
        ("the launcher", &launcher_confinement),
        ("torsocks-arti", &arti_confinement),
    ] {
        assert!(
            seen.starts_with("NoNewPrivs 1 Seccomp 2 CapEff 0000000000000000 ptrace refused"),
            "{who} is confined: {seen}\n{stderr}"
        );
    }
    assert!(
        stderr.contains("the embedded Tor client is confined: Landlock: files only in its state")
            || !landlock_here(),
        "Landlock named under -d: {stderr}"
    );
    let embedded_first = first_fetch_time(&seen);
    assert!(
        stderr.contains("waiting for the embedded Tor client to bootstrap")
            && stderr.contains("the embedded Tor client has bootstrapped"),
        "bootstrap progress: {stderr}"
    );
    // The embedded client (Arti's channels to the relays, the front's to the launcher)
    // and the launcher (its connector's to the front).
    assert!(
        !arti_connections.is_empty(),
        "ss saw no connection of the embedded client"
    );
    for line in &connections {
        let peer = line.split_whitespace().nth(4).unwrap_or("");
        assert!(
            peer.starts_with("127.0.0.1:") || peer.starts_with("[::1]:"),
            "the embedded client talked beyond loopback: {line}"
        );
    }
    // Preload mode: the wrapper's helper, warm (the directory is cached now).
    let started = Instant::now();
    let out = as_tor_user("torsocks")
        .arg("--embedded")
        .args(&embedded_args)
        .args(["curl", "-sS", "--max-time", "60"])
        .arg(format!("http://{ZONE_NAME}/hello.txt"))
        .output()
        .expect("torsocks --embedded");
    let warm = started.elapsed();
    assert!(
        out.status.success(),
        "torsocks --embedded curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, http_files()["/hello.txt"]);
    // The rest of what the library does through the embedded client: the onion service,
    // a reverse lookup (RESOLVE_PTR) and a name the zone lacks.
    let out = as_tor_user("torsocks")
        .arg("--embedded")
        .args(&embedded_args)
        .args(["/bin/sh", "-c"]) // (`torsocks sh` is `torsocks show`)
        .arg(format!(
            "curl -sS --max-time 60 {onion_url}; getent hosts {PTR_ADDR}; \
             getent hosts nothing-here.tornet.test; echo \"nxdomain=$?\""
        ))
        .output()
        .expect("torsocks --embedded sh");
    let seen = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(seen.starts_with(&onion_body), "onion: {seen}{stderr}");
    assert!(names_ptr(&seen), "PTR in preload mode: {seen}{stderr}");
    assert!(seen.contains("nxdomain=2"), "NXDOMAIN kept: {seen}{stderr}");

    // auto with no daemon on the configured port: the embedded client.
    let out = as_tor_user("torsocks-ns")
        .args(["--tor", "auto", "-d", "-P", "1"])
        .args(&embedded_args)
        .args(["--", "curl", "-sS", "--max-time", "60", &onion_url])
        .output()
        .expect("torsocks-ns --tor auto");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("using the embedded Tor client"),
        "auto without a daemon: {stderr}"
    );
    assert_eq!(out.stdout, ONION_BODY, "auto without a daemon: {stderr}");

    // Root-run (a state of root's own): the client keeps uid 0 but no capability, and
    // both processes are confined while the command runs.
    // (Not beneath the network's directory, which only debian-tor may enter.)
    let root_state =
        std::env::temp_dir().join(format!("torsocks-rs-root-arti-{}", std::process::id()));
    let mut child = Command::new(torsocks_testkit::install::bin("torsocks-ns"))
        .args(["--tor", "embedded", "-d", "-P", "1", "--tor-state"])
        .arg(&root_state)
        .arg("--arti-config")
        .arg(&config)
        .args(["--", "sh", "-c"])
        .arg(format!(
            "curl -sS --max-time 60 {onion_url}; echo paused; read x"
        ))
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("torsocks-ns --tor embedded, root-run");
    let seen = until_line(&mut child, "paused");
    let arti = torsocks_testkit::procfs::children(child.id())
        .into_iter()
        .find(|&pid| torsocks_testkit::procfs::is_named(pid, "torsocks-arti"));
    let confined = [Some(child.id()), arti].map(|pid| pid.map(confinement));
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(seen.starts_with(&onion_body), "root-run: {seen}{stderr}");
    for seen in confined {
        assert!(
            seen.as_deref()
                .is_some_and(|c| c.starts_with("NoNewPrivs 1 Seccomp 2 CapEff 0000000000000000")),
            "root-run, both processes confined: {seen:?}\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&root_state);

    // Isolation, as the onion service sees it: the rendezvous circuits its clients
    // come on. Two fetches in one session share a circuit; with `--isolate
    // connection` each fetch has its own.
    let mut circuits = Vec::new();
    // The service is asked while the client still runs: its circuits close with it.
    for isolate in ["session", "connection"] {
        let before = net.onion_rendezvous_circuits().expect("onion ControlPort");
        let mut child = as_tor_user("torsocks-ns")
            .args(["--tor", "embedded", "-P", "1", "--isolate", isolate])
            .args(&embedded_args)
            .args(["--", "sh", "-c"])
            .arg(format!(
                "curl -sS --max-time 60 {onion_url} {onion_url}; echo done; read x"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("torsocks-ns --isolate");
        let seen = until_line(&mut child, "done");
        let after = net.onion_rendezvous_circuits().expect("onion ControlPort");
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            seen.matches(onion_body.as_str()).count(),
            2,
            "--isolate {isolate}: {seen}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        circuits.push(after.iter().filter(|id| !before.contains(id)).count());
    }
    assert_eq!(
        circuits,
        [1, 2],
        "new rendezvous circuits for two fetches: [one session, --isolate connection]"
    );

    // The daemon's first connection of a session, for comparison.
    let out = Command::new(torsocks_testkit::install::bin("torsocks-ns"))
        .args(["-P", &net.socks_addr().port().to_string(), "--"])
        .args(["curl", "-sS", "--max-time", "60", "-o", "/dev/null"])
        .args(["-w", "first=%{time_total}\n"])
        .arg(format!("http://{ZONE_NAME}/hello.txt"))
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    let daemon_first = first_fetch_time(&String::from_utf8_lossy(&out.stdout));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("does not answer as Tor"),
        "a real tor is taken for Tor: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "embedded client: first run (cold bootstrap, 3 fetches, 2 onion connections) \
         {cold:?}; RSS then: launcher {rss_kib} KiB, torsocks-arti {arti_rss_kib} KiB; \
         torsocks --embedded curl (warm) \
         {warm:?}; a session's first fetch {embedded_first} s (the daemon's: {daemon_first} s)"
    );

    // auto: the daemon when it answers.
    let out = Command::new(torsocks_testkit::install::bin("torsocks-ns"))
        .args([
            "--tor",
            "auto",
            "-d",
            "-P",
            &net.socks_addr().port().to_string(),
        ])
        .args(["--", "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("a tor daemon answers: using it"),
        "{stderr}"
    );
}
