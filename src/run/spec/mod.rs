//! The sandbox as the options and the host's facts make it: what to run, as whom, with
//! which environment and fds, the file system (its plan: [`crate::ns::plan`]) and the
//! bounds. Read on the host, before the sandbox exists; [`crate::ns`] then builds it.

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::ns::plan::{self, Entry, Home, HostFacts, Request, UserBind};
use crate::ns::{self, policy};
use crate::run::cli;

mod error;
pub(crate) use error::{SpecError, UserProblem};

/// The user a root-run's command is when no `--user` is given.
const NOBODY: u32 = 65534;

/// The sandbox as the options and the host's facts make it.
pub(crate) fn sandbox_spec(
    args: &cli::Args,
    net: ns::NetPlan,
    dns: Ipv4Addr,
    launcher_files: Vec<PathBuf>,
) -> Result<ns::Spec, SpecError> {
    let opt_ins = policy::OptIns {
        sockets: args.allow_socket.clone(),
        x11: args.x11,
        wayland: args.wayland,
        ssh_agent: args.ssh_agent,
        keep_env: args.keep_env.clone(),
    };
    let shares =
        policy::shares(&opt_ins, |name| std::env::var_os(name)).map_err(SpecError::OptIn)?;
    for path in &shares.binds {
        if let Err(source) = std::fs::metadata(path) {
            return Err(SpecError::Share {
                path: path.clone(),
                source,
            });
        }
    }
    for &fd in &args.keep_fd {
        if !Path::new(&format!("/proc/self/fd/{fd}")).exists() {
            return Err(SpecError::NoSuchFd(fd));
        }
    }
    let user = command_user(args)?;
    let request = request(args, &user, &shares.binds, launcher_files)?;
    let env = environment(args, &user, &shares.keep_env, &request)?;
    let facts = host_facts(dns, &user);
    // On a terminal the command stays in its session, for job control; otherwise it
    // gets a session of its own, and kill(0) reaches nothing of the caller's job.
    use std::io::IsTerminal;
    let on_a_terminal = std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal();
    Ok(ns::Spec {
        argv: args.argv(),
        env,
        keep_fds: args.keep_fd.clone(),
        net,
        mounts: plan::plan(&request, &facts),
        run_as: user.ids,
        bounds: ns::harden::Bounds {
            max_procs: args.max_procs,
            memory: args.memory,
        },
        new_session: args.new_session || !on_a_terminal,
        socks_port: (!args.no_socks_port).then_some(args.socks_port),
        allow_userns: args.allow_userns,
    })
}

/// Whom the command runs as.
struct CommandUser {
    ids: ns::RunAs,
    name: String,
    /// Its home directory as its account names it.
    home: PathBuf,
    /// Whether it is the caller.
    caller: bool,
}

/// The caller (rootless), `--user`, or for a root-run nobody: never host root.
fn command_user(args: &cli::Args) -> Result<CommandUser, SpecError> {
    let root = nix::unistd::getuid().is_root();
    match (&args.run_as, root) {
        (Some(name), false) => Err(SpecError::User {
            name: name.clone(),
            why: UserProblem::NotRoot,
        }),
        (Some(name), true) => named_user(name),
        (None, true) => {
            let account = local_account(NOBODY);
            Ok(CommandUser {
                ids: ns::RunAs {
                    uid: NOBODY.into(),
                    gid: account.as_ref().map_or(NOBODY, |a| a.gid).into(),
                },
                name: account.map_or_else(|| "nobody".into(), |a| a.name),
                home: PathBuf::from("/home/nobody"),
                caller: false,
            })
        }
        (None, false) => Ok(the_caller()),
    }
}

/// `--user NAME` (looked up as the system does: it may be a directory user).
fn named_user(name: &str) -> Result<CommandUser, SpecError> {
    let problem = |why| SpecError::User {
        name: name.to_string(),
        why,
    };
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| problem(UserProblem::Lookup(e)))?
        .ok_or_else(|| problem(UserProblem::NoSuchUser))?;
    if user.uid.is_root() {
        return Err(problem(UserProblem::Root));
    }
    Ok(CommandUser {
        ids: ns::RunAs {
            uid: user.uid,
            gid: user.gid,
        },
        name: user.name,
        home: user.dir,
        caller: false,
    })
}

