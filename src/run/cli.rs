//! The `torsocks-ns` command line.

use std::ffi::OsString;

use clap::Parser;

/// `--version`: the project's version and what it is built with.
macro_rules! long_version {
    ($embedded:literal) => {
        concat!(
            env!("CARGO_PKG_VERSION"),
            "\nsmoltcp ",
            env!("TORSOCKS_NS_SMOLTCP_VERSION"),
            "\nembedded Tor client: ",
            $embedded
        )
    };
}
#[cfg(feature = "embedded-tor")]
const LONG_VERSION: &str = long_version!("Arti (arti-client 0.47)");
#[cfg(not(feature = "embedded-tor"))]
const LONG_VERSION: &str = long_version!("not built in (Tor's SOCKS port is used)");

/// Run a program, or a shell, with all of its network traffic forced through Tor:
/// it lives in its own network namespace whose only way out is Tor.
#[derive(Debug, Parser)]
#[command(name = "torsocks-ns", version = env!("CARGO_PKG_VERSION"), long_version = LONG_VERSION)]
#[command(
    override_usage = "torsocks-ns [OPTIONS] [--] <COMMAND> [ARGS]...\n       torsocks-ns [OPTIONS] --shell"
)]
pub(crate) struct Args {
    /// Tor's SOCKS address (overrides TorAddress and TORSOCKS_TOR_ADDRESS).
    #[arg(
        help_heading = "Tor",
        short = 'a',
        long = "address",
        value_name = "ADDR"
    )]
    pub tor_address: Option<String>,

    /// Tor's SOCKS port (overrides TorPort and TORSOCKS_TOR_PORT).
    #[arg(help_heading = "Tor", short = 'P', long = "port", value_name = "PORT")]
    pub tor_port: Option<String>,

    /// Which Tor to use: `daemon` (Tor's SOCKS port), `embedded` (the Tor client built
    /// into torsocks-ns), or `auto`: the daemon when its SOCKS port answers as Tor, else the
    /// embedded client (-d says which). [default: TorClient, else daemon]
    #[arg(help_heading = "Tor", long = "tor", value_name = "KIND", value_enum)]
    pub tor_kind: Option<crate::tor::kind::TorKind>,

    /// Where the embedded Tor client keeps its state and directory cache [default:
    /// $XDG_STATE_HOME/torsocks-rs/arti and $XDG_CACHE_HOME/torsocks-rs/arti].
    #[arg(help_heading = "Tor", long, value_name = "DIR")]
    pub tor_state: Option<std::path::PathBuf>,

    /// An Arti configuration file (TOML) laid over the embedded client's defaults: a
    /// private network's authorities and fallbacks, bridges, path rules.
    #[arg(help_heading = "Tor", long, value_name = "FILE")]
    pub arti_config: Option<std::path::PathBuf>,

    /// Preload mode with the embedded client (what `torsocks --embedded` runs): no
    /// sandbox; COMMAND runs with LIB preloaded and pointed at the client's SOCKS port.
    #[arg(long, value_name = "LIB", hide = true, conflicts_with_all = ["shell", "check"])]
    pub preload: Option<std::path::PathBuf>,

    /// SOCKS5 username (overrides SOCKS5Username): every request carries these
    /// credentials as they are, so --isolate has no effect.
    #[arg(
        help_heading = "Tor",
        short = 'u',
        long = "socks-user",
        value_name = "NAME"
    )]
    pub username: Option<String>,

    /// SOCKS5 password (overrides SOCKS5Password).
    #[arg(help_heading = "Tor", short = 'p', long = "pass", value_name = "PASS")]
    pub password: Option<String>,

    /// Run the command as this user (needs root). A root-run's command is never host
    /// root: without --user it runs as nobody. Supplementary groups are dropped.
    #[arg(help_heading = "The sandbox", long = "user", value_name = "USER")]
    pub run_as: Option<String>,

    /// The home directory inside: `host` (yours, read-write, with its secret stores
    /// hidden; the default, but for a root-run as nobody), `private` (an empty one that
    /// goes away with the sandbox), or a directory kept for the sandbox.
    #[arg(help_heading = "The sandbox", long, value_name = "host|private|DIR")]
    pub home: Option<HomeArg>,

    /// A persistent identity: its own home, Tor client state and onion keys, under
    /// $XDG_DATA_HOME/torsocks-rs/profiles/NAME (created 0700).
    #[arg(
        help_heading = "The sandbox",
        long,
        value_name = "NAME",
        conflicts_with = "home"
    )]
    pub profile: Option<String>,

    /// Bind a host path into the sandbox, read-write, at DST (default: the same path).
    #[arg(help_heading = "The sandbox", long, value_name = "SRC[:DST]")]
    pub bind: Vec<String>,

    /// Bind a host path into the sandbox, read-only, at DST (default: the same path).
    #[arg(help_heading = "The sandbox", long, value_name = "SRC[:DST]")]
    pub ro_bind: Vec<String>,

    /// Hide this path inside the sandbox (an empty directory or file over it).
    #[arg(help_heading = "The sandbox", long, value_name = "PATH")]
    pub hide: Vec<std::path::PathBuf>,

    /// Expose one of the secret stores the default home hides (~/.ssh, ...), on purpose.
    #[arg(help_heading = "The sandbox", long, value_name = "PATH")]
    pub show: Vec<std::path::PathBuf>,

    /// Set a variable in the command's environment.
    #[arg(help_heading = "The sandbox", long, value_name = "VAR=VALUE")]
    pub setenv: Vec<String>,

    /// Give the command UTC as its time zone (TZ=UTC, /etc/localtime), not the host's.
    #[arg(help_heading = "The sandbox", long)]
    pub utc: bool,

    /// Let the command create user namespaces (at most 1024), as Chromium's own sandbox
    /// needs. Refused by default: they bring more of the kernel within its reach
    #[arg(help_heading = "The sandbox", long)]
    pub allow_userns: bool,

    /// The most processes and threads the command may have at once.
    #[arg(help_heading = "The sandbox", long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_procs: u64,

    /// The most address space each process may map (e.g. 4G; RLIMIT_AS). Unbounded by
    /// default: the sandbox is what the OOM killer takes first.
    #[arg(help_heading = "The sandbox", long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,

    /// Let the command inherit this fd (above 2); every other one is closed.
    #[arg(help_heading = "The sandbox", long = "keep-fd", value_name = "N", value_parser = clap::value_parser!(i32).range(3..))]
    pub keep_fd: Vec<i32>,

    /// Share this host Unix socket (or file) with the sandbox, at the same path. Whatever
    /// serves it acts outside the sandbox: only share what cannot reach the network.
    #[arg(
        help_heading = "The sandbox",
        long = "allow-socket",
        value_name = "PATH"
    )]
    pub allow_socket: Vec<std::path::PathBuf>,

    /// Share the X11 display (DISPLAY's socket, XAUTHORITY). X11 clients can read
    /// every key typed and every window shown on that display.
    #[arg(help_heading = "The sandbox", long)]
    pub x11: bool,

    /// Share the Wayland compositor (WAYLAND_DISPLAY's socket).
    #[arg(help_heading = "The sandbox", long)]
    pub wayland: bool,

    /// Share the ssh agent (SSH_AUTH_SOCK): the command can sign with your keys.
    #[arg(help_heading = "The sandbox", long)]
    pub ssh_agent: bool,

    /// Run the command in a session of its own even on a terminal (it then has no
    /// controlling terminal). Without a terminal on stdin, stdout or stderr, it always does.
    #[arg(help_heading = "The sandbox", long)]
    pub new_session: bool,

    /// Keep this variable of your environment (the command gets only a short list of
    /// them otherwise: see torsocks-ns(1)).
    #[arg(help_heading = "The sandbox", long = "keep-env", value_name = "VAR")]
    pub keep_env: Vec<OsString>,

    /// Which connections may share Tor circuits: `session` (the default) keeps this
    /// run's apart from everything else, `destination` gives each destination host and
    /// port circuits of its own, `connection` each connection, `none` shares circuits
    /// with every other client of Tor.
    #[arg(help_heading = "Tor", long, value_name = "MODE", value_enum)]
    pub isolate: Option<crate::tor::isolation::Mode>,

    /// The same as --isolate none.
    #[arg(help_heading = "Tor", long, conflicts_with = "isolate")]
    pub no_isolate: bool,

    /// The port of the sandbox's own SOCKS5 server, on 127.0.0.1 and ::1 inside the
    /// sandbox, for programs that speak SOCKS (curl with a socks5h:// proxy).
    #[arg(help_heading = "Services of the sandbox", long, value_name = "PORT", default_value_t = 9050, value_parser = clap::value_parser!(u16).range(1..))]
    pub socks_port: u16,

    /// No SOCKS port inside the sandbox.
    #[arg(help_heading = "Services of the sandbox", long)]
    pub no_socks_port: bool,

    /// Point programs at the sandbox's SOCKS port: ALL_PROXY and all_proxy are
    /// socks5h://127.0.0.1:PORT, NO_PROXY and no_proxy localhost,127.0.0.0/8,::1.
    #[arg(
        help_heading = "Services of the sandbox",
        long,
        conflicts_with = "no_socks_port"
    )]
    pub proxy_env: bool,

    /// Make a server inside the sandbox reachable from the host: HOST_PORT:SANDBOX_PORT
    /// (on 127.0.0.1) or HOST_ADDR:HOST_PORT:SANDBOX_PORT (IPv6 in brackets).
    /// Repeatable.
    #[arg(
        help_heading = "Services of the sandbox",
        long,
        value_name = "[ADDR:]PORT:PORT"
    )]
    pub publish: Vec<String>,

    /// Let --publish listen on addresses other than loopback.
    #[arg(help_heading = "Services of the sandbox", long)]
    pub publish_any: bool,

    /// Publish a server of the sandbox as an onion service: VIRTPORT:SANDBOX_PORT, or
    /// SANDBOX_PORT for the same port (repeatable: one service with every port). Needs
    /// Tor's ControlPort (--control).
    #[arg(
        help_heading = "Services of the sandbox",
        long,
        value_name = "[VIRTPORT:]PORT"
    )]
    pub onion_service: Vec<String>,

    /// Keep the onion service's key in FILE (created 0600 on the first run), so its
    /// address stays the same across runs. Without it the service is new each run.
    #[arg(
        help_heading = "Services of the sandbox",
        long,
        value_name = "FILE",
        requires = "onion_service"
    )]
    pub onion_key: Option<std::path::PathBuf>,

    /// Also write the onion service's address into FILE.
    #[arg(
        help_heading = "Services of the sandbox",
        long,
        value_name = "FILE",
        requires = "onion_service"
    )]
    pub onion_address_file: Option<std::path::PathBuf>,

    /// Tor's ControlPort, ADDR:PORT, PORT or unix:PATH (overrides TorControlPort;
    /// without either, Debian's /run/tor/control when it serves the same Tor).
    #[arg(help_heading = "Tor", long, value_name = "ADDR:PORT|unix:PATH")]
    pub control: Option<String>,

    /// The ControlPort's password (overrides TorControlPassword).
    #[arg(help_heading = "Tor", long, value_name = "PASS")]
    pub control_password: Option<String>,

    /// Tor's control auth cookie (overrides TorControlCookie).
    #[arg(
        help_heading = "Tor",
        long,
        value_name = "FILE",
        conflicts_with = "control_password"
    )]
    pub control_cookie: Option<std::path::PathBuf>,

    /// How long to wait for Tor to bootstrap, in seconds (the embedded client, or a
    /// daemon with a ControlPort).
    #[arg(help_heading = "Tor", long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub bootstrap_timeout: u64,

    /// Give every name a virtual address, so that connections carry the name to Tor
    /// (as .onion names always do).
    #[arg(help_heading = "Network and bounds", long)]
    pub automap: bool,

    /// The IPv4 range of virtual addresses for .onion and automapped names.
    #[arg(
        help_heading = "Network and bounds",
        long,
        value_name = "CIDR",
        default_value = "10.192.0.0/10"
    )]
    pub virtual_range: String,

    /// The most memory the connections' buffers may hold, all full at once (e.g. 512M,
    /// 2G): it sets the connection cap, or the buffer size when a cap is given.
    /// [default: 512M]
    #[arg(help_heading = "Network and bounds", long, value_name = "SIZE", value_parser = parse_size,
          default_value_t = crate::limits::DEFAULT_BUFFER_BUDGET, hide_default_value = true)]
    pub buffer_budget: u64,

    /// Buffer size per direction of each connection, in KiB (larger: faster bulk
    /// transfers, fewer connections within the budget).
    /// [default: 128, or less when --max-connections needs it]
    #[arg(help_heading = "Network and bounds", long, value_name = "KIB", value_parser = clap::value_parser!(u32).range(4..=16384))]
    pub buffer_kib: Option<u32>,

    /// The MTU of the sandbox's interface (larger: fewer packets per byte).
    #[arg(help_heading = "Network and bounds", long, value_name = "BYTES", default_value_t = 65520, value_parser = clap::value_parser!(u32).range(1280..=65520))]
    pub mtu: u32,

    /// The most connections open at once; more are refused.
    /// [default: as many as --buffer-budget holds with --buffer-kib buffers]
    #[arg(help_heading = "Network and bounds", long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// How long opening a connection through Tor may take, in seconds; then the
    /// program's connect is refused.
    /// [default: ConnectTimeout, else 120]
    #[arg(help_heading = "Tor", long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: Option<u64>,

    /// How long a name lookup through Tor may take, in seconds; then the answer is
    /// SERVFAIL.
    /// [default: ResolveTimeout, else 30]
    #[arg(help_heading = "Tor", long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub resolve_timeout: Option<u64>,

    /// After the program half-closes a connection (shuts its sending side down),
    /// keep the Tor stream open until the far side ends it or sends nothing for SECS
    /// seconds: Tor ends a stream at a half-close, which would lose the reply. 0
    /// passes the half-close on at once.
    #[arg(help_heading = "Tor", long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub half_close_wait: u64,

    /// The most DNS queries answered at once (over UDP and TCP); more get SERVFAIL.
    #[arg(help_heading = "Network and bounds", long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_dns_queries: u32,

    /// Print a summary of connections, DNS queries and dropped packets on exit.
    #[arg(help_heading = "Reports", long)]
    pub stats: bool,

    /// Report refused connections and other events on stderr.
    #[arg(help_heading = "Reports", short = 'd', long)]
    pub debug: bool,

    /// Check that Tor, the kernel and the sandbox are ready and hold: one line per
    /// check, ✓ or ✗; exit status 0 only when all pass.
    #[arg(help_heading = "Reports", long, conflicts_with_all = ["command", "shell"])]
    pub check: bool,

    /// Internal: the checks a test sandbox makes of itself.
    #[arg(long, value_name = "FD", hide = true, exclusive = true)]
    pub check_inside: Option<String>,

    /// Print a completion script for SHELL (bash, zsh, fish, ...) and exit.
    #[arg(long, value_name = "SHELL", hide = true, exclusive = true)]
    pub completions: Option<clap_complete::Shell>,

    /// Register the sandbox as NAME while it runs, for --join and --list.
    #[arg(help_heading = "Named sandboxes", long, value_name = "NAME")]
    pub name: Option<String>,

    /// Run the command (or the sandbox's shell) inside the running sandbox NAME (or
    /// the one whose launcher or PID 1 is PID): its namespaces, user, privileges and
    /// environment; its connections go through the same Tor session.
    #[arg(help_heading = "Named sandboxes", long, value_name = "NAME|PID",
          conflicts_with_all = ["name", "check", "shell"])]
    pub join: Option<String>,

    /// Give the network namespace of the running process PID (a rootless container,
    /// a toolbox, anything made with unshare) a Tor-only network until torsocks-ns
    /// ends: every interface but lo removed, tun0 added; afterwards it has no network.
    #[arg(help_heading = "Named sandboxes", long, value_name = "PID",
          value_parser = clap::value_parser!(i32).range(1..),
          conflicts_with_all = ["command", "shell", "check", "join", "name", "list",
                                "publish", "onion_service"])]
    pub attach: Option<i32>,

    /// List the running named sandboxes of this user.
    #[arg(help_heading = "Named sandboxes", long,
          conflicts_with_all = ["command", "shell", "check", "join", "name"])]
    pub list: bool,

    /// Start an interactive shell (${SHELL:-/bin/sh}) instead of a command.
    #[arg(long, conflicts_with = "command")]
    pub shell: bool,

    /// The program to run and its arguments.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        required_unless_present_any = ["shell", "check", "check_inside", "completions", "list", "join", "attach"]
    )]
    pub command: Vec<OsString>,
}

