//! `torsocks-ns`, the launcher: everything is in the library (`src/lib.rs`).
#![deny(unsafe_code)]

fn main() -> std::process::ExitCode {
    torsocks_ns::main()
}
