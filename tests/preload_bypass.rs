//! Preload mode against a program that looks for a way around the hooks through
//! ordinary C-library names (torsocks(8), "What stays out of reach"): glibc's public
//! `__connect` alias, versioned lookups with dlvsym, AF_UNSPEC destinations on
//! datagram sockets, and SCTP stream sockets. Each attack aims at the test's target
//! host through a mock Tor that refuses every CONNECT, so that anything reaching the
//! target went around Tor; the target host's side is read, fenced.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::process::Output;

use torsocks_testkit::install::preloaded;
use torsocks_testkit::mock_tor::MockTor;
use torsocks_testkit::output::text;
use torsocks_testkit::require;
use torsocks_testkit::target_host::TargetHost;

fn target() -> Option<TargetHost> {
    if !require::root("create the target host's network namespace") {
        return None;
    }
    Some(TargetHost::start().expect("target host"))
}

/// Python with ctypes helpers: `sin(ip, port, family)` builds a sockaddr_in.
const PRELUDE: &str = "import ctypes, socket, struct\n\
libc = ctypes.CDLL(None, use_errno=True)\n\
def sin(ip, port, family=socket.AF_INET):\n\
\x20   raw = struct.pack('=H', family) + struct.pack('!H', port) + socket.inet_aton(ip) + bytes(8)\n\
\x20   return ctypes.create_string_buffer(raw, 16)\n\
def report(what, rc):\n\
\x20   print(what, rc, ctypes.get_errno() if rc < 0 else 0, flush=True)\n";

fn run(mock: &MockTor, conf: Option<&str>, script: &str) -> Output {
    let mut cmd = preloaded("python3", mock.addr());
    let dir = std::env::temp_dir().join(format!("tsrs-bypass-{}", std::process::id()));
    if let Some(conf) = conf {
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.conf", conf.len()));
        std::fs::write(&path, conf).unwrap();
        cmd.env("TORSOCKS_CONF_FILE", &path);
        cmd.env("TORSOCKS_TOR_PORT", mock.addr().port().to_string());
    }
    let out = cmd
        .args(["-c", &format!("{PRELUDE}{script}")])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// A mock Tor that refuses every CONNECT (reply 05) and records it.
fn refusing_mock() -> MockTor {
    MockTor::builder().start().unwrap()
}

#[test]
fn glibc_aliases_and_versioned_lookups_reach_the_hooks() {
    let Some(host) = target() else { return };
    let mock = refusing_mock();
    let script = format!(
        "for how in ('__connect', 'dlvsym', 'dlvsym-next'):\n\
         \x20   s = socket.socket()\n\
         \x20   if how == '__connect':\n\
         \x20       fn = libc.__connect\n\
         \x20   else:\n\
         \x20       libc.dlvsym.restype = ctypes.c_void_p\n\
         \x20       handle = ctypes.c_void_p(0 if how == 'dlvsym' else -1)\n\
         \x20       p = libc.dlvsym(handle, b'connect', b'GLIBC_2.2.5')\n\
         \x20       fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, use_errno=True)(p)\n\
         \x20   rc = fn(s.fileno(), sin('{ip}', 80), 16)\n\
         \x20   report(how, rc)\n\
         \x20   if rc == 0:\n\
         \x20       s.sendall(b'GET /bypass-' + how.encode() + b' HTTP/1.0\\r\\n\\r\\n'); s.recv(10)\n",
        ip = host.ip()
    );
    let out = run(&mock, None, &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Tor refused (ECONNREFUSED), so the connect went to Tor, not to the target.
    for how in ["__connect", "dlvsym", "dlvsym-next"] {
        assert!(
            stdout.contains(&format!("{how} -1 111\n")),
            "{how}: {}",
            text(&out)
        );
    }
    let connects = mock
        .requests()
        .iter()
        .filter(|r| r.command == Some(1) && r.host.as_deref() == Some(&host.ip().to_string()[..]))
        .count();
    assert_eq!(connects, 3, "{:?}", mock.requests());
    let (datagrams, requests) = host.received();
    assert!(requests.is_empty() && datagrams.is_empty(), "{requests:?}");
}

#[test]
fn af_unspec_datagrams_are_checked_like_the_address_they_carry() {
    let Some(host) = target() else { return };
    let mock = refusing_mock();
    // With AllowOutboundLocalhost 2 UDP sockets exist, and may reach only localhost.
    let script = format!(
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         report('sendto', libc.sendto(u.fileno(), b'leak-sendto', 11, 0, sin('{ip}', {port}, 0), 16))\n\
         class iovec(ctypes.Structure): _fields_ = [('base', ctypes.c_char_p), ('len', ctypes.c_size_t)]\n\
         class msghdr(ctypes.Structure): _fields_ = [('name', ctypes.c_void_p), ('namelen', ctypes.c_uint), ('iov', ctypes.POINTER(iovec)), ('iovlen', ctypes.c_size_t), ('control', ctypes.c_void_p), ('controllen', ctypes.c_size_t), ('flags', ctypes.c_int)]\n\
         class mmsghdr(ctypes.Structure): _fields_ = [('hdr', msghdr), ('len', ctypes.c_uint)]\n\
         def message(tag):\n\
         \x20   addr = sin('{ip}', {port}, 0)\n\
         \x20   iov = iovec(tag, len(tag))\n\
         \x20   m = msghdr(ctypes.cast(addr, ctypes.c_void_p), 16, ctypes.pointer(iov), 1, None, 0, 0)\n\
         \x20   return m, addr, iov\n\
         m, a, i = message(b'leak-sendmsg')\n\
         report('sendmsg', libc.sendmsg(u.fileno(), ctypes.byref(m), 0))\n\
         m2, a2, i2 = message(b'leak-sendmmsg')\n\
         mm = (mmsghdr * 1)(mmsghdr(m2, 0))\n\
         report('sendmmsg', libc.sendmmsg(u.fileno(), mm, 1, 0))\n\
         report('localhost', libc.sendto(u.fileno(), b'x', 1, 0, sin('127.0.0.1', 9, 0), 16))\n",
        ip = host.ip(),
        port = host.udp_addr().port()
    );
    let out = run(&mock, Some("AllowOutboundLocalhost 2\n"), &script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for call in ["sendto", "sendmsg", "sendmmsg"] {
        assert!(
            stdout.contains(&format!("{call} -1 1\n")),
            "{call}: EPERM expected: {}",
            text(&out)
        );
    }
    assert!(stdout.contains("localhost 1 0\n"), "{}", text(&out));
    let (datagrams, _) = host.received();
    assert!(datagrams.is_empty(), "{datagrams:?}");
}

#[test]
fn stream_sockets_of_other_protocols_are_refused() {
    let Some(host) = target() else { return };
    let mock = refusing_mock();
    let script = "for proto in (0, 6, 132):\n\
                  \x20   try:\n\
                  \x20       socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto).close(); print(proto, 'created')\n\
                  \x20   except OSError as e: print(proto, 'errno', e.errno)\n";
    let out = run(&mock, None, script);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0 created\n6 created\n132 errno 1\n",
        "{}",
        text(&out)
    );
    let (datagrams, requests) = host.received();
    assert!(datagrams.is_empty() && requests.is_empty());
}
