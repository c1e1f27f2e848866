//! A SOCKS port on a Unix socket, as torrc's `SocksPort unix:PATH` makes one: each
//! connection to the socket is carried to a TCP SOCKS server (the mock Tor) byte for
//! byte, and counted, so that a test sees that the launcher came through the socket.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A Unix socket in front of a TCP SOCKS port. Stops, and removes the socket, when
/// dropped.
pub struct UnixFront {
    path: PathBuf,
    connections: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl UnixFront {
    /// Listens at `path` (mode 0666 unless changed), carrying every connection to `to`.
    pub fn start(path: &Path, to: SocketAddr) -> io::Result<UnixFront> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
        let connections = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let (counted, stop) = (Arc::clone(&connections), Arc::clone(&stopping));
        let acceptor = std::thread::Builder::new()
            .name("unix-front".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    counted.fetch_add(1, Ordering::SeqCst);
                    if let Ok(upstream) = TcpStream::connect(to) {
                        carry(client, upstream);
                    }
                }
            })?;
        Ok(UnixFront {
            path: path.to_path_buf(),
            connections,
            stopping,
            acceptor: Some(acceptor),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `unix:PATH`, as `-a` takes it.
    pub fn address(&self) -> String {
        format!("unix:{}", self.path.display())
    }

    /// How many connections came through the socket.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Bytes both ways on two threads, each end's half-close passed on.
fn carry(client: UnixStream, upstream: TcpStream) {
    let (Ok(client_w), Ok(upstream_w)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let (mut from, mut to) = (client, upstream_w);
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        let (mut from, mut to) = (upstream, client_w);
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

impl Drop for UnixFront {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with one last connection of our own.
        let _ = UnixStream::connect(&self.path);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}
