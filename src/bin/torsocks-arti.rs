//! `torsocks-arti`: the embedded Tor client (Arti) in a process of its own, started by
//! `torsocks-ns` when a run asks for it (`src/embedded/process.rs`).
#![deny(unsafe_code)]

fn main() -> std::process::ExitCode {
    torsocks_ns::arti_main()
}
