//! The bytes torsocks sends (spec §4.2–§4.8). Every function returns the whole message.

use std::net::IpAddr;

use super::{wire, Auth, Request, Socks5Error};

/// The greeting `05 01 MM` (S-5): exactly one method is offered.
pub fn greeting(auth: &Auth) -> [u8; 3] {
    [wire::VERSION, 1, auth.method()]
}

/// The greeting `05 02 00 MM`: no authentication and `auth`'s method, for
/// [`super::Handshake::offering_no_auth_too`] (never preload mode's S-5 greeting).
pub fn greeting_with_no_auth(auth: &Auth) -> Vec<u8> {
    match auth {
        Auth::NoAuth => greeting(auth).to_vec(),
        Auth::UserPass { .. } => vec![wire::VERSION, 2, wire::METHOD_NO_AUTH, auth.method()],
    }
}

/// The RFC 1929 message `01 UL user PL pass` (S-7).
pub fn user_pass(username: &[u8], password: &[u8]) -> Result<Vec<u8>, Socks5Error> {
    if username.len() > wire::MAX_LEN || password.len() > wire::MAX_LEN {
        return Err(Socks5Error::CredentialTooLong);
    }
    let mut msg = Vec::with_capacity(3 + username.len() + password.len());
    msg.push(wire::AUTH_VERSION);
    msg.push(username.len() as u8);
    msg.extend_from_slice(username);
    msg.push(password.len() as u8);
    msg.extend_from_slice(password);
    Ok(msg)
}

/// The request message: `05 CMD 00 ATYP ADDR PORT` (S-8, S-12, S-14).
pub fn request(request: &Request) -> Result<Vec<u8>, Socks5Error> {
    match request {
        Request::Connect { host, port } => domain(wire::CMD_CONNECT, host, *port),
        Request::Resolve { name } => domain(wire::CMD_RESOLVE, name, wire::RESOLVE_PORT),
        Request::ResolvePtr { addr } => {
            let mut msg = vec![wire::VERSION, wire::CMD_RESOLVE_PTR, 0];
            match crate::addr::canonical(*addr) {
                IpAddr::V4(v4) => {
                    msg.push(wire::ATYP_IPV4);
                    msg.extend_from_slice(&v4.octets());
                }
                IpAddr::V6(v6) => {
                    msg.push(wire::ATYP_IPV6);
                    msg.extend_from_slice(&v6.octets());
                }
            }
            msg.extend_from_slice(&wire::RESOLVE_PORT.to_be_bytes());
            Ok(msg)
        }
    }
}

fn domain(command: u8, name: &[u8], port: u16) -> Result<Vec<u8>, Socks5Error> {
    if name.len() > wire::MAX_LEN {
        return Err(Socks5Error::NameTooLong);
    }
    let mut msg = Vec::with_capacity(7 + name.len());
    msg.extend_from_slice(&[
        wire::VERSION,
        command,
        0,
        wire::ATYP_DOMAIN,
        name.len() as u8,
    ]);
    msg.extend_from_slice(name);
    msg.extend_from_slice(&port.to_be_bytes());
    Ok(msg)
}
