//! Tor's control protocol (control-spec.txt), the parts torsocks-ns uses, sans-IO:
//! replies (§2.3), PROTOCOLINFO (§3.21), SAFECOOKIE (§3.24), ADD_ONION (§3.27) and
//! `status/bootstrap-phase` and `net/listeners/socks` (§4.1.10).

use std::path::PathBuf;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::ProtocolError;
use super::TorAddr;

/// A complete reply: its status code and the text of each line (data lines of a
/// `+` block appended to the line that opened it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The status code (250 is success).
    pub code: u16,
    /// Each line's text, after `DDD` and its separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// Whether the command succeeded.
    pub(crate) fn ok(&self) -> bool {
        self.code == 250
    }

    /// The value of `KEY=` on any line (the first word that starts with it).
    pub(crate) fn value(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.lines.iter().find_map(|line| {
            line.split(' ')
                .find_map(|word| word.strip_prefix(&prefix))
                .map(|v| v.to_string())
        })
    }
}

/// The longest reply accepted (a consensus is never asked for).
pub(crate) const MAX_REPLY: usize = 64 * 1024;

/// The replies in what Tor has sent so far: bytes in, whole replies out (asynchronous
/// events, 650, are never asked for and are skipped). The blocking and the async
/// connection share it.
#[derive(Debug, Default)]
pub(crate) struct Replies {
    buf: Vec<u8>,
}

impl Replies {
    /// Bytes Tor sent.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole reply, if one has arrived.
    pub(crate) fn next_reply(&mut self) -> Result<Option<Reply>, ProtocolError> {
        while let Some((reply, used)) = parse_reply(&self.buf)? {
            self.buf.drain(..used);
            if reply.code != 650 {
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }
}

/// Parses one reply from the start of `buf`: `Ok(None)` when more bytes are needed,
/// else the reply and the bytes it took.
pub(crate) fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    let mut pos = 0;
    let mut lines = Vec::new();
    loop {
        let Some(end) = find_crlf(&buf[pos..]) else {
            if buf.len() > MAX_REPLY {
                return Err(ProtocolError::TooLong);
            }
            return Ok(None);
        };
        let line = &buf[pos..pos + end];
        pos += end + 2;
        if line.len() < 4 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Err(ProtocolError::NotControl(Some(
                String::from_utf8_lossy(line).into_owned(),
            )));
        }
        let code: u16 = std::str::from_utf8(&line[..3])
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut text = String::from_utf8_lossy(&line[4..]).into_owned();
        match line[3] {
            b' ' => {
                lines.push(text);
                return Ok(Some((Reply { code, lines }, pos)));
            }
            b'-' => lines.push(text),
            b'+' => {
                // Data until a line holding only ".".
                loop {
                    let Some(end) = find_crlf(&buf[pos..]) else {
                        return Ok(None);
                    };
                    let data = &buf[pos..pos + end];
                    pos += end + 2;
                    if data == b"." {
                        break;
                    }
                    text.push('\n');
                    text.push_str(&String::from_utf8_lossy(data));
                }
                lines.push(text);
            }
            _ => return Err(ProtocolError::NotControl(None)),
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// A QuotedString (§2.1): in double quotes, `\` and `"` escaped.
pub(crate) fn quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            b'\r' | b'\n' => {}
            _ => out.push(b as char),
        }
    }
    out.push('"');
    out
}

/// Removes the quotes and escapes of a QuotedString.
pub(crate) fn unquote(text: &str) -> String {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let mut out = String::new();
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// The SOCKS listeners of a `GETINFO net/listeners/socks` reply (a space-separated
/// list of quoted `ADDR:PORT` or `unix:PATH`); what is not a TCP address is left out.
pub(crate) fn socks_listeners(reply: &Reply) -> Vec<TorAddr> {
    let prefix = "net/listeners/socks=";
    let Some(list) = reply.lines.iter().find_map(|l| l.strip_prefix(prefix)) else {
        return Vec::new();
    };
    list.split(' ')
        .filter_map(|word| {
            let word = unquote(word);
            match word.strip_prefix("unix:") {
                Some(path) => Some(TorAddr::Unix(PathBuf::from(path))),
                None => word.parse().ok().map(TorAddr::Tcp),
            }
        })
        .collect()
}

/// Whether `socks` is among `listeners`: the same address, a listener on every
/// address at its port, or a socket that `same_socket` says is the same (the shell
/// looks at the files; paths alone here).
pub(crate) fn serves(
    listeners: &[TorAddr],
    socks: &TorAddr,
    same_socket: impl Fn(&std::path::Path, &std::path::Path) -> bool,
) -> bool {
    listeners.iter().any(|l| match (l, socks) {
        (TorAddr::Tcp(l), TorAddr::Tcp(s)) => {
            l == s || (l.ip().is_unspecified() && l.port() == s.port())
        }
        (TorAddr::Unix(l), TorAddr::Unix(s)) => same_socket(l, s),
        _ => false,
    })
}

/// What PROTOCOLINFO says about authentication.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ProtocolInfo {
    /// NULL, HASHEDPASSWORD, COOKIE, SAFECOOKIE.
    pub methods: Vec<String>,
    /// Where the cookie is.
    pub cookie_file: Option<PathBuf>,
    /// Tor's version.
    pub version: Option<String>,
}