/// An unprivileged caller, who stays itself.
fn the_caller() -> CommandUser {
    let uid = nix::unistd::getuid();
    let account = local_account(uid.as_raw());
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .or_else(|| account.as_ref().map(|a| a.home.clone()))
        .unwrap_or_else(|| PathBuf::from("/"));
    let name = std::env::var("USER")
        .ok()
        .or_else(|| account.map(|a| a.name))
        .unwrap_or_else(|| uid.to_string());
    CommandUser {
        ids: ns::RunAs {
            uid,
            gid: nix::unistd::getgid(),
        },
        name,
        home,
        caller: true,
    }
}

/// `uid`'s account in `/etc/passwd`.
fn local_account(uid: u32) -> Option<policy::Account> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    policy::account(&passwd, uid)
}

/// `--home` and `--profile`, with the default: your home, but for a root-run as nobody.
fn home_policy(args: &cli::Args, user: &CommandUser, has_home: bool) -> Result<Home, SpecError> {
    let home = match &args.home {
        Some(cli::HomeArg::Private) => Home::Private,
        Some(cli::HomeArg::Dir(dir)) => Home::Dir(private_dir(dir)?),
        Some(cli::HomeArg::Host) if !has_home => return Err(SpecError::NoHome(user.name.clone())),
        Some(cli::HomeArg::Host) => Home::Host,
        None if has_home && (user.caller || args.run_as.is_some()) => Home::Host,
        None => Home::Private,
    };
    let home = match &args.profile {
        Some(name) => Home::Dir(profile_dir(name)?.join("home")),
        None => home,
    };
    Ok(home)
}

/// What the options ask of the file system.
fn request(
    args: &cli::Args,
    user: &CommandUser,
    opt_in_binds: &[PathBuf],
    launcher_files: Vec<PathBuf>,
) -> Result<Request, SpecError> {
    let has_home = user.home.parent().is_some() && user.home.is_dir();
    let home = home_policy(args, user, has_home)?;
    let mut binds: Vec<UserBind> = opt_in_binds
        .iter()
        .map(|p| UserBind {
            from: p.clone(),
            at: p.clone(),
            read_only: false,
        })
        .collect();
    for (spec, read_only) in args
        .bind
        .iter()
        .map(|b| (b, false))
        .chain(args.ro_bind.iter().map(|b| (b, true)))
    {
        binds.push(user_bind(spec, read_only)?);
    }
    let argv = args.argv();
    let named = policy::named_paths(&argv, std::env::var_os("PATH").as_deref(), |p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() || m.is_dir())
    });
    let absolute = |p: &PathBuf| p.is_absolute();
    Ok(Request {
        home_path: user.home.clone(),
        host_home: has_home.then(|| user.home.clone()),
        home,
        cwd: std::env::current_dir().ok(),
        named,
        binds,
        hide: args.hide.iter().filter(|p| absolute(p)).cloned().collect(),
        show: args.show.iter().map(|p| canonical_or_same(p)).collect(),
        launcher_files: launcher_files
            .iter()
            .flat_map(|p| [p.clone(), canonical_or_same(p)])
            .collect(),
        runtime_dir: std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute()),
        utc: args.utc,
        allow_userns: args.allow_userns,
    })
}

fn canonical_or_same(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `--bind SRC[:DST]`: both absolute; SRC must exist.
fn user_bind(spec: &str, read_only: bool) -> Result<UserBind, SpecError> {
    let option = if read_only { "--ro-bind" } else { "--bind" };
    let (from, at) = match spec.split_once(':') {
        Some((from, at)) => (PathBuf::from(from), PathBuf::from(at)),
        None => (PathBuf::from(spec), PathBuf::from(spec)),
    };
    if !from.is_absolute() || !at.is_absolute() {
        return Err(SpecError::Bind {
            option,
            spec: spec.to_string(),
            source: None,
        });
    }
    let from = std::fs::canonicalize(&from).map_err(|e| SpecError::Bind {
        option,
        spec: spec.to_string(),
        source: Some((from.clone(), e)),
    })?;
    Ok(UserBind {
        from,
        at,
        read_only,
    })
}

/// A directory of the user's for the sandbox: made 0700 when missing; never a link.
fn private_dir(dir: &Path) -> Result<PathBuf, SpecError> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(SpecError::NotADirectory(dir.to_path_buf())),
        Err(_) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| SpecError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?,
    }
    std::fs::canonicalize(dir).map_err(|source| SpecError::Resolve {
        path: dir.to_path_buf(),
        source,
    })
}

