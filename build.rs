//! Records the version of smoltcp that Cargo.lock pins, for `torsocks-ns --version`.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut lines = lock.lines();
    let mut smoltcp = "unknown".to_string();
    while let Some(line) = lines.next() {
        if line == "name = \"smoltcp\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = ")) {
                smoltcp = v.trim_matches('"').to_string();
            }
        }
    }
    println!("cargo:rustc-env=TORSOCKS_NS_SMOLTCP_VERSION={smoltcp}");
}
