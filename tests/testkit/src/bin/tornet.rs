//! Runs the private Tor network until interrupted, for manual experiments.

use std::net::Ipv4Addr;
use std::time::Duration;

use torsocks_testkit::tornet::{TorNet, TorNetOptions};

fn main() {
    // Block the signals before any thread starts, so that every thread inherits the
    // mask and only `sigwait` below receives them.
    let signals = block_signals();
    let options = TorNetOptions {
        zone: vec![
            ("www.tornet.test".into(), Ipv4Addr::LOCALHOST),
            ("ptr.tornet.test".into(), Ipv4Addr::new(192, 0, 2, 80)),
        ],
        allow: Vec::new(),
    };
    eprintln!("tornet: starting 7 tor processes (about 15 s)...");
    let net = match TorNet::start(options) {
        Ok(net) => net,
        Err(e) => {
            eprintln!("tornet: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = net.wait_for_onion(Duration::from_secs(120)) {
        eprintln!("tornet: warning: {e}");
    }
    println!("SocksPort   {}", net.socks_addr());
    println!("ControlPort {}", net.control_addr());
    println!("Onion       http://{}/", net.onion_hostname());
    // The same network for the embedded client: `torsocks-ns --tor embedded --arti-config`.
    let arti = net.dir().join("arti.toml");
    match net
        .arti_config()
        .and_then(|text| std::fs::write(&arti, text))
    {
        Ok(()) => println!("Arti config {}", arti.display()),
        Err(e) => eprintln!("tornet: warning: no Arti configuration: {e}"),
    }
    println!("Press Ctrl-C to stop.");
    wait_for(&signals);
    drop(net);
}

/// Blocks SIGINT and SIGTERM for this thread and those it will start.
#[allow(unsafe_code)]
fn block_signals() -> libc::sigset_t {
    // SAFETY: plain signal-set manipulation on a zeroed, then initialised, sigset_t.
    // A shell starts background jobs with SIGINT ignored, and an ignored signal is
    // discarded before sigwait can see it: restore the default dispositions first.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits for one of the blocked signals, so that the network is dropped and every tor
/// process stopped.
#[allow(unsafe_code)]
fn wait_for(set: &libc::sigset_t) {
    let mut sig = 0;
    // SAFETY: `set` is an initialised signal set; sig is a valid out-pointer.
    unsafe { libc::sigwait(set, &mut sig) };
}
