//! Namespace mode when Tor misbehaves: real programs inside the sandbox against a mock
//! Tor that breaks streams, dies, stalls or answers slowly. A broken stream must reach
//! the program as an error (never a clean end), every wait on Tor has a deadline, and
//! the session recovers when Tor does. Destinations are documentation addresses that
//! only ever appear inside SOCKS requests to the mock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use torsocks_testkit::install::{bin, torsocks_ns};
use torsocks_testkit::mock_tor::{Connect, MockTor, StreamEnd};
use torsocks_testkit::output::{assert_fails, stderr, stdout, text};
use torsocks_testkit::require;
use torsocks_testkit::wait::{eventually, until};

fn tun() -> bool {
    require::tun()
}

fn ns(mock: &MockTor, args: &[&str]) -> Command {
    torsocks_ns(mock.addr(), args)
}

/// A mock Tor that never answers a lookup, and answers a CONNECT with `payload`.
fn stalled_lookups(payload: &[u8]) -> MockTor {
    MockTor::builder()
        .stall_resolve()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: payload.to_vec(),
        })
        .start()
        .unwrap()
}

fn ending(end: StreamEnd) -> MockTor {
    MockTor::builder()
        .connect(Connect::SucceedThen {
            payload: b"partial data\n".to_vec(),
            end,
        })
        .start()
        .unwrap()
}

/// bash reading a TCP stream to its end: the exit status says whether it ended well.
const CAT: &str = "cat < /dev/tcp/192.0.2.1/80; echo status=$?";

#[test]
fn a_broken_stream_is_an_error_not_an_end() {
    if !tun() {
        return;
    }
    let mock = ending(StreamEnd::Reset);
    let out = ns(&mock, &["--stats", "--", "bash", "-c", CAT])
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(s.starts_with("partial data\n"), "{}", text(&out));
    assert!(
        !s.contains("status=0"),
        "a reset read as a clean end: {}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("the Tor stream failed: 1"),
        "{}",
        text(&out)
    );
    // python sees the reset as ECONNRESET after the data.
    let script = "import socket\n\
                  s = socket.create_connection(('192.0.2.1', 80), timeout=10)\n\
                  got = b''\n\
                  try:\n\
                  \x20   while True:\n\
                  \x20       d = s.recv(100)\n\
                  \x20       if not d: print('clean end', got); break\n\
                  \x20       got += d\n\
                  except ConnectionResetError: print('reset after', got)\n";
    let out = ns(&mock, &["--", "python3", "-c", script])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "reset after b'partial data\\n'\n",
        "{}",
        text(&out)
    );
}

#[test]
fn a_clean_end_is_a_clean_end() {
    if !tun() {
        return;
    }
    let mock = ending(StreamEnd::Close);
    let out = ns(&mock, &["--", "bash", "-c", CAT]).output().unwrap();
    assert_eq!(stdout(&out), "partial data\nstatus=0\n", "{}", text(&out));
}

