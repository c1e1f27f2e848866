#!/usr/bin/env bash
# The memory budget under its worst case: a program inside torsocks-ns opens N
# connections (default 4,096) and keeps every one full both ways. It sends until its
# socket would block and never reads; the mock Tor SOCKS server echoes (with 4 KiB
# socket buffers, so that a stream nobody reads fills at once). Reports the launcher's
# resident memory once nothing moves any more, and its peak, beside the budget.
# Loopback only.
#
#   benches/ns-memory.sh [N]
#
# BEFORE=path/to/an/older/torsocks-ns adds its row first (it is run with the same
# options minus those it does not know).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4096}
cargo build --release -q -p torsocks-ns -p torsocks-testkit
# Not under /tmp: the sandbox has a /tmp of its own.
mkdir -p target; work=$(mktemp -d -p "$PWD/target")
# A root-run's command runs as nobody: it must read the script.
chmod 0755 "$work"
cat > "$work/full.py" <<'PY'
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 3 * int(sys.argv[1])), hard))
n = int(sys.argv[1])
held, refused = [], 0
for _ in range(n):
    s = socket.socket()
    # Small buffers of the program's own: what fills is the launcher's.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.settimeout(30)
    try:
        s.connect(('192.0.2.1', 80))
    except OSError:
        refused += 1
        s.close()
        continue
    s.setblocking(False)
    held.append(s)
block = b'x' * 65536
sent, idle_rounds = 0, 0
for _ in range(600):
    moved = 0
    for s in held:
        while True:
            try:
                moved += s.send(block)
            except OSError:
                break
    sent += moved
    # Full when two passes, a quarter of a second apart, could send nothing.
    idle_rounds = idle_rounds + 1 if moved == 0 else 0
    if idle_rounds == 2:
        break
    time.sleep(0.25)
print(f"full {len(held)} {refused} {sent}", flush=True)
sys.stdin.readline()
PY
./target/release/mock-tor --succeed --small-buffers 9157 > "$work/mock.log" 2>&1 & mock_pid=$!
cleanup() { kill "$mock_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q listening "$work/mock.log" && break; sleep 0.05; done
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# run LABEL BINARY [OPTION...]: one row.
run() {
    local label=$1 bin=$2; shift 2
    mkfifo "$work/go"
    exec 3<>"$work/go"
    TORSOCKS_CONF_FILE=/dev/null "$bin" -d -P 9157 "$@" -- python3 "$work/full.py" "$n" \
        < "$work/go" > "$work/out" 2> "$work/err" & local ns_pid=$!
    for _ in $(seq 2400); do
        grep -q '^full' "$work/out" && break
        kill -0 "$ns_pid" 2>/dev/null || { cat "$work/out" "$work/err" >&2; exit 1; }
        sleep 0.25
    done
    local rss hwm plan
    rss=$(status "$ns_pid" VmRSS); hwm=$(status "$ns_pid" VmHWM)
    echo go >&3
    wait "$ns_pid" || true
    exec 3>&-; rm -f "$work/go"
    read -r _ held refused sent < <(grep '^full' "$work/out")
    plan=$(sed -n 's/^torsocks-ns: buffers: \([0-9]*\) KiB per direction.*/\1 KiB/p' "$work/err")
    printf '| %s | %s | %s | %s | %s MiB | %s MiB | %s MiB |\n' "$label" "${plan:--}" \
        "$held" "$refused" "$((sent >> 20))" "$((rss >> 10))" "$((hwm >> 10))"
}
printf '| launcher | buffers | held full | refused | sent, unread | RSS | peak RSS |\n'
printf '|---|---|---|---|---|---|---|\n'
if [ -n "${BEFORE:-}" ]; then run "before (no budget)" "$BEFORE"; fi
run "default (512 MiB budget)" ./target/release/torsocks-ns
run "--max-connections $n" ./target/release/torsocks-ns --max-connections "$n"
run "--buffer-budget 128M" ./target/release/torsocks-ns --buffer-budget 128M
