//! Programs the tests run inside the sandbox: servers reached from the host (published
//! ports, onion services) and a client that connects to a list of destinations.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::mock_tor::MockTor;
use crate::sandbox::ns;

/// A free port on the host's loopback (bound and released: the test's own choice).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// python3 serving `greeting + peer address` on `127.0.0.1:8000` and `[::1]:8001` inside
/// the sandbox; prints "ready" once listening and ends when its stdin closes.
pub const SERVERS: &str = "import socket, sys, threading\n\
    def serve(family, addr, port):\n\
    \x20   s = socket.socket(family)\n\
    \x20   s.bind((addr, port)); s.listen()\n\
    \x20   return s\n\
    def loop(s):\n\
    \x20   while True:\n\
    \x20       c, peer = s.accept()\n\
    \x20       c.sendall(('inside %d from %s\\n' % (s.getsockname()[1], peer[0])).encode())\n\
    \x20       c.close()\n\
    socks = [serve(socket.AF_INET, '127.0.0.1', 8000), serve(socket.AF_INET6, '::1', 8001)]\n\
    for s in socks: threading.Thread(target=loop, args=(s,), daemon=True).start()\n\
    print('ready', flush=True)\n\
    sys.stdin.read()\n";

/// torsocks-ns with `options` running [`SERVERS`]; returns once they listen. The
/// servers end when the child's stdin is closed.
pub fn with_servers(mock: &MockTor, options: &[&str]) -> Child {
    let mut args = options.to_vec();
    args.extend(["--", "python3", "-c", SERVERS]);
    crate::wait::until_ready(ns(mock, &args).stdin(Stdio::piped()).stderr(Stdio::piped()))
}

/// What a server at `addr` (on the host) sends before it closes, or the error's kind.
pub fn fetch(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = String::new();
    match std::io::Read::read_to_string(&mut s, &mut got) {
        Ok(_) => got,
        Err(e) => format!("error: {:?}", e.kind()),
    }
}

/// Python connecting to each `host:port` in turn and reading the mock's greeting
/// ([`MockTor::answering`]); prints "done".
pub fn connect_each(targets: &[(&str, u16)]) -> String {
    let list: Vec<String> = targets
        .iter()
        .map(|(h, p)| format!("('{h}', {p})"))
        .collect();
    format!(
        "import socket\n\
         for t in [{}]:\n\
         \x20   s = socket.create_connection(t, timeout=10)\n\
         \x20   assert s.recv(6) == b'hello\\n'\n\
         \x20   s.close()\n\
         print('done')\n",
        list.join(", ")
    )
}
