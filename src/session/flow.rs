//! One TCP flow of the sandbox: the task that dials Tor and copies bytes both ways (the
//! driver's side, which moves those bytes in and out of the stack, is
//! [`super::driver`]).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::tor::stream::{ReadHalf, WriteHalf};
use netstack::stack::FlowId;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

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
    /// How long the Tor stream of a connection the program half-closed stays open
    /// while nothing comes from it ([`hold_half_close`]).
    pub half_close_wait: Duration,
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
    // No Nagle on a TCP Tor stream: TorStream::connect set TCP_NODELAY before the handshake.
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
    let heard = Rc::new(Cell::new(Instant::now()));
    let (tor_ended, tor_ends) = oneshot::channel::<()>();
    let hold = HalfClose {
        wait: settings.half_close_wait,
        heard: Rc::clone(&heard),
        tor_ends,
    };
    tokio::join!(
        upstream(writer, to_tor_rx, hold, end.clone()),
        downstream(
            reader,
            from_tor_tx,
            tor,
            settings.chunk,
            (heard, tor_ended),
            end
        )
    );
}

/// What the upstream half needs to hold the program's half-close back from Tor.
struct HalfClose {
    /// How long the stream may stay silent once the program has half-closed.
    wait: Duration,
    /// When the stream last brought bytes from Tor.
    heard: Rc<Cell<Instant>>,
    /// Resolves when the downstream half has ended (its sender dropped).
    tor_ends: oneshot::Receiver<()>,
}

/// Tor ends a stream, both ways, when its client half-closes: a program that sends
/// its request, shuts its side down and waits for the reply (`nc -N`, `socat`, a
/// `shutdown(SHUT_WR)`) would lose the reply. So the half-close is held back until
/// the far side ends the stream, or nothing has come from it for `wait`; then it
/// goes on (and Tor ends the stream). A `wait` of zero passes it on at once.
async fn hold_half_close(hold: HalfClose) {
    let HalfClose {
        wait,
        heard,
        mut tor_ends,
    } = hold;
    heard.set(Instant::now()); // silence counts from the half-close at the earliest
    loop {
        let deadline = heard.get() + wait;
        if Instant::now() >= deadline {
            return;
        }
        tokio::select! {
            _ = &mut tor_ends => return,
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
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

/// The program's bytes to Tor, then Tor's half closed when the program's is (held
/// back by [`hold_half_close`]).
async fn upstream(
    mut writer: WriteHalf,
    mut chunks: mpsc::Receiver<Vec<u8>>,
    hold: HalfClose,
    end: FlowEnd,
) {
    while let Some(chunk) = chunks.recv().await {
        end.wake(); // room in the channel again
        if writer.write_all(&chunk).await.is_err() {
            end.fail(ResetCause::StreamFailed);
            return;
        }
    }
    hold_half_close(hold).await;
    let _ = writer.shutdown().await;
}

/// Tor's bytes to the program, in chunks of at most `chunk`, until Tor's end; notes
/// when bytes came in `heard`, and drops `_ended` at its end, both for
/// [`hold_half_close`].
async fn downstream(
    reader: ReadHalf,
    chunks: mpsc::Sender<Vec<u8>>,
    tor: Rc<Tor>,
    chunk: usize,
    (heard, _ended): (Rc<Cell<Instant>>, oneshot::Sender<()>),
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
                heard.set(Instant::now());
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
async fn read_some(reader: &ReadHalf, size: usize) -> std::io::Result<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(wait: u64) -> (HalfClose, Rc<Cell<Instant>>, oneshot::Sender<()>) {
        let heard = Rc::new(Cell::new(Instant::now()));
        let (ended, tor_ends) = oneshot::channel();
        let hold = HalfClose {
            wait: Duration::from_secs(wait),
            heard: Rc::clone(&heard),
            tor_ends,
        };
        (hold, heard, ended)
    }

    // The clock is simulated: the waits below pass in no real time.
    #[tokio::test(start_paused = true)]
    async fn a_half_close_waits_for_silence_counted_from_the_last_bytes() {
        let (hold, heard, _ended) = hold(10);
        let started = Instant::now();
        let bytes_after_7_s = async {
            tokio::time::sleep(Duration::from_secs(7)).await;
            heard.set(Instant::now()); // the silence starts again
        };
        tokio::join!(hold_half_close(hold), bytes_after_7_s);
        assert_eq!(started.elapsed(), Duration::from_secs(17));
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_close_goes_on_as_soon_as_tor_ends_the_stream() {
        let (hold, _heard, ended) = hold(10);
        let started = Instant::now();
        let tor_ends_after_3_s = async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(ended);
        };
        tokio::join!(hold_half_close(hold), tor_ends_after_3_s);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_of_zero_passes_the_half_close_on_at_once() {
        let (hold, _heard, _ended) = hold(0);
        let started = Instant::now();
        hold_half_close(hold).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
