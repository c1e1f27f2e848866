//! The sandbox as the options and the host's facts make it: what to run, with which
//! environment and fds, the mounts (masked directories, host sockets, shared paths,
//! generated files) and the user to run as. Read on the host, before the sandbox
//! exists; [`crate::ns`] then builds it.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::cli;
use crate::ns::{self, policy};

/// The sandbox as the options and the host's facts make it.
pub(crate) fn sandbox_spec(
    args: &cli::Args,
    net: ns::NetPlan,
    dns: Ipv4Addr,
) -> Result<ns::Spec, String> {
    let opt_ins = policy::OptIns {
        sockets: args.allow_socket.clone(),
        x11: args.x11,
        wayland: args.wayland,
        ssh_agent: args.ssh_agent,
        keep_env: args.keep_env.clone(),
    };
    let shares =
        policy::shares(&opt_ins, |name| std::env::var_os(name)).map_err(|e| e.to_string())?;
    for path in &shares.binds {
        if let Err(e) = std::fs::metadata(path) {
            return Err(format!("cannot share {}: {e}", path.display()));
        }
    }
    for &fd in &args.keep_fd {
        if !Path::new(&format!("/proc/self/fd/{fd}")).exists() {
            return Err(format!("--keep-fd {fd}: no such open file descriptor"));
        }
    }
    let mut env = policy::scrub_env(std::env::vars_os(), &shares.keep_env);
    let socks_port = (!args.no_socks_port).then_some(args.socks_port);
    if let (true, Some(port)) = (args.proxy_env, socks_port) {
        policy::point_at_socks_port(&mut env, port);
    }
    let run_as = match &args.run_as {
        None => None,
        Some(name) => {
            let (run_as, home) = user_named(name)?;
            env.retain(|(k, _)| !["HOME", "USER", "LOGNAME"].iter().any(|v| k == *v));
            env.push(("HOME".into(), home.into_os_string()));
            env.push(("USER".into(), name.into()));
            env.push(("LOGNAME".into(), name.into()));
            Some(run_as)
        }
    };
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute());
    let masked_dirs = policy::masked_dirs(runtime_dir.as_deref());
    let argv = args.argv();
    let mut binds = shares.binds;
    for path in policy::named_paths(
        &argv,
        std::env::var_os("PATH").as_deref(),
        &masked_dirs,
        |p| std::fs::metadata(p).is_ok_and(|m| m.is_file() || m.is_dir()),
    ) {
        if !binds.contains(&path) {
            binds.push(path);
        }
    }
    let resolv = PathBuf::from("/etc/resolv.conf");
    let mounts = ns::MountPlan {
        masked_dirs,
        host_sockets: std::fs::read("/proc/net/unix")
            .map(|table| policy::unix_socket_paths(&table))
            .unwrap_or_default(),
        binds,
        cwd: std::env::current_dir().ok(),
        runtime_dir,
        resolv_target: link_target(&resolv),
        resolv: policy::resolv_conf(dns),
        nsswitch: std::fs::read_to_string("/etc/nsswitch.conf")
            .ok()
            .map(|host| policy::nsswitch_conf(&host)),
    };
    // On a terminal the command stays in its session, for job control; otherwise it
    // gets a session of its own, and kill(0) reaches nothing of the caller's job.
    use std::io::IsTerminal;
    let on_a_terminal = std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal();
    Ok(ns::Spec {
        argv,
        env,
        keep_fds: args.keep_fd.clone(),
        net,
        mounts,
        run_as,
        new_session: args.new_session || !on_a_terminal,
        socks_port,
    })
}

/// The file `path` ends at after its symlinks, whether or not that file exists (a
/// systemd-resolved `/etc/resolv.conf` points into /run, which the sandbox replaces,
/// so the mount must cover the link's target, created there).
fn link_target(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        let Ok(next) = std::fs::read_link(&current) else {
            break;
        };
        current = match current.parent() {
            Some(dir) if next.is_relative() => dir.join(next),
            _ => next,
        };
    }
    // `..` and `.` resolved by the text (the target's directories may not exist).
    let mut clean = PathBuf::new();
    for part in current.components() {
        match part {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    clean
}

/// `--user NAME`: the user's ids and home; root only.
fn user_named(name: &str) -> Result<(ns::RunAs, PathBuf), String> {
    if !nix::unistd::getuid().is_root() {
        return Err(format!(
            "--user {name}: only root can run the command as another user"
        ));
    }
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| format!("--user {name}: {e}"))?
        .ok_or_else(|| format!("--user {name}: no such user"))?;
    Ok((
        ns::RunAs {
            uid: user.uid,
            gid: user.gid,
        },
        user.dir,
    ))
}
