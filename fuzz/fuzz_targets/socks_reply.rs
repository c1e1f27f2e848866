//! What a SOCKS server answers torsocks' client: each reply decoder, and the whole
//! handshake fed the server's bytes in pieces as a blocking caller reads them.
//!
//! Input: a byte choosing the request (CONNECT, RESOLVE, RESOLVE_PTR) and whether
//! credentials are offered, then the server's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torsocks_core::socks5::{decode, Action, Auth, Handshake, Request};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, server)) = data.split_first() else {
        return;
    };
    let _ = decode::method_choice(server, &[0, 2]);
    let _ = decode::method_reply(server, 2);
    let _ = decode::auth_reply(server);
    let _ = decode::connect_reply(server);
    let _ = decode::resolve_reply(server);
    let _ = decode::resolve_ptr_reply(server);
    let request = match choice % 3 {
        0 => Request::Connect {
            host: b"a.test".to_vec(),
            port: 80,
        },
        1 => Request::Resolve {
            name: b"a.test".to_vec(),
        },
        _ => Request::ResolvePtr {
            addr: [192, 0, 2, 1].into(),
        },
    };
    let auth = match choice & 4 {
        0 => Auth::NoAuth,
        _ => Auth::UserPass {
            username: b"u".to_vec(),
            password: b"p".to_vec(),
        },
    };
    let Ok(mut handshake) = Handshake::new(auth, request) else {
        return;
    };
    let mut rest = server;
    let mut input: &[u8] = &[];
    for _ in 0..16 {
        match handshake.step(input) {
            Ok(Action::Send(_)) => input = &[],
            Ok(Action::Recv(0)) | Ok(Action::Done(_)) | Err(_) => break,
            Ok(Action::Recv(n)) => {
                let (piece, tail) = rest.split_at(n.min(rest.len()));
                if piece.is_empty() {
                    break;
                }
                input = piece;
                rest = tail;
            }
        }
    }
    let _ = handshake.take_unconsumed();
});
