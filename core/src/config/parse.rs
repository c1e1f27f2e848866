//! The `torsocks.conf` syntax (spec §2.2, CF-6..CF-14), without I/O: the caller reads
//! the file and hands its bytes in.

use std::path::Path;

use super::{directive, value, Config, ConfigError, ConfigErrorKind, ConfigWarning, Origin};

/// Parses `bytes` (the contents of the file at `path`) over `config`, pushing warnings.
///
/// Values are validated as each line is read; the first fatal error stops parsing
/// (CF-14). `path` is used only to report where an error is.
pub fn parse(
    bytes: &[u8],
    path: &Path,
    config: &mut Config,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    for (index, raw) in lines(bytes).enumerate() {
        let line_no = index + 1;
        let mut tokens = tokens(raw);
        let Some(name) = tokens.next() else {
            continue; // blank or comment line (CF-8)
        };
        let name = String::from_utf8_lossy(name);
        let value = tokens.next();
        let extra = tokens.next().is_some();
        let line_text = || String::from_utf8_lossy(raw).into_owned();
        let origin = || Origin::File {
            path: path.to_path_buf(),
            line: line_no,
        };

        let Some(value) = value else {
            // A known directive needs a value (CF-11); an unknown one only warns (CF-10).
            if let Some(directive) = directive::known(&name) {
                return Err(ConfigError::new(
                    origin(),
                    ConfigErrorKind::MissingValue { directive },
                ));
            }
            warnings.push(ConfigWarning::UnknownDirective {
                line_no,
                line: line_text(),
            });
            continue;
        };

        match value::apply(config, &name, value) {
            Ok(true) if extra => warnings.push(ConfigWarning::TooManyValues {
                line_no,
                line: line_text(),
            }),
            Ok(true) => {}
            Ok(false) => warnings.push(ConfigWarning::UnknownDirective {
                line_no,
                line: line_text(),
            }),
            Err(kind) => return Err(ConfigError::new(origin(), kind)),
        }
    }
    Ok(())
}

/// Splits at LF; one CR before the LF (or at the end of the file) is removed (CF-7).
/// A final line without LF is read whole; nothing follows a final LF.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    body.split(|&b| b == b'\n')
        .filter(move |_| !empty)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// Maximal runs of non-blank bytes, up to the first token that begins with `#` (CF-9).
fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|t| !t.is_empty())
        .take_while(|t| t[0] != b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let mut config = Config::default();
        let mut warnings = Vec::new();
        parse(
            text.as_bytes(),
            Path::new("/t.conf"),
            &mut config,
            &mut warnings,
        )?;
        Ok((config, warnings))
    }

    fn warning_texts(text: &str) -> Vec<String> {
        run(text)
            .unwrap()
            .1
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    // spec CF-6, C-63: empty and comment-only files give the defaults, no message
    #[test]
    fn empty_and_comment_only() {
        for text in ["", "\n", "# a\n\n   # b\n\t\n", "#x"] {
            let (c, w) = run(text).unwrap();
            assert_eq!(c, Config::default(), "{text:?}");
            assert!(w.is_empty(), "{text:?}");
        }
    }

    // spec CF-8, CF-9, C-64
    #[test]
    fn comments_and_hash_inside_tokens() {
        let (c, w) =
            run("   # x\nTorPort 9050 # the port\nSOCKS5Username ab#cd\nSOCKS5Password p\n")
                .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.tor_port, 9050);
        assert_eq!(c.socks5_username.as_deref(), Some(&b"ab#cd"[..]));
        // A value that starts with `#` is a comment, so the directive has no value.
        let err = run("TorPort #9051\n").unwrap_err();
        assert_eq!(err.to_string(), "Config file line 1: TorPort needs a value");
    }

    // spec CF-10, C-64: unknown and lowercase directives warn and parsing continues
    #[test]
    fn unknown_directive_warns_and_continues() {
        let text = "torport 9051\nBogus\nTorPort 9052\n";
        let (c, w) = run(text).unwrap();
        assert_eq!(c.tor_port, 9052);
        assert_eq!(
            w.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "Config file contains unknown value: torport 9051",
                "Config file contains unknown value: Bogus",
            ]
        );
    }

    // spec CF-11, C-66
    #[test]
    fn missing_value_is_fatal_with_line_number() {
        let err = run("# c\nTorAddress 127.0.0.1\nTorPort   \n").unwrap_err();
        assert_eq!(err.to_string(), "Config file line 3: TorPort needs a value");
        assert_eq!(
            err.origin(),
            &Origin::File {
                path: "/t.conf".into(),
                line: 3
            }
        );
        assert_eq!(
            err.detailed(),
            "/t.conf:3: Config file line 3: TorPort needs a value"
        );
        let err = run("SOCKS5Password # no value\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Config file line 1: SOCKS5Password needs a value"
        );
    }

    // spec CF-12, C-65
    #[test]
    fn too_many_values_uses_first() {
        let (c, w) = run("TorPort 9050 9051\n").unwrap();
        assert_eq!(c.tor_port, 9050);
        assert_eq!(
            w[0].to_string(),
            "Config file line 1 has too many values, only the first one is used: TorPort 9050 9051"
        );
        assert_eq!(warning_texts("TorPort 1 2 3 4 5 6 7\n").len(), 1);
    }

    // spec CF-7, C-65: final line without LF, CRLF files
    #[test]
    fn line_ends() {
        assert_eq!(run("TorPort 9051").unwrap().0.tor_port, 9051);
        assert_eq!(run("TorPort 9051\r").unwrap().0.tor_port, 9051);
        let (c, w) = run("TorAddress 127.0.0.2\r\nTorPort 9052\r\n").unwrap();
        assert!(w.is_empty());
        assert_eq!(
            (c.tor_address.to_string(), c.tor_port),
            ("127.0.0.2".into(), 9052)
        );
    }

    // spec CF-13: last occurrence wins, replaces whole
    #[test]
    fn last_occurrence_wins() {
        let (c, _) = run("SOCKS5Username alice\nSOCKS5Username bo\nSOCKS5Password x\n").unwrap();
        assert_eq!(c.socks5_username.as_deref(), Some(&b"bo"[..]));
    }

    // spec CF-14: the first fatal error stops parsing
    #[test]
    fn first_error_wins() {
        let err = run("TorPort 0\nTorAddress localhost\n").unwrap_err();
        assert_eq!(err.to_string(), "Config file invalid port: 0");
    }

    // spec §2.3 every directive, CF-15 defaults
    #[test]
    fn every_directive() {
        let (c, w) = run("TorAddress ::1\nTorPort 9150\nOnionAddrRange 10.0.0.0/8\n\
             SOCKS5Username u\nSOCKS5Password p\nAllowInbound 1\nAllowOutboundLocalhost 2\n\
             IsolatePID 0\nEnableIPv6 1\n")
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(c.tor_endpoint().to_string(), "[::1]:9150");
        assert_eq!(c.onion_range.to_string(), "10.0.0.0/8");
        assert_eq!(c.socks5_password.as_deref(), Some(&b"p"[..]));
        assert!(c.allow_inbound && c.enable_ipv6 && !c.isolate_pid);
        assert_eq!(
            c.allow_outbound_localhost,
            super::super::OutboundLocalhost::TcpAndUdp
        );
    }

    // spec C-71 through the file syntax
    #[test]
    fn long_credentials() {
        let ok = format!("SOCKS5Username {}\nSOCKS5Password p", "u".repeat(255));
        assert_eq!(run(&ok).unwrap().0.socks5_username.unwrap().len(), 255);
        let bad = format!("SOCKS5Username {}", "u".repeat(256));
        assert_eq!(
            run(&bad).unwrap_err().to_string(),
            "[config] Invalid value for SOCKS5Username (longer than 255 bytes)"
        );
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    // Bad input gets an error or a warning, never a panic: arbitrary files, biased
    // towards real directive names and tricky values.
    #[test]
    fn arbitrary_files_never_panic() {
        let words: [&[u8]; 16] = [
            b"TorAddress",
            b"TorPort",
            b"OnionAddrRange",
            b"SOCKS5Username",
            b"SOCKS5Password",
            b"AllowInbound",
            b"IsolatePID",
            b"EnableIPv6",
            b"#",
            b" ",
            b"\t",
            b"\r\n",
            b"\n",
            b"127.0.0.1/24",
            b"65536",
            b"\xff\xfe",
        ];
        let mut next = crate::test_rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..5_000 {
            let mut file = Vec::new();
            for _ in 0..(next() % 24) {
                if next() % 3 == 0 {
                    file.push(next() as u8);
                } else {
                    file.extend_from_slice(words[(next() % words.len() as u64) as usize]);
                }
            }
            let mut config = Config::default();
            let mut warnings = Vec::new();
            match parse(&file, Path::new("fuzz.conf"), &mut config, &mut warnings) {
                Ok(()) => {}
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
}