#[test]
fn tor_dying_resets_connections_refuses_new_ones_and_recovers() {
    if !tun() {
        return;
    }
    let mock = ending(StreamEnd::Die);
    let addr = mock.addr();
    let script = "import socket, sys, time\n\
                  s = socket.create_connection(('192.0.2.1', 80), timeout=10)\n\
                  got = b''\n\
                  try:\n\
                  \x20   while True:\n\
                  \x20       d = s.recv(100)\n\
                  \x20       if not d: print('clean end', flush=True); break\n\
                  \x20       got += d\n\
                  except ConnectionResetError: print('reset', flush=True)\n\
                  start = time.time()\n\
                  try: socket.create_connection(('192.0.2.1', 80), timeout=10); print('connected?')\n\
                  except ConnectionRefusedError: print('refused in', round(time.time() - start), flush=True)\n\
                  print('down', flush=True)\n\
                  sys.stdin.readline()\n\
                  s = socket.create_connection(('192.0.2.1', 80), timeout=10)\n\
                  print('back', s.recv(100), flush=True)\n";
    let mut child = ns(&mock, &["--", "python3", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line == "down";
        seen.push(line);
        if done {
            break;
        }
    }
    assert_eq!(seen, ["reset", "refused in 0", "down"], "{seen:?}");
    // Tor comes back on the same port.
    drop(mock);
    let back = eventually(Duration::from_secs(5), || {
        MockTor::builder()
            .bind(addr)
            .connect(Connect::Succeed {
                atyp: 1,
                payload: b"hello again".to_vec(),
            })
            .start()
            .ok()
    })
    .unwrap_or_else(|| panic!("rebinding {addr}"));
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let out = child.wait_with_output().unwrap();
    assert_eq!(rest, ["back b'hello again'"], "{}", text(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("stopped answering").count(), 1, "{err}");
    assert_eq!(err.matches("answers again").count(), 1, "{err}");
    drop(back);
}

#[test]
fn a_stalled_tor_times_out() {
    if !tun() {
        return;
    }
    let mock = MockTor::builder()
        .connect(Connect::Stall)
        .stall_resolve()
        .start()
        .unwrap();
    let script = "import socket\n\
                  try: socket.create_connection(('192.0.2.1', 80), timeout=30); print('connected?')\n\
                  except ConnectionRefusedError: print('refused')\n\
                  try: socket.getaddrinfo('stalled.test', 80); print('resolved?')\n\
                  except socket.gaierror as e: print('lookup failed', e.errno == socket.EAI_AGAIN)\n";
    // The deadlines from the options, then the same from torsocks.conf.
    let dir = std::env::temp_dir().join(format!("tsrs-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("torsocks.conf");
    std::fs::write(&conf, "ConnectTimeout 1\nResolveTimeout 1\n").unwrap();
    let options = ["--connect-timeout", "1", "--resolve-timeout", "1"];
    for (how, options, conf) in [
        ("options", &options[..], None),
        ("file", &[][..], Some(&conf)),
    ] {
        let started = Instant::now();
        let mut cmd = ns(&mock, options);
        cmd.args(["--", "python3", "-c", script]);
        if let Some(conf) = conf {
            cmd.env("TORSOCKS_CONF_FILE", conf);
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            stdout(&out),
            "refused\nlookup failed True\n",
            "{how}: {}",
            text(&out)
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{how}: deadlines held"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dns_queries_in_flight_are_capped_and_the_session_recovers() {
    if !tun() {
        return;
    }
    let mock = stalled_lookups(b"still works");
    // 10,000 queries against a Tor that never answers a lookup: at most 16 wait for it
    // (then SERVFAIL at the deadline), the rest get SERVFAIL at once; afterwards a
    // connection works, so no resource ran out.
    let script = "import socket, struct, select, time\n\
                  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)\n\
                  def query(i):\n\
                  \x20   name = b''.join(bytes([len(p)]) + p for p in (b'q%d' % i, b'test')) + b'\\0'\n\
                  \x20   return struct.pack('!HHHHHH', i, 0x0100, 1, 0, 0, 0) + name + struct.pack('!HH', 1, 1)\n\
                  servfail = 0\n\
                  def drain(wait):\n\
                  \x20   global servfail\n\
                  \x20   while select.select([s], [], [], wait)[0]:\n\
                  \x20       r = s.recv(512)\n\
                  \x20       if r[3] & 0x0f == 2: servfail += 1\n\
                  for i in range(10000):\n\
                  \x20   s.sendto(query(i), ('10.241.0.1', 53))\n\
                  \x20   if i % 50 == 49: drain(0.005)\n\
                  drain(3.0)\n\
                  print('servfail', servfail, flush=True)\n\
                  c = socket.create_connection(('192.0.2.1', 80), timeout=10)\n\
                  print(c.recv(100))\n";
    let out = ns(
        &mock,
        &[
            "--stats",
            "--max-dns-queries",
            "16",
            "--resolve-timeout",
            "2",
            "--",
            "python3",
            "-c",
            script,
        ],
    )
    .output()
    .unwrap();
    let s = stdout(&out);
    assert!(s.ends_with("\nb'still works'\n"), "{}", text(&out));
    let err = stderr(&out);
    let count = |text: &str, key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    // Queries the TUN queue dropped (the program outpaced the launcher) never reached
    // the stack; every one that did got SERVFAIL: 16 at the deadline, the rest at once.
    let (queries, failed, over) = (
        count(&err, "DNS queries:"),
        count(&err, "A Failed:"),
        count(&err, "A OverLimit:"),
    );
    assert_eq!(failed, 16, "{err}");
    assert_eq!(failed + over, queries, "{err}");
    assert!(queries >= 2_000, "{err}");
    let answered = count(&s, "servfail ");
    assert!(
        answered + 100 >= queries,
        "the program got the answers: {s} {err}"
    );
}

#[test]
fn abandoned_connects_are_released_and_never_splice() {
    if !tun() {
        return;
    }
    let mock = MockTor::builder()
        .connect(Connect::Numbered {
            delay: Duration::from_millis(300),
        })
        .start()
        .unwrap();
    // 20 connects given up (timeout) while Tor dials, then one that waits: it must get
    // its own stream (conn-21), not one of the abandoned ones.
    let script = "import socket, sys\n\
                  for i in range(20):\n\
                  \x20   s = socket.socket(); s.settimeout(0.05)\n\
                  \x20   try: s.connect(('192.0.2.1', 80))\n\
                  \x20   except OSError: pass\n\
                  \x20   s.close()\n\
                  print('abandoned', flush=True)\n\
                  sys.stdin.readline()\n\
                  s = socket.create_connection(('192.0.2.1', 80), timeout=10)\n\
                  print(s.recv(100).decode().strip(), flush=True)\n\
                  s.shutdown(socket.SHUT_WR); s.recv(100); s.close()\n";
    let mut child = ns(
        &mock,
        &[
            "--stats",
            "--max-connections",
            "21",
            "--",
            "python3",
            "-c",
            script,
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "abandoned");
    // Wait until Tor has answered all 20 (their SYN-ACKs then meet RSTs).
    until(Duration::from_secs(20), || mock.numbered() >= 20);
    assert_eq!(mock.numbered(), 20);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let out = child.wait_with_output().unwrap();
    assert_eq!(rest, ["conn-21"], "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("0 over the limit"), "{err}");
}

#[test]
fn the_fd_limit_bounds_connections_with_a_warning() {
    if !tun() {
        return;
    }
    let mock = MockTor::start().unwrap();
    let script = format!(
        "ulimit -n 400 && {} -P {} --max-connections 4096 -- true",
        bin("torsocks-ns").display(),
        mock.addr().port()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "the open-file limit (400) allows 252 connections and 84 DNS queries at once, \
             not 4096 and 256"
        ),
        "{err}"
    );
}

/// A program that opens `n` connections and keeps each one full both ways: it sends
/// until its socket would block and never reads (the mock echoes). Prints "full HELD
/// REFUSED" once nothing moves, then waits for a line on stdin.
const KEEP_FULL: &str = "import socket, sys, time\n\
n = int(sys.argv[1])\n\
held, refused = [], 0\n\
for _ in range(n):\n\
\x20   s = socket.socket()\n\
\x20   s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\n\
\x20   s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)\n\
\x20   s.settimeout(30)\n\
\x20   try: s.connect(('192.0.2.1', 80))\n\
\x20   except ConnectionRefusedError: refused += 1; s.close(); continue\n\
\x20   s.setblocking(False)\n\
\x20   held.append(s)\n\
block, idle = b'x' * 65536, 0\n\
for _ in range(400):\n\
\x20   moved = 0\n\
\x20   for s in held:\n\
\x20       while True:\n\
\x20           try: moved += s.send(block)\n\
\x20           except OSError: break\n\
\x20   idle = idle + 1 if moved == 0 else 0\n\
\x20   if idle == 2: break\n\
\x20   time.sleep(0.25)\n\
print('full', len(held), refused, flush=True)\n\
sys.stdin.readline()\n";

/// Runs [`KEEP_FULL`] with `n` connections under `args`: (held, refused, the launcher's
/// peak RSS in KiB, its stderr).
fn keep_full(mock: &MockTor, n: usize, args: &[&str]) -> (usize, usize, u64, String) {
    let mut cmd = ns(mock, args);
    cmd.args(["--", "python3", "-c", KEEP_FULL, &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        .unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    let fields: Vec<usize> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap())
        .collect();
    assert!(
        line.starts_with("full ") && fields.len() == 2,
        "{line:?} {err}"
    );
    (fields[0], fields[1], peak, err)
}

#[test]
fn connections_held_full_stay_within_the_buffer_budget() {
    if !tun() {
        return;
    }
    // The mock echoes through 4 KiB socket buffers: what fills is the launcher.
    let mock = MockTor::builder()
        .connect(Connect::Succeed {
            atyp: 1,
            payload: Vec::new(),
        })
        .socket_buffers(4096)
        .start()
        .unwrap();
    let budget_kib = 96 * 1024;
    // The attack works: with room for all of them, 300 full connections take the
    // launcher beyond that budget.
    let (held, refused, peak, err) = keep_full(&mock, 300, &["--buffer-budget", "2G"]);
    assert_eq!((held, refused), (300, 0), "{err}");
    assert!(
        peak > budget_kib,
        "only {peak} KiB: the attack did not fill anything"
    );
    // Within a budget, the cap follows from it: the connections beyond are refused at
    // once, and the launcher stays within it with every connection it holds full.
    let (held, refused, peak, err) = keep_full(&mock, 300, &["-d", "--buffer-budget", "96M"]);
    let cap: usize = err
        .split("buffers: ")
        .nth(1)
        .and_then(|plan| plan.split("at most ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no plan under -d: {err}"));
    assert!(cap > 10 && cap < 300, "{err}");
    assert_eq!((held, refused), (cap, 300 - cap), "{err}");
    assert!(
        peak <= budget_kib,
        "peak RSS {peak} KiB over a 96 MiB budget"
    );
}

#[test]
fn buffer_options_that_cannot_fit_are_refused_before_anything_starts() {
    // No Tor, no sandbox: the options alone are wrong.
    let out = Command::new(bin("torsocks-ns"))
        .args([
            "--max-connections",
            "4096",
            "--buffer-kib",
            "1024",
            "--",
            "true",
        ])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--max-connections 4096 with --buffer-kib 1024 needs --buffer-budget")
            && err.contains("(given: 512 MiB)"),
        "{err}"
    );
    let out = Command::new(bin("torsocks-ns"))
        .args(["--buffer-budget", "12M", "--", "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_fails(&out, 1, "give at least");
}

#[test]
fn dns_queries_longer_than_any_real_one_are_not_held() {
    if !tun() {
        return;
    }
    let mock = MockTor::builder()
        .name("small.test", "192.0.2.7".parse().unwrap())
        .start()
        .unwrap();
    // The same question, padded past 4 KiB with an additional record of junk: the small
    // one reaches Tor; the long one gets SERVFAIL at once over UDP, and over TCP its
    // length alone ends the connection (a new one still works).
    let script = "import socket, struct\n\
                  def query(name, pad):\n\
                  \x20   q = struct.pack('!HHHHHH', 7, 0x0100, 1, 0, 0, 1 if pad else 0)\n\
                  \x20   q += b''.join(bytes([len(p)]) + p for p in name.split(b'.')) + b'\\0'\n\
                  \x20   q += struct.pack('!HH', 1, 1)\n\
                  \x20   if pad: q += b'\\0' + struct.pack('!HHIH', 16, 1, 0, pad) + b'x' * pad\n\
                  \x20   return q\n\
                  u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)\n\
                  u.sendto(query(b'long.test', 6000), ('10.241.0.1', 53))\n\
                  print('udp long rcode', u.recv(65535)[3] & 0x0f, flush=True)\n\
                  u.sendto(query(b'small.test', 0), ('10.241.0.1', 53))\n\
                  print('udp small rcode', u.recv(65535)[3] & 0x0f, flush=True)\n\
                  t = socket.create_connection(('10.241.0.1', 53), timeout=10)\n\
                  t.sendall(struct.pack('!H', 0xffff) + b'y' * 1000)\n\
                  print('tcp long', t.recv(100), flush=True)\n\
                  t = socket.create_connection(('10.241.0.1', 53), timeout=10)\n\
                  q = query(b'small.test', 0); t.sendall(struct.pack('!H', len(q)) + q)\n\
                  print('tcp small rcode', t.recv(2 + 512)[5] & 0x0f, flush=True)\n";
    let out = ns(&mock, &["--", "python3", "-c", script])
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(s.contains("udp long rcode 2\n"), "{}", text(&out));
    assert!(s.contains("udp small rcode 0\n"), "{}", text(&out));
    assert!(s.contains("tcp long b''\n"), "{}", text(&out));
    assert!(s.contains("tcp small rcode 0\n"), "{}", text(&out));
    let asked: Vec<_> = mock.requests().into_iter().filter_map(|r| r.host).collect();
    assert!(asked.iter().any(|h| h == "small.test"), "{asked:?}");
    assert!(!asked.iter().any(|h| h == "long.test"), "{asked:?}");
}

#[test]
fn a_flood_of_onion_names_cannot_exhaust_the_virtual_addresses() {
    if !tun() {
        return;
    }
    let mock = MockTor::start().unwrap();
    // 20,000 made-up names (NXDOMAIN, no address taken), then 2,000 well-formed v3
    // names through a range of 255 addresses: the least recently used free addresses
    // are reused, so a real onion lookup afterwards still gets one, and connecting to
    // it sends the name to Tor.
    let onion = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion";
    let script = format!(
        "import base64, hashlib, socket, struct\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)\n\
         def ask(i, name):\n\
         \x20   q = b''.join(bytes([len(p)]) + p for p in name.encode().split(b'.')) + b'\\0'\n\
         \x20   s.sendto(struct.pack('!HHHHHH', i & 0xffff, 0x0100, 1, 0, 0, 0) + q + struct.pack('!HH', 1, 1), ('10.241.0.1', 53))\n\
         \x20   r = s.recv(512)\n\
         \x20   return r[3] & 0x0f, r[-4:]\n\
         def v3(seed):\n\
         \x20   key = hashlib.sha256(b'%d' % seed).digest()\n\
         \x20   check = hashlib.sha3_256(b'.onion checksum' + key + b'\\x03').digest()[:2]\n\
         \x20   return base64.b32encode(key + check + b'\\x03').decode().lower() + '.onion'\n\
         nx = sum(ask(i, 'x%d.onion' % i)[0] == 3 for i in range(20000))\n\
         ok = sum(ask(i, v3(i))[0] == 0 for i in range(2000))\n\
         rcode, addr = ask(1, '{onion}')\n\
         print(nx, ok, rcode, socket.inet_ntoa(addr).startswith('10.192.'), flush=True)\n\
         try: socket.create_connection((socket.inet_ntoa(addr), 80), timeout=10)\n\
         except OSError: pass\n"
    );
    let out = ns(
        &mock,
        &[
            "--virtual-range",
            "10.192.0.0/24",
            "--",
            "python3",
            "-c",
            &script,
        ],
    )
    .output()
    .unwrap();
    assert_eq!(stdout(&out), "20000 2000 0 True\n", "{}", text(&out));
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.command == Some(1) && r.host.as_deref() == Some(onion)),
        "{:?}",
        mock.requests().last()
    );
}

#[test]
fn garbage_from_tor_is_a_refusal_not_a_hang() {
    if !tun() {
        return;
    }
    // A SOCKS reply that is not one (wrong version, then the stream closes).
    let mock = MockTor::builder()
        .connect(Connect::Raw(b"HTTP/1.0 400 Bad Request\r\n\r\n".to_vec()))
        .start()
        .unwrap();
    let started = Instant::now();
    let script = "import socket\n\
                  try: socket.create_connection(('192.0.2.1', 80), timeout=30); print('connected?')\n\
                  except ConnectionRefusedError: print('refused')\n";
    let out = ns(&mock, &["--", "python3", "-c", script])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "refused\n", "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_low_fd_limit_and_a_stalled_tor_leave_the_session_working() {
    if !tun() {
        return;
    }
    let mock = stalled_lookups(b"after the stall");
    // 400 lookups while Tor answers none, under an fd limit of 300: the caps keep the
    // launcher within it, and once the lookups have timed out a connection works.
    let script = "import socket, struct, select\n\
                  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  for i in range(400):\n\
                  \x20   s.sendto(struct.pack('!HHHHHH', i, 0x0100, 1, 0, 0, 0) + b'\\x01q\\x04test\\x00' + struct.pack('!HH', 1, 1), ('10.241.0.1', 53))\n\
                  n = 0\n\
                  while select.select([s], [], [], 3)[0]: s.recv(512); n += 1\n\
                  print('answers', n > 300, flush=True)\n\
                  c = socket.create_connection(('192.0.2.1', 80), timeout=10)\n\
                  print(c.recv(100))\n";
    let command = format!(
        "ulimit -n 300 && {} -P {} --resolve-timeout 1 -- python3 -c \"$SCRIPT\"",
        bin("torsocks-ns").display(),
        mock.addr().port()
    );
    let out = Command::new("sh")
        .args(["-c", &command])
        .env("SCRIPT", script)
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "answers True\nb'after the stall'\n",
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("the open-file limit (300)"),
        "{}",
        text(&out)
    );
}

/// A CONNECT that Tor fails on its circuit (general failure, TTL expired, host
/// unreachable) is tried once more on fresh credentials, unseen by the program; one
/// the destination refused is not.
#[test]
fn a_circuit_failure_is_retried_once_unseen() {
    if !tun() {
        return;
    }
    for (code, retried) in [(1u8, true), (6, true), (4, true), (5, false)] {
        let mock = MockTor::builder()
            .fail_first_connects(1, code)
            .connect(Connect::Succeed {
                atyp: 1,
                payload: b"through the second circuit\n".to_vec(),
            })
            .start()
            .unwrap();
        let script = "exec 3<>/dev/tcp/192.0.2.1/80 && head -n 1 <&3";
        let out = ns(&mock, &["--stats", "--", "bash", "-c", script])
            .output()
            .unwrap();
        // The run is over: every request it made is recorded.
        let connects: Vec<_> = mock
            .requests()
            .into_iter()
            .filter(|r| r.command == Some(1))
            .collect();
        let summary = stderr(&out);
        if retried {
            assert!(out.status.success(), "REP {code}: {}", text(&out));
            assert_eq!(stdout(&out), "through the second circuit\n", "REP {code}");
            assert!(
                summary.contains("connections retried on a new circuit: 1"),
                "REP {code}: {summary}"
            );
            assert_eq!(connects.len(), 2, "REP {code}");
            assert_ne!(
                connects[0].password, connects[1].password,
                "REP {code}: the retry asks Tor for another circuit"
            );
        } else {
            assert!(!out.status.success(), "REP {code}: {}", text(&out));
            assert!(
                summary.contains("connections retried on a new circuit: 0"),
                "REP {code}: {summary}"
            );
            assert_eq!(connects.len(), 1, "REP {code}: no second try");
        }
    }
}
