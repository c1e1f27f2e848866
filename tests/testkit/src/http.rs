//! A minimal HTTP/1.1 file server for fixtures: GET only, `Connection: close`,
//! records each request's peer and path.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Paths and bodies.
pub type Files = BTreeMap<&'static str, Vec<u8>>;

/// A server running on its own thread until [`HttpServer::stop`] or drop.
pub struct HttpServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<(SocketAddr, String)>>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `files` on `listener` (which may live in another network namespace).
    pub fn serve(listener: TcpListener, files: Files) -> io::Result<HttpServer> {
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop, log) = (Arc::clone(&stopping), Arc::clone(&requests));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let (files, log) = (files.clone(), Arc::clone(&log));
                    std::thread::spawn(move || {
                        let _ = answer(stream, &files, &log);
                    });
                }
            }
        });
        Ok(HttpServer {
            addr,
            stopping,
            requests,
            thread: Some(thread),
        })
    }

    /// The listening address (as bound: may be a wildcard).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far: peer and path.
    pub fn requests(&self) -> Vec<(SocketAddr, String)> {
        self.requests.lock().unwrap().clone()
    }

    /// Forgets the requests so far.
    pub fn clear(&self) {
        self.requests.lock().unwrap().clear();
    }

    /// Stops accepting; `wake` must be an address that reaches the listener.
    pub fn stop(&mut self, wake: SocketAddr) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(
    stream: TcpStream,
    files: &Files,
    log: &Mutex<Vec<(SocketAddr, String)>>,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let peer = stream.peer_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(()); // a wake-up connection
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    log.lock().unwrap().push((peer, path.clone()));
    let mut stream = stream;
    match files.get(path.as_str()) {
        Some(body) => {
            // Text as text, so that a browser shows it rather than downloading it.
            let kind = match path.rsplit_once('.').map(|(_, ext)| ext) {
                Some("txt") => "text/plain; charset=utf-8",
                Some("html") => "text/html; charset=utf-8",
                _ => "application/octet-stream",
            };
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: {kind}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(body)?;
        }
        None => stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n",
        )?,
    }
    stream.shutdown(Shutdown::Write)
}
