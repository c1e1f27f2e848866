//! One TCP flow of the sandbox: the task that dials Tor and copies bytes both ways, and
//! the driver's side that moves those bytes in and out of the stack.

use std::collections::HashMap;
use std::rc::Rc;

use netstack::stack::{FlowId, Received, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{Control, FlowIo, Wake, CHANNEL_CHUNKS, CHUNK};
use crate::tor::{self, Tor};

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
        while let Some(tx) = &io.to_tor {
            let Ok(permit) = tx.try_reserve() else { break };
            match stack.recv(flow, &mut buf[..CHUNK]) {
                Received::Data(n) => permit.send(buf[..n].to_vec()),
                Received::Nothing => break,
                Received::End => {
                    program_done = true;
                    break;
                }
            }
        }
        if program_done {
            io.to_tor = None; // the flow task shuts down its write side
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
                    stack.close(flow);
                    break;
                }
            }
        }
        if stack.is_closed(flow) {
            // Both sides closed, or the program reset the connection: nothing more can
            // be delivered. Dropping the channels ends the flow task and its Tor stream.
            finished.push(flow);
        }
    }
    for flow in finished {
        if flows.remove(&flow).is_some() {
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
    let up_wake = wake.clone();
    let upstream = async move {
        while let Some(chunk) = to_tor_rx.recv().await {
            up_wake.flow(flow); // room in the channel again
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    };
    let downstream = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
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
