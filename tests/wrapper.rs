//! The `torsocks` wrapper (spec §7, W-1..W-11): options, sub-commands, sourcing in
//! bash and dash, refusals and the static-binary warning.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in a test, a panic is the failure report

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use torsocks_testkit::install::{self, bin, library};
use torsocks_testkit::output::assert_fails;
use torsocks_testkit::require;

fn torsocks(args: &[&str]) -> Output {
    Command::new(bin("torsocks"))
        .args(args)
        .env_remove("LD_PRELOAD")
        .output()
        .expect("run torsocks")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn shell(shell: &str, script: &str) -> Output {
    Command::new(shell)
        .args(["-c", script])
        .env_remove("LD_PRELOAD")
        .env(
            "PATH",
            format!(
                "{}:/usr/bin:/bin",
                bin("torsocks").parent().unwrap().display()
            ),
        )
        .output()
        .expect("run shell")
}

fn version_line() -> String {
    format!("torsocks-rs {}", env!("CARGO_PKG_VERSION"))
}

// spec C-75
#[test]
fn usage_version_show_shell() {
    let out = torsocks(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with(&version_line()));
    for opt in [
        "-u", "-p", "-a", "-P", "-i", "-6", "-d", "-q", "--ns", "--shell", "on", "off", "show",
    ] {
        assert!(stdout(&out).contains(opt), "usage lists {opt}");
    }
    let out = torsocks(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with(&version_line()));
    let out = torsocks(&["--version"]);
    assert_eq!(stdout(&out).trim_end(), version_line());
    let out = torsocks(&["show"]);
    assert_eq!(stdout(&out), "LD_PRELOAD=\"\"\n");
    let out = Command::new(bin("torsocks"))
        .arg("--shell")
        .env("SHELL", "/bin/sh")
        .stdin(std::fs::File::open("/dev/null").unwrap())
        .output()
        .unwrap();
    assert!(stdout(&out).contains("New torified shell coming right up..."));
    assert_eq!(out.status.code(), Some(0));
    // D-30: the wrapper returns the shell's status.
    let script = std::env::temp_dir().join(format!("tsrs-shell-{}.sh", std::process::id()));
    std::fs::write(&script, "#!/bin/sh\nexit 7\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(bin("torsocks"))
        .arg("--shell")
        .env("SHELL", &script)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    std::fs::remove_file(script).unwrap();
}

// spec C-76: the command runs with the library first in LD_PRELOAD, once.
#[test]
fn runs_command_with_library_preloaded() {
    let lib = library().display().to_string();
    let show = "printf '%s' \"$LD_PRELOAD\"";
    let out = Command::new(bin("torsocks"))
        .args(["/bin/sh", "-c", show])
        .env("LD_PRELOAD", "/lib/other.so")
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        format!("{lib}:/lib/other.so"),
        "{}",
        stderr(&out)
    );
    let out = Command::new(bin("torsocks"))
        .args(["/bin/sh", "-c", show])
        .env("LD_PRELOAD", &lib)
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), lib);
    let out = Command::new(bin("torsocks"))
        .args(["/bin/sh", "-c", "exit 42"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(42));
    // `--` ends the options (D-30).
    let out = Command::new(bin("torsocks"))
        .args(["--", "sh", "-c", "echo -x"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "-x\n");
}

// spec C-77
#[test]
fn options_export_variables() {
    let vars = "printf '%s|' \"$TORSOCKS_USERNAME\" \"$TORSOCKS_PASSWORD\" \"$TORSOCKS_TOR_ADDRESS\" \
                \"$TORSOCKS_TOR_PORT\" \"$TORSOCKS_ISOLATE_PID\" \"$TORSOCKS_ENABLE_IPV6\" \"$TORSOCKS_LOG_LEVEL\"";
    let out = Command::new(bin("torsocks"))
        .args([
            "-u",
            "bob",
            "--pass",
            "pw",
            "-a",
            "127.0.0.2",
            "-P",
            "9150",
            "-6",
            "-q",
            "/bin/sh",
            "-c",
            vars,
        ])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env_remove("TORSOCKS_ISOLATE_PID")
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "bob|pw|127.0.0.2|9150||1|1|",
        "{}",
        stderr(&out)
    );
    let out = Command::new(bin("torsocks"))
        .args([
            "-i",
            "-d",
            "/bin/sh",
            "-c",
            "printf '%s %s' \"$TORSOCKS_ISOLATE_PID\" \"$TORSOCKS_LOG_LEVEL\"",
        ])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "1 5");
    for (opt, text) in [
        ("-u", "Missing username to -u"),
        ("-p", "Missing password to -p"),
        ("-a", "Missing address to -a"),
        ("-P", "Missing port to -P"),
    ] {
        let out = torsocks(&[opt]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stderr(&out).trim_end(), text);
        let out = torsocks(&[opt, "", "true"]);
        assert_eq!(out.status.code(), Some(1), "empty value for {opt}");
    }
    // W-4: the library validates values.
    let out = Command::new(bin("torsocks"))
        .args(["-P", "abc", "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Config file invalid port: abc"),
        "{}",
        stderr(&out)
    );
}

