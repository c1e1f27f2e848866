//! Runs the mock Tor SOCKS server on 127.0.0.1 for manual experiments:
//!
//!     mock-tor [--succeed] [--small-buffers] [PORT] [NAME=IP ...]
//!
//! Relays CONNECTs to loopback only (or, with `--succeed`, answers every CONNECT with
//! success and echoes), answers RESOLVE from the NAME=IP pairs, and prints every request
//! it records. `--small-buffers` gives each connection 4 KiB socket buffers, so that a
//! stream nobody reads fills at once. Stops after ten minutes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use torsocks_testkit::mock_tor::{Connect, MockTor};

fn main() {
    let mut builder = MockTor::builder();
    let mut port = 0;
    for arg in std::env::args().skip(1) {
        if arg == "--succeed" {
            builder = builder.connect(Connect::Succeed {
                atyp: 1,
                payload: Vec::new(),
            });
        } else if arg == "--small-buffers" {
            builder = builder.socket_buffers(4096);
        } else if let Some((name, ip)) = arg.split_once('=') {
            match ip.parse::<IpAddr>() {
                Ok(ip) => builder = builder.name(name, ip),
                Err(_) => usage(&arg),
            }
        } else {
            port = arg.parse().unwrap_or_else(|_| usage(&arg));
        }
    }
    let mock = builder
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .start()
        .unwrap_or_else(|e| {
            eprintln!("mock-tor: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        });
    println!("mock-tor listening on {}", mock.addr());
    let start = Instant::now();
    let mut shown = 0;
    while start.elapsed() < Duration::from_secs(600) {
        let requests = mock.wait_for_requests(shown + 1, Duration::from_secs(1));
        for r in &requests[shown..] {
            println!("{r:?}");
        }
        shown = requests.len();
    }
}

fn usage(arg: &str) -> ! {
    eprintln!("mock-tor: bad argument {arg:?}; usage: mock-tor [--succeed] [--small-buffers] [PORT] [NAME=IP ...]");
    std::process::exit(2)
}
