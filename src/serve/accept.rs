//! Serving the launcher's listening sockets (the sandbox's SOCKS port, published
//! ports): accept, hold a slot per connection, reset what comes over the cap.

use std::future::Future;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::serve::slots::Slots;

/// A tokio listener from a std one (made non-blocking).
pub(crate) fn listener(listener: std::net::TcpListener) -> std::io::Result<TcpListener> {
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// Accepts on `listener` until the session ends; each connection runs `handle` in a
/// task of its own while it holds one of `slots`, and one over the cap is reset.
pub(crate) async fn serve<F, Fut>(listener: TcpListener, slots: Slots, handle: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // EMFILE and the like: let the fds come back rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(slot) = slots.take() else {
            reset(&stream);
            continue;
        };
        let work = handle(stream);
        tokio::task::spawn_local(async move {
            work.await;
            drop(slot);
        });
    }
}

/// Closes with a reset once dropped: the far side sees the failure, not an end.
pub(crate) fn reset(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let _ = nix::sys::socket::setsockopt(stream, nix::sys::socket::sockopt::Linger, &linger);
}
