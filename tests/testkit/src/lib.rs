//! # torsocks-testkit
//!
//! What every torsocks-rs test above the unit tier stands on:
//!
//! * [`mock_tor`] — a mock of Tor's SOCKS port that records every request (command,
//!   address type, host, port, credentials, raw bytes) and misbehaves on demand.
//! * [`unix_front`] — the mock's SOCKS port on a Unix socket too (torrc's
//!   `SocksPort unix:PATH`), counting the connections that came through it.
//! * [`mock_control`] — a mock of Tor's ControlPort (authentication, bootstrap status,
//!   NEWNYM, ADD_ONION) that records every command.
//! * [`target_host`] — a private host in a network namespace the test creates (veth
//!   pair, 10.77.N.2), serving HTTP, TCP echo and a UDP sink that records datagrams.
//! * [`tornet`] — a private Tor network of real `tor` processes on loopback: three
//!   directory authorities that are also relays, two exits, an onion service and a
//!   client, confined by uid so that no tor process can reach beyond loopback and the
//!   test host.
//! * [`install`] — an installed torsocks-rs tree built by `packaging/install.sh`, so
//!   tests run the programs the way users do.
//! * [`output`] — a finished program's status and output, for assertion messages, and
//!   the assertion that a run failed with a given status and message.
//! * [`wait`] — bounded waits for events a test cannot be told of directly.
//! * [`inside`] — programs run inside the sandbox: servers reached from the host, a
//!   client of a list of destinations.
//! * [`sandbox`] — `torsocks-ns` root-run and rootless, and the same user outside.
//! * [`xvfb`] — a virtual X server for graphical programs, and its screenshots.
//! * [`require`] — how tests that need root, namespaces or a program skip on a
//!   developer's machine (saying why) and refuse to skip in CI.
//!
//! Network rule: nothing here ever sends a packet anywhere but loopback and the test's
//! own namespaces.

// A fixture that cannot set up fails the test that asked for it, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod http;
pub mod inside;
pub mod install;
pub mod mock_control;
pub mod mock_tor;
pub mod net;
pub mod output;
pub mod probe;
pub mod procfs;
pub mod require;
pub mod sandbox;
pub mod target_host;
pub mod tornet;
pub mod unix_front;
pub mod wait;
pub mod world;
pub mod xvfb;
