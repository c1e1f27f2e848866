use super::*;

fn facts() -> HostFacts {
    HostFacts {
        system: vec![
            ("/usr".into(), Entry::Dir),
            ("/bin".into(), Entry::Symlink("usr/bin".into())),
            ("/etc".into(), Entry::Dir),
        ],
        resolv_target: "/run/systemd/resolve/stub-resolv.conf".into(),
        etc_files: vec![
            ("/etc/hostname".into(), "localhost\n".into()),
            ("/etc/resolv.conf".into(), "nameserver 10.241.0.1\n".into()),
        ],
        etc_identifiers: vec!["/etc/ssh/ssh_host_ed25519_key.pub".into()],
        disk_identifiers: vec!["/sys/class/block/sda/device/serial".into()],
        foreign_mounts: vec!["/home/u/sshfs".into(), "/mnt/nfs".into()],
        host_sockets: vec!["/home/u/app.sock".into(), "/tmp/.X11-unix/X0".into()],
    }
}

fn request(home: Home) -> Request {
    Request {
        home,
        home_path: "/home/u".into(),
        host_home: Some("/home/u".into()),
        cwd: Some("/home/u/src".into()),
        named: Vec::new(),
        binds: Vec::new(),
        hide: Vec::new(),
        show: Vec::new(),
        launcher_files: Vec::new(),
        runtime_dir: Some("/run/user/1000".into()),
        utc: false,
        allow_userns: false,
    }
}

fn binds(plan: &Plan) -> Vec<(&Path, &Path, Access, bool)> {
    plan.ops
        .iter()
        .filter_map(|op| match op {
            Op::Bind {
                from,
                at,
                access,
                make,
                ..
            } => Some((from.as_path(), at.as_path(), *access, *make)),
            _ => None,
        })
        .collect()
}

fn hidden(plan: &Plan) -> Vec<&Path> {
    plan.ops
        .iter()
        .filter_map(|op| match op {
            Op::Hide { at } => Some(at.as_path()),
            _ => None,
        })
        .collect()
}

fn has(plan: &Plan, op: &Op) -> bool {
    plan.ops.contains(op)
}

#[test]
fn only_what_is_given_is_bound_from_the_host() {
    let plan = plan(&request(Home::Host), &facts());
    let from: Vec<&Path> = binds(&plan).iter().map(|b| b.0).collect();
    let devices: Vec<PathBuf> = policy::DEVICES
        .iter()
        .map(|d| Path::new("/dev").join(d))
        .collect();
    for path in &from {
        let allowed = [Path::new("/usr"), Path::new("/etc"), Path::new("/home/u")].contains(path)
            || devices.iter().any(|d| d == path);
        assert!(allowed, "{} is bound", path.display());
    }
    assert!(
        !from.contains(&Path::new("/home/u/src")),
        "the working directory is in the home already"
    );
    for (from, at, access, _) in binds(&plan) {
        assert_eq!(from, at);
        let expected = match from.to_str().unwrap() {
            "/usr" | "/etc" => Access::ReadOnly,
            "/home/u" => Access::ReadWrite,
            _ => Access::Device,
        };
        assert_eq!(access, expected, "{}", from.display());
    }
    assert!(has(
        &plan,
        &Op::Symlink {
            at: "/bin".into(),
            to: "usr/bin".into()
        }
    ));
    assert_eq!(plan.cwd, Path::new("/home/u/src"));
}

