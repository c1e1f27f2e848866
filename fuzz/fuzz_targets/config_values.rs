//! `torsocks.conf` text and `TORSOCKS_*` values: the file parsed whole, then each line
//! of the input applied as an environment variable's value (the variable chosen by
//! the line's first byte).
#![no_main]

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use torsocks_core::config::{env, parse, value, Config};

fuzz_target!(|data: &[u8]| {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    let _ = parse::parse(data, Path::new("torsocks.conf"), &mut config, &mut warnings);
    let _ = config.cross_check();
    let mut vars: HashMap<String, OsString> = HashMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some((&which, value)) = line.split_first() else {
            continue;
        };
        let (name, _) = env::OVERRIDES[usize::from(which) % env::OVERRIDES.len()];
        vars.insert(name.to_string(), OsString::from_vec(value.to_vec()));
        let text = String::from_utf8_lossy(value);
        let _ = value::control_port(&text);
        let _ = value::onion_range(&text);
        let _ = value::atoi(&text);
    }
    let mut config = Config::default();
    let _ = env::apply(&vars, &mut config);
});
