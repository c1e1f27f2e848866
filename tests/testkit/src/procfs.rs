//! What /proc says of a process the test started.

/// The children of process `pid`, by PID.
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether process `pid` is named `comm` (its command name, as `ps -o comm`).
pub fn is_named(pid: u32, comm: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
}

/// A line of /proc/PID/status: the value after `key:` (empty when missing).
pub fn status(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// What `user` (a command prefix that runs a program as some user, such as `setpriv
/// --reuid=…  --`) gets from PTRACE_ATTACH to `pid`: "attached" (then detached) or
/// "refused ERRNO".
pub fn ptrace_attach(mut user: std::process::Command, pid: u32) -> String {
    let script = "import ctypes, os, sys\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        pid = int(sys.argv[1])\n\
        if libc.ptrace(16, pid, 0, 0) == 0:\n\
        \x20   os.waitpid(pid, 0); libc.ptrace(17, pid, 0, 0); print('attached')\n\
        else:\n\
        \x20   print('refused', ctypes.get_errno())\n";
    user.args(["python3", "-c", script, &pid.to_string()]);
    match user.output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Err(e) => format!("python3 did not run: {e}"),
    }
}

/// `key` of /proc/PID/status in each of the process's threads, deduplicated: one value
/// when every thread has the same (filters and Landlock bind threads one by one).
pub fn status_of_threads(pid: u32, key: &str) -> Vec<String> {
    let mut values: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
            Some(line.trim().to_string())
        })
        .collect();
    values.sort();
    values.dedup();
    values
}
