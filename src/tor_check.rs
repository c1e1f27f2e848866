//! Is Tor's SOCKS port there? A TCP connect and a SOCKS5 greeting, with a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use torsocks_core::socks5::{decode, encode, Auth};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Ok when `endpoint` accepts a connection and answers a SOCKS5 greeting; otherwise a
/// message that names the endpoint and says what to check.
pub fn socks_port_answers(endpoint: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&endpoint, TIMEOUT).map_err(|e| {
        format!(
            "cannot reach Tor's SOCKS port at {endpoint}: {e}. Is tor running? Start it \
             (e.g. `systemctl start tor`) or point TorAddress/TorPort (or -a/-P) at its SocksPort."
        )
    })?;
    let not_socks = |detail: String| {
        format!("{endpoint} does not speak SOCKS5 ({detail}); is this Tor's SocksPort?")
    };
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&encode::greeting(&Auth::NoAuth))
        .map_err(|e| not_socks(e.to_string()))?;
    let mut reply = [0u8; 2];
    stream
        .read_exact(&mut reply)
        .map_err(|e| not_socks(e.to_string()))?;
    match decode::method_reply(&reply, Auth::NoAuth.method()) {
        Ok(_) => Ok(()),
        Err(e) => Err(not_socks(e.to_string())),
    }
}