/// `--home`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HomeArg {
    Host,
    Private,
    Dir(std::path::PathBuf),
}

impl std::str::FromStr for HomeArg {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<HomeArg, BadValue> {
        match s {
            "host" => Ok(HomeArg::Host),
            "private" => Ok(HomeArg::Private),
            dir if dir.starts_with('/') => Ok(HomeArg::Dir(dir.into())),
            other => Err(BadValue {
                value: other.to_string(),
                expected: "host, private or an absolute directory",
            }),
        }
    }
}

/// A value an option does not take (clap names the option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadValue {
    value: String,
    expected: &'static str,
}

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.expected {
            SIZE => write!(f, "{:?}: expected {SIZE}", self.value),
            expected => write!(f, "expected {expected}, not {:?}", self.value),
        }
    }
}

impl std::error::Error for BadValue {}

/// What a size looks like.
const SIZE: &str = "a size such as 512M or 4G";

/// A size in bytes: a number with an optional K, M, G or T (powers of 1024).
pub(crate) fn parse_size(text: &str) -> Result<u64, BadValue> {
    let bad = || BadValue {
        value: text.to_string(),
        expected: SIZE,
    };
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(bad)
}

impl Args {
    /// The isolation mode the options ask for (None when they name none).
    pub(crate) fn isolation_mode(&self) -> Option<crate::tor::isolation::Mode> {
        if self.no_isolate {
            Some(crate::tor::isolation::Mode::None)
        } else {
            self.isolate
        }
    }

    /// argv of what to run.
    pub(crate) fn argv(&self) -> Vec<OsString> {
        if self.shell {
            vec![std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into())]
        } else {
            self.command.clone()
        }
    }
}