/// `--profile NAME`: `$XDG_DATA_HOME/torsocks-rs/profiles/NAME`, made 0700.
pub(crate) fn profile_dir(name: &str) -> Result<PathBuf, SpecError> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !valid {
        return Err(SpecError::ProfileName(name.to_string()));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute())
                .map(|h| h.join(".local/share"))
        })
        .ok_or(SpecError::ProfileNeedsHome)?;
    let dir = private_dir(&data.join("torsocks-rs/profiles").join(name))?;
    private_dir(&dir.join("home"))?;
    Ok(dir)
}

/// The command's environment, from an allow-list.
fn environment(
    args: &cli::Args,
    user: &CommandUser,
    keep: &[OsString],
    request: &Request,
) -> Result<Vec<(OsString, OsString)>, SpecError> {
    let mut set: Vec<(OsString, OsString)> = Vec::new();
    for pair in &args.setenv {
        match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => set.push((name.into(), value.into())),
            _ => return Err(SpecError::SetEnv(pair.clone())),
        }
    }
    let mut env = policy::sandbox_env(std::env::vars_os(), keep, &[]);
    policy::set_var(&mut env, "HOME", request.home_path.as_os_str());
    if !user.caller {
        policy::set_var(&mut env, "USER", &user.name);
        policy::set_var(&mut env, "LOGNAME", &user.name);
    }
    if let Some(runtime) = &request.runtime_dir {
        policy::set_var(&mut env, "XDG_RUNTIME_DIR", runtime.as_os_str());
    }
    if args.utc {
        policy::set_var(&mut env, "TZ", "UTC");
    }
    if let (true, false) = (args.proxy_env, args.no_socks_port) {
        policy::point_at_socks_port(&mut env, args.socks_port);
    }
    for (name, value) in set {
        policy::set_var(&mut env, name, value);
    }
    Ok(env)
}

/// What the plan needs to know of the host.
fn host_facts(dns: Ipv4Addr, user: &CommandUser) -> HostFacts {
    let resolv = Path::new(policy::RESOLV_CONF);
    let (uid, gid) = (user.ids.uid.as_raw(), user.ids.gid.as_raw());
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let mut etc_files = vec![
        (
            PathBuf::from("/etc/hostname"),
            format!("{}\n", policy::HOSTNAME),
        ),
        (PathBuf::from("/etc/hosts"), policy::hosts_file()),
        (resolv.to_path_buf(), policy::resolv_conf(dns)),
        (
            PathBuf::from("/etc/machine-id"),
            policy::MACHINE_ID.to_string(),
        ),
        (
            PathBuf::from("/etc/passwd"),
            policy::id_file(&read("/etc/passwd"), &[0, uid, NOBODY]),
        ),
        (
            PathBuf::from("/etc/group"),
            policy::id_file(&read("/etc/group"), &[0, gid, NOBODY]),
        ),
    ];
    if let Ok(host) = std::fs::read_to_string("/etc/nsswitch.conf") {
        etc_files.push(("/etc/nsswitch.conf".into(), policy::nsswitch_conf(&host)));
    }
    HostFacts {
        system: system_entries(),
        resolv_target: link_target(resolv),
        etc_files,
        etc_identifiers: files_starting("/etc/ssh", "ssh_host_"),
        disk_identifiers: disk_identifiers(),
        foreign_mounts: policy::foreign_mounts(&read("/proc/self/mountinfo")),
        host_sockets: std::fs::read("/proc/net/unix")
            .map(|table| policy::unix_socket_paths(&table))
            .unwrap_or_default(),
    }
}

/// The system directories present on the host, links as links.
fn system_entries() -> Vec<(PathBuf, Entry)> {
    policy::SYSTEM_DIRS
        .iter()
        .map(PathBuf::from)
        .filter_map(|path| {
            let meta = std::fs::symlink_metadata(&path).ok()?;
            let entry = match meta.file_type().is_symlink() {
                true => Entry::Symlink(std::fs::read_link(&path).ok()?),
                false if meta.is_dir() => Entry::Dir,
                false => return None,
            };
            Some((path, entry))
        })
        .collect()
}

fn files_starting(dir: &str, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .as_encoded_bytes()
                .starts_with(prefix.as_bytes())
        })
        .map(|e| e.path())
        .collect()
}

