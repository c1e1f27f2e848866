//! The plan of a run, from command lines and configurations, without I/O.

use clap::Parser;

use super::*;
use torsocks_core::config::TorAddr;

fn args(line: &[&str]) -> Args {
    let mut argv = vec!["torsocks-ns"];
    argv.extend_from_slice(line);
    argv.push("true");
    Args::try_parse_from(argv).expect("a valid command line")
}

const ID: RunId = RunId {
    pid: 4242,
    unix_time: 1_700_000_000,
    random_seed: 7,
};

fn plan(line: &[&str], config: &Config) -> Result<RunPlan, PlanError> {
    RunPlan::build(&args(line), config, ID)
}

#[test]
fn the_defaults_make_a_plan_of_the_defaults() {
    let plan = plan(&[], &Config::default()).unwrap();
    assert_eq!(plan.tor_kind, TorKind::Daemon);
    assert_eq!(plan.daemon, "127.0.0.1:9050".parse().unwrap());
    assert!(plan.control.is_none());
    assert_eq!(plan.buffers.buffer, 128 * 1024);
    assert_eq!(plan.network.stack.rx_buffer, plan.buffers.buffer);
    assert_eq!(
        plan.network.stack.max_flows,
        plan.buffers.max_connections as usize
    );
    assert_eq!(plan.network.stack.random_seed, 7);
    assert_eq!(plan.network.net.mtu, 65520);
    assert_eq!(plan.network.net.stack_v4, plan.network.stack.ipv4.addr);
    assert_eq!(plan.deadlines.connect, Duration::from_secs(120));
    assert_eq!(plan.deadlines.resolve, Duration::from_secs(30));
    assert_eq!(plan.half_close_wait, Duration::from_secs(10));
    assert!(plan.publishes.is_empty() && plan.onion.mappings.is_empty());
}

#[test]
fn options_win_over_the_configuration() {
    let config = Config {
        connect_timeout: Some(60),
        resolve_timeout: Some(10),
        control_port: Some(TorAddr::Tcp("127.0.0.1:9051".parse().unwrap())),
        control_password: Some(b"from-conf".to_vec()),
        tor_client: torsocks_core::config::TorClient::Auto,
        ..Config::default()
    };
    let plan = plan(
        &[
            "--connect-timeout",
            "5",
            "--control",
            "9151",
            "--control-password",
            "p",
        ],
        &config,
    )
    .unwrap();
    assert_eq!(plan.deadlines.connect, Duration::from_secs(5));
    assert_eq!(plan.deadlines.resolve, Duration::from_secs(10));
    assert_eq!(plan.tor_kind, TorKind::Auto);
    let control = plan.control.unwrap();
    assert_eq!(control.addr.to_string(), "127.0.0.1:9151");
    assert!(matches!(control.credentials, Credentials::Password(p) if p == b"p"));
}

#[test]
fn the_configuration_s_control_port_and_cookie_are_used_when_no_option_names_one() {
    let mut config = Config {
        control_port: Some(TorAddr::Tcp("127.0.0.1:9051".parse().unwrap())),
        control_cookie: Some("/run/tor/control.authcookie".into()),
        ..Config::default()
    };
    let control = plan(&[], &config).unwrap().control.unwrap();
    assert_eq!(control.addr.to_string(), "127.0.0.1:9051");
    assert!(matches!(control.credentials, Credentials::Cookie(_)));
    config.control_cookie = None;
    let control = plan(&[], &config).unwrap().control.unwrap();
    assert!(matches!(control.credentials, Credentials::Auto));
}

#[test]
fn every_bad_value_is_named_with_its_option() {
    let message = |line: &[&str]| plan(line, &Config::default()).unwrap_err().to_string();
    assert!(message(&["--virtual-range", "10.0.0.0"]).starts_with("--virtual-range: "));
    assert!(message(&["--publish", "8080"]).starts_with("--publish 8080: "));
    assert!(message(&["--publish", "0.0.0.0:80:80"]).contains("--publish-any"));
    assert_eq!(
        message(&["--onion-service", "0"]),
        "--onion-service 0: ports are 1-65535"
    );
    assert_eq!(
        message(&["--control", "nowhere"]),
        "--control nowhere: expected ADDR:PORT, PORT or unix:PATH"
    );
    assert!(message(&["--buffer-budget", "1M"]).starts_with("--buffer-budget 1 MiB"));
}

#[test]
fn isolation_beside_credentials_that_are_sent_as_they_are_is_refused() {
    // -u and -p reach the plan through the configuration (settings lays them over it).
    let mut config = Config {
        socks5_username: Some(b"me".to_vec()),
        socks5_password: Some(b"pw".to_vec()),
        ..Config::default()
    };
    let err = plan(&["--isolate", "destination"], &config).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--isolate destination: SOCKS5Username/-u credentials are sent as they are; drop them \
         to isolate"
    );
    assert!(plan(&["--isolate", "none"], &config).is_ok());
    assert!(plan(&["--isolate", "connection"], &Config::default()).is_ok());
    // IsolatePID asks for what the session does anyway: no conflict.
    config.isolate_pid = true;
    assert!(plan(&["--isolate", "destination"], &config).is_ok());
}

#[test]
fn an_onion_service_needs_a_daemon_and_its_control_port() {
    let config = Config::default();
    let mut no_control = plan(&["--onion-service", "80"], &config).unwrap();
    assert_eq!(no_control.onion.mappings, vec![(80, 80)]);
    assert!(matches!(
        no_control.for_tor(Chosen::Daemon, false),
        Err(PlanError::NeedsControlPort)
    ));
    let mut embedded = plan(
        &["--onion-service", "80:8080", "--control", "9051"],
        &config,
    )
    .unwrap();
    assert!(matches!(
        embedded.for_tor(Chosen::Embedded, true),
        Err(PlanError::NeedsDaemon)
    ));
    let mut daemon = plan(
        &["--onion-service", "80:8080", "--control", "9051"],
        &config,
    )
    .unwrap();
    assert!(daemon.for_tor(Chosen::Daemon, true).is_ok());
    assert_eq!(daemon.onion.mappings, vec![(80, 8080)]);
}

#[test]
fn the_embedded_client_drops_the_configuration_s_control_port() {
    let config = Config {
        control_port: Some(TorAddr::Tcp("127.0.0.1:9051".parse().unwrap())),
        ..Config::default()
    };
    let mut plan = plan(&[], &config).unwrap();
    assert!(plan.control.is_some());
    plan.for_tor(Chosen::Embedded, false).unwrap();
    assert!(plan.control.is_none());
}

#[test]
fn a_connection_cap_shrinks_the_buffers_to_fit_the_budget() {
    let plan = plan(&["--max-connections", "4096"], &Config::default()).unwrap();
    assert_eq!(plan.buffers.max_connections, 4096);
    assert!(plan.buffers.buffer < 128 * 1024);
    assert_eq!(plan.network.stack.tx_buffer, plan.buffers.buffer);
}

#[test]
fn a_control_socket_is_a_unix_path() {
    let socket = plan(&["--control", "unix:/run/tor/control"], &Config::default()).unwrap();
    assert_eq!(
        socket.control.unwrap().addr,
        TorAddr::Unix("/run/tor/control".into())
    );
    assert!(matches!(
        plan(&["--control", "unix:control"], &Config::default()),
        Err(PlanError::Control(_))
    ));
}