#[test]
fn dev_proc_and_sys_are_the_sandboxs_own() {
    let plan = plan(&request(Home::Private), &facts());
    assert!(has(
        &plan,
        &Op::Devpts {
            at: "/dev/pts".into()
        }
    ));
    assert!(has(&plan, &Op::Proc { at: "/proc".into() }));
    assert!(has(&plan, &Op::Sysfs { at: "/sys".into() }));
    let hidden = hidden(&plan);
    for path in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/sys/firmware",
        "/sys/class/block/sda/device/serial",
        "/etc/fstab",
        "/etc/ssh/ssh_host_ed25519_key.pub",
    ] {
        assert!(hidden.contains(&Path::new(path)), "{path} is not hidden");
    }
    let read_only = |at: &str| has(&plan, &Op::ReadOnly { at: at.into() });
    assert!(read_only("/proc/sys") && read_only("/proc/sysrq-trigger"));
    // The generated files go in before /proc/sys turns read-only.
    let position = |wanted: &Op| plan.ops.iter().position(|op| op == wanted).unwrap();
    let user_ns = plan
        .ops
        .iter()
        .position(|op| matches!(op, Op::Write { at, .. } if at.ends_with("max_user_namespaces")))
        .unwrap();
    assert!(
        user_ns
            < position(&Op::ReadOnly {
                at: "/proc/sys".into()
            })
    );
}

#[test]
fn user_namespaces_inside_are_none_unless_allowed_and_then_bounded() {
    let limit = |allow_userns: bool| {
        let request = Request {
            allow_userns,
            ..request(Home::Private)
        };
        plan(&request, &facts())
            .ops
            .into_iter()
            .find_map(|op| match op {
                Op::Write { at, value } if at.ends_with("max_user_namespaces") => Some(value),
                _ => None,
            })
    };
    assert_eq!(limit(false).as_deref(), Some("0"));
    assert_eq!(limit(true), Some(policy::MAX_NESTED_USERNS.to_string()));
}

#[test]
fn generated_files_follow_links_into_the_sandboxs_run() {
    let plan = plan(&request(Home::Private), &facts());
    let file = |at: &str| {
        plan.ops.iter().find_map(|op| match op {
            Op::File { at: a, make, .. } if a == Path::new(at) => Some(*make),
            _ => None,
        })
    };
    assert_eq!(
        file("/run/systemd/resolve/stub-resolv.conf"),
        Some(true),
        "made in the sandbox's /run"
    );
    assert_eq!(file("/etc/resolv.conf"), None);
    assert_eq!(
        file("/etc/hostname"),
        Some(false),
        "never made in the host's /etc"
    );
    let run = plan
        .ops
        .iter()
        .position(|op| matches!(op, Op::Tmpfs { at, .. } if at == Path::new("/run")))
        .unwrap();
    let resolv = plan
        .ops
        .iter()
        .position(|op| matches!(op, Op::File { at, .. } if at.starts_with("/run/systemd")))
        .unwrap();
    assert!(run < resolv, "the tmpfs would cover the file");
    assert!(has(
        &plan,
        &Op::Dir {
            at: "/run/user/1000".into(),
            mode: 0o700
        }
    ));
}

#[test]
fn secret_stores_and_the_launchers_files_are_hidden_unless_shown() {
    let mut asked = request(Home::Host);
    asked.launcher_files = vec![
        "/home/u/.local/state/torsocks-rs".into(),
        "/srv/keys/onion.key".into(),
    ];
    asked.show = vec!["/home/u/.gnupg".into()];
    asked.binds = vec![UserBind {
        from: "/srv/keys".into(),
        at: "/keys".into(),
        read_only: true,
    }];
    let plan = plan(&asked, &facts());
    let hidden = hidden(&plan);
    for path in [
        "/home/u/.ssh",
        "/home/u/.bash_history",
        "/home/u/.local/state/torsocks-rs",
        "/keys/onion.key",
        "/home/u/sshfs",
    ] {
        assert!(hidden.contains(&Path::new(path)), "{path} is not hidden");
    }
    assert!(!hidden.contains(&Path::new("/home/u/.gnupg")), "--show");
    assert!(
        !hidden.contains(&Path::new("/srv/keys/onion.key")),
        "/srv is not there"
    );
    assert!(
        !hidden.contains(&Path::new("/mnt/nfs")),
        "/mnt is not there"
    );
}