/// Reads a PROTOCOLINFO reply.
pub(crate) fn protocol_info(reply: &Reply) -> ProtocolInfo {
    let mut info = ProtocolInfo::default();
    for line in &reply.lines {
        if let Some(rest) = line.strip_prefix("AUTH ") {
            if let Some(methods) = rest.split(' ').find_map(|w| w.strip_prefix("METHODS=")) {
                info.methods = methods.split(',').map(str::to_string).collect();
            }
            if let Some(at) = rest.find("COOKIEFILE=") {
                info.cookie_file = Some(PathBuf::from(unquote(&rest[at + 11..])));
            }
        } else if let Some(rest) = line.strip_prefix("VERSION Tor=") {
            info.version = Some(unquote(rest.split(' ').next().unwrap_or(rest)));
        }
    }
    info
}

const SERVER_TO_CONTROLLER: &[u8] = b"Tor safe cookie authentication server-to-controller hash";
const CONTROLLER_TO_SERVER: &[u8] = b"Tor safe cookie authentication controller-to-server hash";

fn safecookie_hmac(key: &[u8], cookie: &[u8], client_nonce: &[u8], server_nonce: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new(); // HMAC takes keys of any length
    };
    mac.update(cookie);
    mac.update(client_nonce);
    mac.update(server_nonce);
    mac.finalize().into_bytes().to_vec()
}

/// The hash Tor must send in AUTHCHALLENGE's SERVERHASH (§3.24).
pub(crate) fn safecookie_server_hash(
    cookie: &[u8],
    client_nonce: &[u8],
    server_nonce: &[u8],
) -> Vec<u8> {
    safecookie_hmac(SERVER_TO_CONTROLLER, cookie, client_nonce, server_nonce)
}

/// The hash the controller sends in AUTHENTICATE after AUTHCHALLENGE (§3.24).
pub(crate) fn safecookie_client_hash(
    cookie: &[u8],
    client_nonce: &[u8],
    server_nonce: &[u8],
) -> Vec<u8> {
    safecookie_hmac(CONTROLLER_TO_SERVER, cookie, client_nonce, server_nonce)
}

/// Tor's bootstrap state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bootstrap {
    /// 0 to 100.
    pub progress: u8,
    /// What Tor is doing.
    pub summary: String,
    /// A warning, when Tor reports one (e.g. a clock skew).
    pub warning: Option<String>,
}