// spec C-78
#[test]
fn refuses_missing_and_privileged_programs() {
    let out = torsocks(&["no-such-program-xyz"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim_end(),
        "ERROR: no-such-program-xyz cannot be found."
    );
    let out = torsocks(&["--bogus"]);
    assert_eq!(stderr(&out).trim_end(), "ERROR: --bogus cannot be found.");

    let dir = std::env::temp_dir().join(format!("tsrs-priv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = |name: &str, mode: u32| -> PathBuf {
        let path = dir.join(name);
        std::fs::copy("/bin/true", &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    let setuid = copy("suid-true", 0o4755);
    let out = torsocks(&[setuid.to_str().unwrap()]);
    assert_fails(
        &out,
        1,
        "is setuid. torsocks will not work on a setuid executable.",
    );
    let setgid = copy("sgid-true", 0o2755);
    let out = torsocks(&[setgid.to_str().unwrap()]);
    assert!(stderr(&out).contains("is setgid. torsocks will not work on a setgid executable."));
    if require::root("set file capabilities") {
        if let Some(setcap) = require::program("setcap") {
            let capped = copy("cap-true", 0o755);
            let ok = Command::new(setcap)
                .args(["cap_net_raw+ep"])
                .arg(&capped)
                .status()
                .unwrap();
            assert!(ok.success());
            let out = torsocks(&[capped.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(1));
            assert!(
                stderr(&out).contains("gains the following elevated capabilities"),
                "{}",
                stderr(&out)
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

// spec C-79: sourcing in bash (and zsh when installed; POSIX `.` passes no arguments,
// so dash cannot say `. torsocks on`), and the refusal when not sourced.
#[test]
fn on_and_off_when_sourced() {
    let lib = library().display().to_string();
    let script = "LD_PRELOAD=/a.so; . torsocks on; echo \"[$LD_PRELOAD]\"; . torsocks on; echo \"[$LD_PRELOAD]\"; \
                  . torsocks off; echo \"[$LD_PRELOAD]\"; . torsocks off; echo \"[${LD_PRELOAD-unset}]\"; \
                  LD_PRELOAD=''; . torsocks on; . torsocks off; echo \"[${LD_PRELOAD-unset}]\"; \
                  set | grep -c '^_ts_' || true";
    for sh in ["bash", "zsh"] {
        if require::find_program(sh).is_none() {
            continue;
        }
        let out = shell(sh, script);
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "Tor mode activated. Every command will be torified for this shell.",
            "{sh}: {text}"
        );
        assert_eq!(lines[1], format!("[{lib}:/a.so]"), "{sh}");
        assert_eq!(
            lines[3],
            format!("[{lib}:/a.so]"),
            "{sh}: on twice adds once"
        );
        assert_eq!(
            lines[4],
            "Tor mode deactivated. Command will NOT go through Tor anymore."
        );
        assert_eq!(lines[5], "[/a.so]", "{sh}: no stray ':' (D-21)");
        assert_eq!(lines[7], "[/a.so]");
        assert_eq!(
            lines[10], "[unset]",
            "{sh}: an empty result unsets LD_PRELOAD"
        );
        assert_eq!(lines[11], "0", "{sh}: no _ts_ variables left behind");
    }
    for word in ["on", "off"] {
        let out = torsocks(&[word]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            format!("Torsocks MUST be sourced for this command to work\n  $ . torsocks {word}\n")
        );
    }
    // A failed sourced command returns instead of exiting the user's shell.
    let out = shell("bash", ". torsocks -u; echo still-here $?");
    assert_eq!(stdout(&out), "still-here 1\n");
}

// spec C-80: the static-binary warning; --ns hands over to torsocks-ns.
#[test]
fn static_warning_and_ns() {
    let busybox = Path::new("/bin/busybox");
    if busybox.exists() {
        let out = Command::new(bin("torsocks"))
            .args(["/bin/busybox", "true"])
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success());
        let warnings: Vec<&str> = std::str::from_utf8(&out.stderr).unwrap().lines().collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("WARNING: /bin/busybox is statically linked;"));
        assert!(warnings[0].contains("torsocks-ns"));
    } else {
        require::skip("needs busybox-static");
    }
    for program in ["/bin/true", "/usr/bin/env"] {
        let out = Command::new(bin("torsocks"))
            .arg(program)
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .output()
            .unwrap();
        assert_eq!(stderr(&out), "", "{program}: no warning for a dynamic ELF");
    }
    // --ns: torsocks-ns gets the command, LD_PRELOAD untouched; its Tor check fails
    // here (nothing listens on the port), which proves it ran.
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = Command::new(bin("torsocks"))
        .args(["--ns", "-P", &unused.port().to_string(), "true"])
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        .env("LD_PRELOAD", "")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("torsocks-ns: cannot reach Tor's SOCKS port"),
        "{}",
        stderr(&out)
    );
    let out = torsocks(&["--ns", "show"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty() && stderr(&out).contains("Options:"));
    let _ = install::prefix();
}

// The installed man pages document every option the programs accept.
#[test]
fn man_pages_cover_every_option() {
    let man = torsocks_testkit::install::prefix()
        .join("share")
        .join("man");
    let page = |section: &str, name: &str| {
        std::fs::read_to_string(
            man.join(format!("man{section}"))
                .join(format!("{name}.{section}")),
        )
        .unwrap_or_else(|e| panic!("{name}.{section}: {e}"))
        .replace("\\-", "-")
    };
    let ns_help = Command::new(bin("torsocks-ns"))
        .arg("--help")
        .output()
        .unwrap();
    let ns_page = page("1", "torsocks-ns");
    for word in String::from_utf8_lossy(&ns_help.stdout).split_whitespace() {
        let option = word.trim_end_matches(',');
        if option.starts_with("--")
            && option.len() > 2
            && option != "--help"
            && option != "--version"
        {
            assert!(ns_page.contains(option), "torsocks-ns.1 lacks {option}");
        }
    }
    let wrapper_page = page("1", "torsocks");
    for option in [
        "--user",
        "--pass",
        "--address",
        "--port",
        "--isolate",
        "--ipv6",
        "--debug",
        "--quiet",
        "--ns",
        "--shell",
    ] {
        assert!(wrapper_page.contains(option), "torsocks.1 lacks {option}");
    }
    let conf_page = page("5", "torsocks.conf");
    for directive in torsocks_core::config::directive::ALL {
        assert!(
            conf_page.contains(directive),
            "torsocks.conf.5 lacks {directive}"
        );
    }
    assert!(page("8", "torsocks").contains("libtorsocks.so"));
}

// The installed bash completions complete options of both programs.
#[test]
fn bash_completions() {
    let dir = torsocks_testkit::install::prefix().join("share/bash-completion/completions");
    let complete = |file: &str, function: &str, words: &str| {
        let script = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; {function} {file} \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            dir.join(file).display()
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let words = complete("torsocks", "_torsocks", "torsocks --us");
    assert_eq!(words.trim(), "--user");
    let words = complete("torsocks", "_torsocks", "torsocks o");
    assert!(words.lines().any(|w| w == "on" || w == "off"), "{words}");
    let words = complete("torsocks-ns", "_torsocks__ns", "torsocks-ns --sta");
    assert_eq!(words.trim(), "--stats");
    for file in [
        "share/zsh/site-functions/_torsocks-ns",
        "share/zsh/site-functions/_torsocks",
        "share/fish/vendor_completions.d/torsocks-ns.fish",
        "share/fish/vendor_completions.d/torsocks.fish",
    ] {
        let path = torsocks_testkit::install::prefix().join(file);
        assert!(path.exists(), "{file}");
        if file.contains("/zsh/") && torsocks_testkit::require::find_program("zsh").is_some() {
            let parsed = Command::new("zsh").arg("-n").arg(&path).status().unwrap();
            assert!(parsed.success(), "zsh cannot parse {file}");
        }
    }
}

// torsocks --check: the library loads, Tor's SOCKS port answers; the mock is not Tor.
#[test]
fn check_reports_each_line() {
    let mock = torsocks_testkit::mock_tor::MockTor::start().unwrap();
    let port = mock.addr().port().to_string();
    let check = || {
        Command::new(bin("torsocks"))
            .args(["-P", &port, "--check"])
            .env_remove("LD_PRELOAD")
            .env("TORSOCKS_CONF_FILE", "/dev/null")
            .output()
            .unwrap()
    };
    let out = check();
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    for line in [
        "✓ the library ",
        "✓ a dynamically linked program (/bin/sh) loads it",
        "✓ the configuration is valid",
        "✓ Tor's SOCKS port at 127.0.0.1:",
        "✗ it is not Tor",
        "some checks failed",
    ] {
        assert!(s.lines().any(|l| l.starts_with(line)), "{line}: {s}");
    }
    drop(mock);
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("✗ cannot reach Tor's SOCKS port"),
        "{}",
        stdout(&out)
    );
}

// A torsocks installed outside /usr, run inside torsocks-ns with only its bin/ bound
// in: the library's directory is hidden, and the error says so and how to bind it,
// rather than asking to re-install a library that is there.
#[test]
fn a_library_hidden_by_a_sandbox_is_named_as_hidden() {
    let library_dir = library().parent().unwrap().to_path_buf();
    let removed = Command::new(bin("torsocks"))
        .arg("true")
        .env("TORSOCKS_RS_LIBRARY", library_dir.join("gone.so"))
        .output()
        .unwrap();
    assert_fails(&removed, 1, "does not exist! Try re-installing torsocks.");
    if !require::tun() {
        return;
    }
    let tor = torsocks_testkit::mock_tor::MockTor::answering();
    let wrapper_dir = bin("torsocks").parent().unwrap().to_path_buf();
    let out = Command::new(bin("torsocks-ns"))
        .args(["-P", &tor.addr().port().to_string(), "--ro-bind"])
        .arg(&wrapper_dir)
        .arg("--")
        .arg(bin("torsocks"))
        .arg("true")
        .env("TORSOCKS_CONF_FILE", "/dev/null")
        // Not the checkout: the working directory is bound in, and it holds the prefix.
        .current_dir("/usr")
        .output()
        .unwrap();
    assert_fails(
        &out,
        1,
        &format!(
            "cannot be seen: its directory {} is not there",
            library_dir.display()
        ),
    );
    assert!(
        stderr(&out).contains(&format!("--ro-bind {}", library_dir.display())),
        "{}",
        stderr(&out)
    );
}
