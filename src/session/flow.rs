//! One TCP flow of the sandbox: the task that dials Tor and copies bytes both ways (the
//! driver's side, which moves those bytes in and out of the stack, is
//! [`super::driver`]).

use std::rc::Rc;

use netstack::stack::FlowId;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::report::{Report, Reporter, ResetCause};
use crate::limits::CHANNEL_CHUNKS;
use crate::tor::{self, Tor};

/// How every flow task works: the chunk size, and whether refusals are reported.
#[derive(Debug, Clone, Copy)]
pub(super) struct FlowSettings {
    /// The most bytes read from Tor at once.
    pub chunk: usize,
    /// Report refused connections on stderr.
    pub debug: bool,
}

/// One flow: dial Tor, report, then copy both ways until both ends are done.
pub(super) async fn flow_task(
    flow: FlowId,
    host: Vec<u8>,
    port: u16,
    tor: Rc<Tor>,
    reporter: Reporter,
    settings: FlowSettings,
) {
    let stream = match tor.connect(host.clone(), port).await {
        Ok(stream) => stream,
        Err(e) => {
            if settings.debug {
                eprintln!(
                    "torsocks-ns: connection to {}:{port} refused: {}",
                    String::from_utf8_lossy(&host),
                    tor::describe(&e)
                );
            }
            reporter.send(Report::Refused(flow));
            reporter.flow(flow);
            return;
        }
    };
    // No Nagle on the Tor stream: Tor::connect_as set TCP_NODELAY before the handshake.
    let (to_tor_tx, to_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let (from_tor_tx, from_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    reporter.send(Report::Opened {
        flow,
        to_tor: to_tor_tx,
        from_tor: from_tor_rx,
    });
    reporter.flow(flow);
    let (reader, writer) = stream.into_split();
    let end = FlowEnd { flow, reporter };
    tokio::join!(
        upstream(writer, to_tor_rx, end.clone()),
        downstream(reader, from_tor_tx, tor, settings.chunk, end)
    );
}

/// A flow's end of the reports: wakes the driver for it, and reports its failure.
#[derive(Clone)]
struct FlowEnd {
    flow: FlowId,
    reporter: Reporter,
}

impl FlowEnd {
    /// The flow's channels changed.
    fn wake(&self) {
        self.reporter.flow(self.flow);
    }

    /// A broken Tor stream must reach the program as a reset, never as a clean end:
    /// a truncated transfer would look complete.
    fn fail(&self, cause: ResetCause) {
        self.reporter.send(Report::Failed(self.flow, cause));
        self.wake();
    }
}

/// The program's bytes to Tor, then Tor's half closed when the program's is.
async fn upstream(mut writer: OwnedWriteHalf, mut chunks: mpsc::Receiver<Vec<u8>>, end: FlowEnd) {
    while let Some(chunk) = chunks.recv().await {
        end.wake(); // room in the channel again
        if writer.write_all(&chunk).await.is_err() {
            end.fail(ResetCause::StreamFailed);
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// Tor's bytes to the program, in chunks of at most `chunk`, until Tor's end.
async fn downstream(
    reader: OwnedReadHalf,
    chunks: mpsc::Sender<Vec<u8>>,
    tor: Rc<Tor>,
    chunk: usize,
    end: FlowEnd,
) {
    loop {
        match read_some(&reader, chunk).await {
            Ok(bytes) if bytes.is_empty() => {
                // Tor ends a stream whose far end closed, and also every stream
                // when it dies: only a Tor that still answers means a real end.
                if !tor.is_alive().await {
                    end.fail(ResetCause::TorGone);
                    return;
                }
                break;
            }
            Err(_) => {
                let cause = match tor.is_alive().await {
                    true => ResetCause::StreamFailed,
                    false => ResetCause::TorGone,
                };
                end.fail(cause);
                return;
            }
            Ok(bytes) => {
                if chunks.send(bytes).await.is_err() {
                    break;
                }
                end.wake();
            }
        }
    }
    drop(chunks);
    end.wake();
}

/// The next bytes from Tor, at most `size` (empty at the end of the stream). The buffer is allocated
/// only once data is there and read into without being cleared, then sent on as it is:
/// an idle connection holds no read buffer, and no byte is copied on the way. A short
/// read gives its spare room back, since the chunk may wait in the channel.
async fn read_some(reader: &OwnedReadHalf, size: usize) -> std::io::Result<Vec<u8>> {
    loop {
        reader.readable().await?;
        let mut chunk = Vec::with_capacity(size);
        match reader.try_read_buf(&mut chunk) {
            Ok(n) => {
                if n < size / 4 {
                    chunk.shrink_to_fit();
                }
                return Ok(chunk);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}