/// Reads `status/bootstrap-phase=... PROGRESS=n TAG=t SUMMARY="..." [WARNING="..."]`.
pub(crate) fn bootstrap(reply: &Reply) -> Option<Bootstrap> {
    let line = reply
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("status/bootstrap-phase="))?;
    let progress = line
        .split(' ')
        .find_map(|w| w.strip_prefix("PROGRESS="))?
        .parse()
        .ok()?;
    let quoted = |key: &str| {
        let at = line.find(&format!("{key}=\""))?;
        let rest = &line[at + key.len() + 1..];
        let end = rest[1..].find('"')? + 2;
        Some(unquote(&rest[..end]))
    };
    Some(Bootstrap {
        progress,
        summary: quoted("SUMMARY").unwrap_or_default(),
        warning: quoted("WARNING"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn socks_listeners_are_read_from_getinfo() {
        let reply = Reply {
            code: 250,
            lines: vec![
                "net/listeners/socks=\"127.0.0.1:9050\" \"unix:/run/tor/socks\" \"[::1]:9150\""
                    .to_string(),
                "OK".to_string(),
            ],
        };
        let listeners = socks_listeners(&reply);
        assert_eq!(
            listeners,
            [
                TorAddr::Tcp("127.0.0.1:9050".parse().unwrap()),
                TorAddr::Unix("/run/tor/socks".into()),
                TorAddr::Tcp("[::1]:9150".parse().unwrap()),
            ]
        );
        for (socks, served) in [
            ("127.0.0.1:9050", true),
            ("127.0.0.1:9051", false),
            ("unix:/run/tor/socks", true),
            ("unix:/run/tor/other", false),
        ] {
            let socks: TorAddr = socks.parse().unwrap();
            assert_eq!(serves(&listeners, &socks, |a, b| a == b), served, "{socks}");
        }
        let every = [TorAddr::Tcp("0.0.0.0:9050".parse().unwrap())];
        assert!(serves(
            &every,
            &TorAddr::Tcp("127.0.0.1:9050".parse().unwrap()),
            |a, b| a == b
        ));
        let none = Reply {
            code: 250,
            lines: vec!["net/listeners/socks=".into(), "OK".into()],
        };
        assert!(socks_listeners(&none).is_empty());
    }

    use super::*;
    use torsocks_core::hex;

    #[test]
    fn replies_come_whole_and_events_are_skipped() {
        let mut replies = Replies::default();
        replies.feed(b"650 STATUS_CLIENT NOTICE CIRCUIT_ESTABLISHED\r\n250-version=0.4");
        assert_eq!(replies.next_reply(), Ok(None));
        replies.feed(b".8\r\n250 OK\r\n");
        let reply = replies.next_reply().unwrap().unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(reply.lines, ["version=0.4.8", "OK"]);
        assert_eq!(replies.next_reply(), Ok(None));
        replies.feed(b"nonsense\r\n");
        assert!(replies.next_reply().is_err());
    }

    #[test]
    fn replies_single_multi_and_data() {
        assert_eq!(parse_reply(b"250 O"), Ok(None));
        let (r, n) = parse_reply(b"250 OK\r\nrest").unwrap().unwrap();
        assert_eq!(
            (r.code, r.lines.clone(), n),
            (250, vec!["OK".to_string()], 8)
        );
        let text = b"250-ServiceID=abc\r\n250-PrivateKey=ED25519-V3:k+y/=\r\n250 OK\r\n";
        let (r, n) = parse_reply(text).unwrap().unwrap();
        assert_eq!(n, text.len());
        assert_eq!(r.value("ServiceID").as_deref(), Some("abc"));
        assert_eq!(r.value("PrivateKey").as_deref(), Some("ED25519-V3:k+y/="));
        let data = b"250+info/names=\r\na b\r\nc d\r\n.\r\n250 OK\r\n";
        let (r, _) = parse_reply(data).unwrap().unwrap();
        assert_eq!(r.lines[0], "info/names=\na b\nc d");
        assert!(parse_reply(b"HTTP/1.0 501 Tor is not an HTTP Proxy\r\n").is_err());
        let (r, _) = parse_reply(b"515 Authentication failed\r\n")
            .unwrap()
            .unwrap();
        assert!(!r.ok());
    }

    #[test]
    fn protocolinfo_as_tor_sends_it() {
        let text = b"250-PROTOCOLINFO 1\r\n\
            250-AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE=\"/run/tor/control.authcookie\"\r\n\
            250-VERSION Tor=\"0.4.7.16\"\r\n250 OK\r\n";
        let (r, _) = parse_reply(text).unwrap().unwrap();
        let info = protocol_info(&r);
        assert_eq!(info.methods, ["COOKIE", "SAFECOOKIE", "HASHEDPASSWORD"]);
        assert_eq!(
            info.cookie_file.as_deref(),
            Some(std::path::Path::new("/run/tor/control.authcookie"))
        );
        assert_eq!(info.version.as_deref(), Some("0.4.7.16"));
    }

    #[test]
    fn quoting_round_trips() {
        assert_eq!(quote(b"pa\"ss\\w"), "\"pa\\\"ss\\\\w\"");
        assert_eq!(unquote(&quote(b"pa\"ss\\w")), "pa\"ss\\w");
    }

    #[test]
    fn safecookie_hashes_differ_by_direction_and_hex_round_trips() {
        let (cookie, cn, sn) = ([7u8; 32], [1u8; 32], [2u8; 32]);
        let server = safecookie_server_hash(&cookie, &cn, &sn);
        let client = safecookie_client_hash(&cookie, &cn, &sn);
        assert_eq!((server.len(), client.len()), (32, 32));
        assert_ne!(server, client);
        assert_eq!(hex::decode(&hex::encode(&server)), Some(server));
        assert_eq!(hex::decode("0A0b"), Some(vec![10, 11]));
        assert_eq!(hex::decode("0"), None);
    }

    #[test]
    fn bootstrap_phase() {
        let line = "250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=45 TAG=requesting_descriptors SUMMARY=\"Asking for relay descriptors\"\r\n250 OK\r\n";
        let (r, _) = parse_reply(line.as_bytes()).unwrap().unwrap();
        assert_eq!(
            bootstrap(&r),
            Some(Bootstrap {
                progress: 45,
                summary: "Asking for relay descriptors".into(),
                warning: None
            })
        );
        let warn = "250-status/bootstrap-phase=WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY=\"Connecting\" WARNING=\"Connection refused\" REASON=CONNECTREFUSED\r\n250 OK\r\n";
        let (r, _) = parse_reply(warn.as_bytes()).unwrap().unwrap();
        assert_eq!(
            bootstrap(&r).unwrap().warning.as_deref(),
            Some("Connection refused")
        );
    }
}
