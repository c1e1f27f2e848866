//! One TCP flow of the sandbox: the task that dials Tor and copies bytes both ways, and
//! the driver's side that moves those bytes in and out of the stack.

use std::collections::HashMap;
use std::rc::Rc;

use netstack::stack::{FlowId, Received, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{Control, FlowIo, ResetCause, Wake, CHANNEL_CHUNKS, CHUNK};
use crate::tor::{self, Tor};

/// How long a broken stream's last data may wait for the program before the reset.
const RESET_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Moves bytes between the stack and each flow's channels, as far as both sides allow.
pub(super) fn pump_flows(
    stack: &mut Stack,
    flows: &mut HashMap<FlowId, FlowIo>,
    work: impl IntoIterator<Item = FlowId>,
    buf: &mut [u8],
) {
    let mut finished = Vec::new();
    for flow in work {
        let Some(io) = flows.get_mut(&flow) else {
            continue;
        };
        if !io.open {
            if stack.is_closed(flow) {
                finished.push(flow); // refused, or the program gave up while dialing
            }
            continue;
        }
        // Program → Tor, while the channel has room.
        let mut program_done = false;
        let mut program_reset = false;
        while let Some(tx) = &io.to_tor {
            let Ok(permit) = tx.try_reserve() else { break };
            match stack.recv(flow, &mut buf[..CHUNK]) {
                Received::Data(n) => permit.send(buf[..n].to_vec()),
                Received::Nothing => break,
                Received::End => {
                    program_done = true;
                    break;
                }
                Received::Reset => {
                    program_reset = true;
                    break;
                }
            }
        }
        if program_done {
            io.to_tor = None; // the flow task shuts down its write side
        }
        if program_reset {
            // The program reset its connection: so is the Tor stream, at once (what
            // it had sent and Tor not yet taken is void, as on a real network).
            if let Some(task) = io.task.take() {
                task.abort();
            }
            finished.push(flow);
            continue;
        }
        // Tor → program, while the stack takes it.
        loop {
            if let Some((chunk, offset)) = &mut io.pending {
                *offset += stack.send(flow, &chunk[*offset..]);
                if *offset < chunk.len() {
                    break;
                }
                io.pending = None;
            }
            let Some(rx) = &mut io.from_tor else { break };
            match rx.try_recv() {
                Ok(chunk) => io.pending = Some((chunk, 0)),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    io.from_tor = None;
                    if io.failed.is_none() {
                        stack.close(flow); // a clean end: FIN after the data
                    }
                    break;
                }
            }
        }
        if let Some(since) = io.failed {
            // A broken stream: the data that arrived before the break is delivered,
            // then the connection is reset (at the latest after RESET_GRACE, should
            // the program not read).
            let drained =
                io.pending.is_none() && io.from_tor.is_none() && stack.all_delivered(flow);
            if drained || since.elapsed() >= RESET_GRACE {
                stack.abort(flow);
                io.failed = None;
                io.from_tor = None;
                io.pending = None;
            }
        }
        if stack.is_closed(flow) {
            // Both sides closed, or the program reset the connection: nothing more can
            // be delivered. Dropping the channels ends the flow task and its Tor stream.
            finished.push(flow);
        }
    }
    for flow in finished {
        if let Some(io) = flows.remove(&flow) {
            if !io.open {
                // Refused, or given up while Tor was dialing: cancel the dial, so no
                // Tor stream outlives the program's interest in it.
                if let Some(task) = io.task {
                    task.abort();
                }
            }
            stack.release(flow);
        }
    }
}

/// One flow: dial Tor, report, then copy both ways until both ends are done.
pub(super) async fn flow_task(
    flow: FlowId,
    host: Vec<u8>,
    port: u16,
    tor: Rc<Tor>,
    ctl: mpsc::UnboundedSender<Control>,
    wake: Wake,
    debug: bool,
) {
    let stream = match tor.connect(host.clone(), port).await {
        Ok(stream) => stream,
        Err(e) => {
            if debug {
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
    let _ = stream.set_nodelay(true);
    let (to_tor_tx, mut to_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let (from_tor_tx, from_tor_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_CHUNKS);
    let _ = ctl.send(Control::Opened {
        flow,
        to_tor: to_tor_tx,
        from_tor: from_tor_rx,
    });
    wake.flow(flow);
    let (mut reader, mut writer) = stream.into_split();
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
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => {
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
                Ok(n) => {
                    if from_tor_tx.send(buf[..n].to_vec()).await.is_err() {
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