#[test]
fn a_home_of_its_own_shows_none_of_the_callers() {
    let mut asked = request(Home::Dir(
        "/home/u/.local/share/torsocks-rs/profiles/p/home".into(),
    ));
    asked.cwd = Some("/".into());
    let private = plan(&request(Home::Private), &facts());
    let plan = plan(&asked, &facts());
    assert!(hidden(&plan).iter().all(|h| !h.starts_with("/home/u/.ssh")));
    assert!(binds(&plan).iter().all(|b| b.0 != Path::new("/home/u")));
    assert_eq!(plan.cwd, Path::new("/home/u"), "/ is never shared");
    assert!(has(
        &private,
        &Op::Tmpfs {
            at: "/home/u".into(),
            mode: 0o700
        }
    ));
    assert!(
        binds(&private).iter().all(|b| !b.0.starts_with("/home/u")),
        "not even the working directory in the caller's home"
    );
    assert_eq!(private.cwd, Path::new("/home/u"));
}

#[test]
fn the_working_directory_and_named_paths_only_where_not_already_there() {
    let mut asked = request(Home::Private);
    asked.cwd = Some("/var/tmp/build".into());
    asked.named = vec![
        "/var/tmp/build/prog".into(),
        "/usr/bin/python3".into(),
        "/tmp".into(),
        "/srv/data".into(),
    ];
    let plan = plan(&asked, &facts());
    let bound: Vec<&Path> = binds(&plan).iter().map(|b| b.0).collect();
    assert!(bound.contains(&Path::new("/var/tmp/build")));
    assert!(bound.contains(&Path::new("/srv/data")));
    assert!(
        !bound.contains(&Path::new("/var/tmp/build/prog")),
        "inside the cwd"
    );
    assert!(!bound.contains(&Path::new("/usr/bin/python3")), "in /usr");
    assert!(!bound.contains(&Path::new("/tmp")), "a top-level directory");
    assert_eq!(plan.cwd, Path::new("/var/tmp/build"));
}

#[test]
fn mount_points_are_never_made_in_a_host_directory() {
    let mut asked = request(Home::Host);
    asked.binds = vec![
        UserBind {
            from: "/srv/data".into(),
            at: "/home/u/data".into(),
            read_only: false,
        },
        UserBind {
            from: "/srv/other".into(),
            at: "/data".into(),
            read_only: true,
        },
    ];
    let plan = plan(&asked, &facts());
    let make = |at: &str| {
        binds(&plan)
            .iter()
            .find(|b| b.1 == Path::new(at))
            .unwrap()
            .3
    };
    assert!(!make("/home/u/data"), "inside the caller's own home");
    assert!(make("/data"), "in the new root's tmpfs");
}

#[test]
fn opted_in_sockets_stay_reachable() {
    let mut asked = request(Home::Host);
    asked.binds = vec![UserBind {
        from: "/tmp/.X11-unix/X0".into(),
        at: "/tmp/.X11-unix/X0".into(),
        read_only: false,
    }];
    let plan = plan(&asked, &facts());
    let Some(Op::HideSockets { paths }) = plan.ops.last() else {
        panic!("the socket layer comes last");
    };
    assert_eq!(paths, &[PathBuf::from("/home/u/app.sock")]);
    assert!(binds(&plan)
        .iter()
        .any(|b| b.1 == Path::new("/tmp/.X11-unix/X0") && b.3));
}

#[test]
fn utc_replaces_the_time_zone() {
    let mut asked = request(Home::Private);
    assert!(!binds(&plan(&asked, &facts()))
        .iter()
        .any(|b| b.1 == Path::new("/etc/localtime")));
    asked.utc = true;
    let plan = plan(&asked, &facts());
    assert!(
        binds(&plan)
            .iter()
            .any(|b| b.0 == Path::new("/usr/share/zoneinfo/UTC")
                && b.1 == Path::new("/etc/localtime"))
    );
}
