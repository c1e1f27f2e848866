//! Tests of the whole loading sequence: file, environment, cross-checks.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;

use super::*;

struct TempConf {
    path: PathBuf,
}

impl TempConf {
    fn new(contents: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("torsocks-core-{}-{n}.conf", std::process::id()));
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(contents.as_bytes()))
            .unwrap();
        TempConf { path }
    }
}

impl Drop for TempConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn env(vars: &[(&str, &str)]) -> HashMap<String, OsString> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect()
}

fn load_with(file: &TempConf, vars: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let mut vars = env(vars);
    vars.insert(env::CONF_FILE.into(), file.path.clone().into());
    load(&vars, &LoadOptions::default())
}

// spec CF-4, CF-5, C-63
#[test]
fn missing_file_warns_and_uses_defaults() {
    let vars = env(&[(env::CONF_FILE, "/nonexistent/torsocks.conf")]);
    let loaded = load(&vars, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert_eq!(loaded.file, None);
    assert_eq!(
        loaded
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["Config file not found: /nonexistent/torsocks.conf. Using default for Tor"]
    );
}

// spec CF-4: without TORSOCKS_CONF_FILE, the default paths are tried in order
#[test]
fn default_paths_in_order() {
    let second = TempConf::new("TorPort 9150\n");
    let options = LoadOptions {
        default_paths: vec!["/nonexistent/a.conf".into(), second.path.clone()],
    };
    let loaded = load(&env(&[]), &options).unwrap();
    assert_eq!(loaded.config.tor_port, 9150);
    assert_eq!(loaded.file.as_deref(), Some(second.path.as_path()));
    assert!(loaded.warnings.is_empty());

    let options = LoadOptions {
        default_paths: vec!["/nonexistent/a.conf".into(), "/nonexistent/b.conf".into()],
    };
    let loaded = load(&env(&[]), &options).unwrap();
    assert_eq!(
        loaded.warnings[0].to_string(),
        "Config file not found: /nonexistent/a.conf. Using default for Tor"
    );
}

// spec CF-1, C-72: the environment overrides the file
#[test]
fn environment_overrides_file() {
    let file = TempConf::new("TorAddress 127.0.0.2\nTorPort 9150\nAllowInbound 1\n");
    let loaded = load_with(
        &file,
        &[
            (env::TOR_ADDRESS, "::1"),
            (env::TOR_PORT, "9999"),
            (env::ALLOW_INBOUND, "0"),
            (env::ISOLATE_PID, "1"),
            (env::ENABLE_IPV6, "1"),
        ],
    )
    .unwrap();
    let c = loaded.config;
    assert_eq!(c.tor_endpoint().to_string(), "[::1]:9999");
    assert!(!c.allow_inbound);
    assert!(c.isolate_pid && c.enable_ipv6);
}

// spec CF-16: environment values are not tokenised; `#` is ordinary
#[test]
fn environment_values_used_whole() {
    let file = TempConf::new("");
    let loaded = load_with(&file, &[(env::USERNAME, "a b#c"), (env::PASSWORD, "")]).unwrap();
    assert_eq!(
        loaded.config.socks5_username.as_deref(),
        Some(&b"a b#c"[..])
    );
    // D-5: an empty variable sets the empty string.
    assert_eq!(loaded.config.socks5_password.as_deref(), Some(&b""[..]));
}

// spec §2.4 TORSOCKS_ENABLE_IPV6 `x` → 0, `3` → fatal; C-67, C-68 via environment
#[test]
fn environment_validation() {
    let file = TempConf::new("EnableIPv6 1\n");
    let loaded = load_with(&file, &[(env::ENABLE_IPV6, "x")]).unwrap();
    assert!(!loaded.config.enable_ipv6);
    for (var, value, message) in [
        (
            env::ENABLE_IPV6,
            "3",
            "[config] Invalid 3 value for EnableIPv6",
        ),
        (env::TOR_PORT, "0", "Config file invalid port: 0"),
        (env::TOR_PORT, "65536", "Config file invalid port: 65536"),
        (env::TOR_PORT, "abc", "Config file invalid port: abc"),
        (
            env::TOR_ADDRESS,
            "localhost",
            "Config file unknown tor address: localhost",
        ),
        (
            env::TOR_ADDRESS,
            "1.2.3",
            "Config file unknown tor address: 1.2.3",
        ),
        (
            env::ALLOW_INBOUND,
            "2",
            "[config] Invalid 2 value for AllowInbound",
        ),
        (
            env::ISOLATE_PID,
            "5",
            "[config] Invalid 5 value for IsolatePID",
        ),
    ] {
        let err = load_with(&file, &[(var, value)]).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.origin(), &Origin::Env { var });
    }
    let long = "u".repeat(256);
    let err = load_with(&file, &[(env::USERNAME, &long), (env::PASSWORD, "p")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "[config] Invalid value for SOCKS5Username (longer than 255 bytes)"
    );
}

// spec CF-17, C-22, D-5
#[test]
fn credentials_must_come_in_pairs() {
    let only_user = TempConf::new("SOCKS5Username alice\n");
    let err = load_with(&only_user, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "[config] SOCKS5Username and SOCKS5Password must be set together (only SOCKS5Username is set)"
    );
    let err = load_with(&TempConf::new(""), &[(env::PASSWORD, "x")]).unwrap_err();
    assert!(err.to_string().ends_with("(only SOCKS5Password is set)"));
    // File and environment mix: the pair is complete.
    let loaded = load_with(&only_user, &[(env::PASSWORD, "pw")]).unwrap();
    assert!(matches!(
        loaded.config.socks_auth(1, 2),
        crate::socks5::Auth::UserPass { .. }
    ));
}

// spec C-22: the override replaces the file's value whole
#[test]
fn override_replaces_whole_value() {
    let file = TempConf::new("SOCKS5Username alice\nSOCKS5Password secret\n");
    let loaded = load_with(&file, &[(env::USERNAME, "bo")]).unwrap();
    assert_eq!(
        loaded.config.socks_auth(1, 2),
        crate::socks5::Auth::UserPass {
            username: b"bo".to_vec(),
            password: b"secret".to_vec()
        }
    );
}

// spec CF-18, C-24
#[test]
fn isolate_pid_with_auth_is_fatal() {
    let file = TempConf::new("IsolatePID 1\nSOCKS5Username a\nSOCKS5Password b\n");
    assert_eq!(
        load_with(&file, &[]).unwrap_err().to_string(),
        "[config] IsolatePID and SOCKS5 auth both set."
    );
    let file = TempConf::new("SOCKS5Username a\nSOCKS5Password b\n");
    assert_eq!(
        load_with(&file, &[(env::ISOLATE_PID, "1")])
            .unwrap_err()
            .kind(),
        &ConfigErrorKind::IsolateWithAuth
    );
}

// spec CF-19, CF-20, C-23
#[test]
fn socks_method_and_isolation_credentials() {
    let c = Config::default();
    assert_eq!(c.socks_auth(42, 7), crate::socks5::Auth::NoAuth);
    let c = Config {
        isolate_pid: true,
        ..Config::default()
    };
    assert_eq!(
        c.socks_auth(4242, 1_700_000_000),
        crate::socks5::Auth::UserPass {
            username: b"torsocks-4242:1700000000".to_vec(),
            password: b"0".to_vec()
        }
    );
}

// spec CF-2, C-72: secure mode reads no variable at all
#[test]
fn secure_environment_reads_nothing() {
    // The test process is not setuid, so the real environment is read.
    let real = ProcessEnvironment::new();
    assert!(!real.is_secure());
    assert_eq!(real.var("PATH"), std::env::var_os("PATH"));
}

// spec CF-3 texts carry their origin for command-line programs
#[test]
fn detailed_error_names_file_and_line() {
    let file = TempConf::new("TorPort 9050\nOnionAddrRange 127.42.42.0/33\n");
    let err = load_with(&file, &[]).unwrap_err();
    assert_eq!(
        err.detailed(),
        format!(
            "{}:2: [config] Invalid mask 33 for OnionAddrRange",
            file.path.display()
        )
    );
}

// spec CF-15: the shipped torsocks.conf parses cleanly to the defaults
#[test]
fn shipped_configuration_is_the_default() {
    let shipped = include_str!("../../../torsocks.conf");
    let mut config = Config::default();
    let mut warnings = Vec::new();
    parse::parse(
        shipped.as_bytes(),
        Path::new("torsocks.conf"),
        &mut config,
        &mut warnings,
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config, Config::default());
    for name in directive::ALL {
        assert!(shipped.contains(name), "torsocks.conf must document {name}");
    }
}
