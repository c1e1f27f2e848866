//! `torsocks-inspect PATH`: tells the `torsocks` wrapper whether preloading can reach a
//! program (spec W-10). Prints one word:
//!
//! * `dynamic` — a dynamically linked ELF: LD_PRELOAD works;
//! * `static`  — an ELF without a program interpreter: LD_PRELOAD cannot reach it;
//! * `go`      — a dynamically linked Go program, which makes its own system calls;
//! * `other`   — not an ELF file (a script, for example), or unreadable.
//!
//! Always exits 0 for a readable argument: the wrapper decides what to say.
//!
//! `torsocks-inspect --check-tor` is `torsocks --check`'s Tor side: with the
//! configuration preload mode reads (torsocks.conf, `TORSOCKS_*`), whether Tor's SOCKS
//! port answers and whether it is Tor, one ✓/✗ line each; exits 1 when one fails.

// Unsafe code lives only in the modules that make system calls, each of which says so.
#![deny(unsafe_code)]

#[path = "../tor/preflight.rs"]
mod preflight;
#[path = "../tor/stream.rs"]
#[allow(dead_code)] // (the runtime's half serves torsocks-ns)
mod stream;

use std::process::ExitCode;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endianness, Object};

/// What preloading can do for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dynamic,
    Static,
    Go,
    Other,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Dynamic => "dynamic",
            Kind::Static => "static",
            Kind::Go => "go",
            Kind::Other => "other",
        }
    }
}

fn has_interpreter<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<bool> {
    let header = H::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let headers = header.program_headers(endian, data).ok()?;
    Some(headers.iter().any(|ph| ph.p_type(endian) == elf::PT_INTERP))
}

fn classify(data: &[u8]) -> Kind {
    if !data.starts_with(&elf::ELFMAG) {
        return Kind::Other;
    }
    // e_ident[EI_CLASS], the byte after the magic number: 2 is ELFCLASS64, 1 ELFCLASS32.
    let interp = match data.get(4) {
        Some(2) => has_interpreter::<elf::FileHeader64<Endianness>>(data),
        Some(1) => has_interpreter::<elf::FileHeader32<Endianness>>(data),
        _ => None,
    };
    match interp {
        None => Kind::Other,
        Some(false) => Kind::Static,
        Some(true) => {
            let go = object::File::parse(data).is_ok_and(|file| {
                file.section_by_name(".note.go.buildid").is_some()
                    || file.section_by_name(".go.buildinfo").is_some()
            });
            if go {
                Kind::Go
            } else {
                Kind::Dynamic
            }
        }
    }
}

/// `--check-tor`.
fn check_tor() -> ExitCode {
    use torsocks_core::config::{self, LoadOptions, ProcessEnvironment};
    let loaded = match config::load(&ProcessEnvironment::new(), &LoadOptions::default()) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("✗ the configuration: {}", e.detailed());
            return ExitCode::from(1);
        }
    };
    let endpoint = match loaded.config.tcp_socks_port() {
        Ok(addr) => stream::TorAddr::Tcp(addr),
        Err(refusal) => {
            println!("✗ the configuration: {refusal}");
            return ExitCode::from(1);
        }
    };
    println!("✓ the configuration is valid");
    if let Err(message) = preflight::socks_port_answers(&endpoint) {
        println!("✗ {message}");
        return ExitCode::from(1);
    }
    println!("✓ Tor's SOCKS port at {endpoint} answers SOCKS5");
    match preflight::is_tor(&endpoint) {
        Ok(how) => {
            println!("✓ it is Tor: {how}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            println!("✗ it is not Tor, or not one we recognise: {why}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "--check-tor")
    {
        return check_tor();
    }
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: torsocks-inspect PATH");
        return ExitCode::from(2);
    };
    let kind = std::fs::read(&path).map_or(Kind::Other, |data| classify(&data));
    println!("{}", kind.word());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }

    // spec W-10
    #[test]
    fn classifies_real_binaries() {
        let sh = file("/bin/sh").expect("/bin/sh");
        assert_eq!(classify(&sh), Kind::Dynamic);
        if let Some(busybox) = file("/bin/busybox") {
            assert_eq!(classify(&busybox), Kind::Static);
        }
        assert_eq!(classify(b"#!/bin/sh\necho hi\n"), Kind::Other);
        assert_eq!(classify(b"\x7fELF garbage"), Kind::Other);
        assert_eq!(classify(b""), Kind::Other);
    }
}