/// The sysfs files of the host's block devices that identify the disks.
fn disk_identifiers() -> Vec<PathBuf> {
    let Ok(devices) = std::fs::read_dir("/sys/class/block") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for device in devices.flatten() {
        for name in policy::DISK_IDENTIFIERS {
            let path = device.path().join(name);
            if path.exists() {
                found.push(path);
            }
        }
    }
    found
}

/// The file `path` ends at after its symlinks, whether or not that file exists (a
/// systemd-resolved `/etc/resolv.conf` points into /run, which the sandbox replaces,
/// so the file must be made where the link leads).
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

/// `--profile NAME` fills in what it keeps: the embedded client's state and the onion
/// service's key, each in the profile (unless given).
pub(crate) fn apply_profile(args: &mut cli::Args) -> Result<(), SpecError> {
    let Some(name) = args.profile.clone() else {
        return Ok(());
    };
    let dir = profile_dir(&name)?;
    args.tor_state.get_or_insert_with(|| dir.join("tor"));
    if !args.onion_service.is_empty() {
        args.onion_key.get_or_insert_with(|| dir.join("onion-key"));
    }
    Ok(())
}

/// The files the launcher reads for itself (keys, cookies, configurations, the
/// embedded client's state and cache): never visible inside.
pub(crate) fn launcher_files(
    args: &cli::Args,
    config: &torsocks_core::config::Config,
) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = [
        &args.tor_state,
        &args.arti_config,
        &args.onion_key,
        &args.control_cookie,
        &config.control_cookie,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    if let Some(conf) = std::env::var_os("TORSOCKS_CONF_FILE") {
        files.push(conf.into());
    }
    let xdg = |var: &str, fallback: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|d| d.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)))
            .map(|base| base.join("torsocks-rs"))
    };
    files.extend(xdg("XDG_STATE_HOME", ".local/state"));
    files.extend(xdg("XDG_CACHE_HOME", ".cache"));
    files.extend(xdg("XDG_DATA_HOME", ".local/share"));
    files.retain(|f| f.is_absolute() && f != Path::new("/dev/null"));
    files
}

/// The file-system and process policy a run with `args` gets, one line each, for
/// `--check` and `-d`.
pub(crate) fn describe(args: &cli::Args) -> Result<Vec<String>, SpecError> {
    let user = command_user(args)?;
    let request = request(args, &user, &[], Vec::new())?;
    let who = match (user.caller, nix::unistd::getuid().is_root()) {
        (true, _) => format!(
            "the command runs as you ({}, uid {})",
            user.name, user.ids.uid
        ),
        (false, true) => format!(
            "the command runs as {} (uid {}), never as host root",
            user.name, user.ids.uid
        ),
        (false, false) => format!("the command runs as {}", user.name),
    };
    let home = match (&args.profile, &request.home) {
        (Some(name), _) => format!("home: profile {name} (none of your files)"),
        (None, Home::Host) => format!(
            "home: yours ({}), read-write, {} secret stores and torsocks-rs's own files hidden \
             (--show exposes one)",
            request.home_path.display(),
            policy::SECRET_STORES.len()
        ),
        (None, Home::Private) => "home: private, empty, gone with the sandbox".to_string(),
        (None, Home::Dir(dir)) => format!("home: {} (none of your other files)", dir.display()),
    };
    let memory = match args.memory {
        Some(bytes) => format!("{} MiB of address space per process", bytes >> 20),
        None => "no bound on memory per process".to_string(),
    };
    let clocks = match std::path::Path::new("/proc/self/ns/time").exists() {
        true => "a boot time of its own (time namespace)",
        false => "the host's boot time (this kernel has no time namespaces)",
    };
    Ok(vec![
        who,
        "new root: system directories read-only, private /tmp /run /var /dev/shm, a minimal \
         /dev, its own /proc and /sys, nothing else of the host's mounts"
            .to_string(),
        home,
        format!(
            "environment: {} and LC_*, plus --keep-env/--setenv and opt-ins",
            policy::KEPT_ENV.join(" ")
        ),
        format!(
            "bounds: at most {} processes (RLIMIT_NPROC), {memory}; the sandbox is the OOM \
             killer's first choice; no cgroup of its own",
            args.max_procs
        ),
        clocks.to_string(),
        match args.allow_userns {
            false => "no user namespace inside (clone and unshare refuse CLONE_NEWUSER)",
            true => {
                "user namespaces inside (--allow-userns), at most 1024: more of the kernel \
                 within the command's reach"
            }
        }
        .to_string(),
    ])
}
