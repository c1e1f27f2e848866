//! The client state machine: greeting → (authentication) → request → reply.

use super::decode::{self, Decoded};
use super::{encode, wire, Auth, Reply, Request, Socks5Error};

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write all of these bytes to the server, then call [`Handshake::step`] again.
    Send(Vec<u8>),
    /// Read at most this many bytes and pass them to [`Handshake::step`]. Reading no
    /// more than this never consumes bytes that follow the reply.
    Recv(usize),
    /// The exchange is over.
    Done(Reply),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    AwaitMethod,
    AwaitAuth,
    AwaitReply,
    Done,
}

/// One SOCKS5 exchange with Tor, sans-IO.
///
/// ```
/// use torsocks_core::socks5::{Action, Auth, Handshake, Request};
/// let mut hs = Handshake::new(Auth::NoAuth, Request::Resolve { name: b"a.test".to_vec() }).unwrap();
/// assert_eq!(hs.step(&[]).unwrap(), Action::Send(vec![5, 1, 0]));
/// assert_eq!(hs.step(&[]).unwrap(), Action::Recv(2));
/// assert!(matches!(hs.step(&[5, 0]).unwrap(), Action::Send(_)));
/// ```
#[derive(Debug, Clone)]
pub struct Handshake {
    auth: Auth,
    request_bytes: Vec<u8>,
    request: Request,
    state: State,
    /// Bytes received for the reply being decoded.
    received: Vec<u8>,
    /// Also offer "no authentication" besides username/password.
    offer_no_auth: bool,
}

impl Handshake {
    /// Prepares an exchange. Fails when a name or credential cannot be encoded.
    pub fn new(auth: Auth, request: Request) -> Result<Self, Socks5Error> {
        if let Auth::UserPass { username, password } = &auth {
            encode::user_pass(username, password)?;
        }
        Ok(Handshake {
            request_bytes: encode::request(&request)?,
            auth,
            request,
            state: State::Start,
            received: Vec::new(),
            offer_no_auth: false,
        })
    }

    /// Like [`Handshake::new`], but with credentials the greeting offers both
    /// username/password and no authentication (`05 02 00 02`), so a SOCKS server
    /// without authentication is served too. Tor picks username/password whenever it is
    /// offered (its `PreferSOCKSNoAuth` flag aside), so stream isolation by credentials
    /// holds. Preload mode never uses this: spec S-5 offers exactly one method.
    pub fn offering_no_auth_too(auth: Auth, request: Request) -> Result<Self, Socks5Error> {
        let mut handshake = Handshake::new(auth, request)?;
        handshake.offer_no_auth = matches!(handshake.auth, Auth::UserPass { .. });
        Ok(handshake)
    }

    /// Advances with `input`, the bytes received since the last call (empty after a
    /// [`Action::Send`]). Errors are final.
    pub fn step(&mut self, input: &[u8]) -> Result<Action, Socks5Error> {
        self.received.extend_from_slice(input);
        match self.state {
            State::Start => {
                self.state = State::AwaitMethod;
                if self.offer_no_auth {
                    return Ok(Action::Send(encode::greeting_with_no_auth(&self.auth)));
                }
                Ok(Action::Send(encode::greeting(&self.auth).to_vec()))
            }
            State::AwaitMethod => match decode::method_choice(&self.received, &self.offered())? {
                Decoded::Incomplete { needed } => Ok(Action::Recv(needed)),
                Decoded::Complete { len, value } => {
                    self.received.drain(..len);
                    match &self.auth {
                        _ if value == wire::METHOD_NO_AUTH => Ok(self.send_request()),
                        Auth::NoAuth => Ok(self.send_request()),
                        Auth::UserPass { username, password } => {
                            self.state = State::AwaitAuth;
                            Ok(Action::Send(encode::user_pass(username, password)?))
                        }
                    }
                }
            },
            State::AwaitAuth => match decode::auth_reply(&self.received)? {
                Decoded::Incomplete { needed } => Ok(Action::Recv(needed)),
                Decoded::Complete { len, .. } => {
                    self.received.drain(..len);
                    Ok(self.send_request())
                }
            },
            State::AwaitReply => {
                let (reply, len) = match &self.request {
                    Request::Connect { .. } => match decode::connect_reply(&self.received)? {
                        Decoded::Incomplete { needed } => return Ok(Action::Recv(needed)),
                        Decoded::Complete { value, len } => (Reply::Connected(value), len),
                    },
                    Request::Resolve { .. } => match decode::resolve_reply(&self.received)? {
                        Decoded::Incomplete { needed } => return Ok(Action::Recv(needed)),
                        Decoded::Complete { value, len } => (Reply::Resolved(value), len),
                    },
                    Request::ResolvePtr { .. } => {
                        match decode::resolve_ptr_reply(&self.received)? {
                            Decoded::Incomplete { needed } => return Ok(Action::Recv(needed)),
                            Decoded::Complete { value, len } => (Reply::ResolvedName(value), len),
                        }
                    }
                };
                self.received.drain(..len);
                self.state = State::Done;
                Ok(Action::Done(reply))
            }
            State::Done => Ok(Action::Recv(0)),
        }
    }

    /// Bytes received beyond the end of the reply (for callers that read greedily).
    /// After a RESOLVE or RESOLVE_PTR this may hold the reply's port.
    pub fn take_unconsumed(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.received)
    }

    /// The methods the greeting offered.
    fn offered(&self) -> Vec<u8> {
        if self.offer_no_auth {
            vec![wire::METHOD_NO_AUTH, self.auth.method()]
        } else {
            vec![self.auth.method()]
        }
    }

    fn send_request(&mut self) -> Action {
        self.state = State::AwaitReply;
        Action::Send(self.request_bytes.clone())
    }
}
