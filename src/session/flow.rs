//! One TCP flow of the sandbox: the task that dials Tor and copies bytes both ways (the
//! driver's side, which moves those bytes in and out of the stack, is
//! [`super::driver`]).

use std::rc::Rc;

use netstack::stack::FlowId;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;

use super::{Control, ResetCause, Wake, CHANNEL_CHUNKS};
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
    ctl: mpsc::UnboundedSender<Control>,
    wake: Wake,
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
            let _ = ctl.send(Control::Refused(flow));
            wake.flow(flow);
            return;
        }
    };
    // No Nagle on the Tor stream: Tor::connect_as set TCP_NODELAY before the handshake.
    let (to_tor_tx, mut to_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let (from_tor_tx, from_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let _ = ctl.send(Control::Opened {
        flow,
        to_tor: to_tor_tx,
        from_tor: from_tor_rx,
    });
    wake.flow(flow);
    let (reader, mut writer) = stream.into_split();
    let (up_wake, up_ctl) = (wake.clone(), ctl.clone());
    // A broken Tor stream must reach the program as a reset, never as a clean end:
    // a truncated transfer would look complete.
    let fail = move |ctl: &mpsc::UnboundedSender<Control>, wake: &Wake, cause| {
        let _ = ctl.send(Control::Failed(flow, cause));
        wake.flow(flow);
    };
    let upstream = async move {
        while let Some(chunk) = to_tor_rx.recv().await {
            up_wake.flow(flow); // room in the channel again
            if writer.write_all(&chunk).await.is_err() {
                fail(&up_ctl, &up_wake, ResetCause::StreamFailed);
                return;
            }
        }
        let _ = writer.shutdown().await;
    };
    let downstream = async move {
        loop {
            match read_some(&reader, settings.chunk).await {
                Ok(chunk) if chunk.is_empty() => {
                    // Tor ends a stream whose far end closed, and also every stream
                    // when it dies: only a Tor that still answers means a real end.
                    if !tor.is_alive().await {
                        fail(&ctl, &wake, ResetCause::TorGone);
                        return;
                    }
                    break;
                }
                Err(_) => {
                    let cause = if tor.is_alive().await {
                        ResetCause::StreamFailed
                    } else {
                        ResetCause::TorGone
                    };
                    fail(&ctl, &wake, cause);
                    return;
                }
                Ok(chunk) => {
                    if from_tor_tx.send(chunk).await.is_err() {
                        break;
                    }
                    wake.flow(flow);
                }
            }
        }
        drop(from_tor_tx);
        wake.flow(flow);
    };
    tokio::join!(upstream, downstream);
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
