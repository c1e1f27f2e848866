#!/usr/bin/env bash
# Soak: N connect/echo/close in a row through torsocks-ns (mock Tor relaying to a
# local echo server, loopback only), with the launcher's open fds and resident memory
# sampled after 1,000 and after N connections. `echo.test` is automapped: the mock's
# answer (127.0.0.1) would be the sandbox's own loopback.
#
#   benches/ns-soak.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
[ "$n" -gt 1000 ] || { echo "ns-soak.sh: N must be above 1000" >&2; exit 2; }
cargo build --release -q -p torsocks-ns -p torsocks-testkit
# Not under /tmp: the sandbox has a /tmp of its own.
mkdir -p target; work=$(mktemp -d -p "$PWD/target")
cat > "$work/soak.py" <<'PY'
import socket, sys
n = int(sys.argv[1])
for i in range(1, n + 1):
    s = socket.create_connection(('echo.test', 17778), timeout=30)
    s.sendall(b'ping')
    assert s.recv(4) == b'ping'
    s.close()
    if i in (1000, n):
        print('at', i, flush=True)
        sys.stdin.readline()
PY
python3 benches/echo_server.py 17778 & echo_pid=$!
./target/release/mock-tor 9156 echo.test=127.0.0.1 > "$work/mock.log" 2>&1 & mock_pid=$!
mkfifo "$work/go"
cleanup() { kill "$echo_pid" "$mock_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
if [ -n "${SOAK_DEBUG:-}" ]; then trap 'cat "$work/out"; cleanup' EXIT; fi
for _ in $(seq 100); do grep -q listening "$work/mock.log" && break; sleep 0.05; done
for _ in $(seq 100); do (exec 4<>/dev/tcp/127.0.0.1/17778) 2>/dev/null && break; sleep 0.05; done
exec 3<>"$work/go"
TORSOCKS_CONF_FILE=/dev/null ./target/release/torsocks-ns --automap -P 9156 -- \
    python3 "$work/soak.py" "$n" < "$work/go" > "$work/out" 2>&1 & ns_pid=$!
sample() {
    for _ in $(seq 6000); do
        grep -q "at $1\$" "$work/out" && break
        kill -0 "$ns_pid" 2>/dev/null || { cat "$work/out" >&2; exit 1; }
        sleep 0.05
    done
    echo "$(ls "/proc/$ns_pid/fd" | wc -l) $(awk '/VmRSS/ { print $2 }' "/proc/$ns_pid/status")"
}
start=$(date +%s.%N)
read -r fds1 rss1 < <(sample 1000)
echo go >&3
read -r fdsn rssn < <(sample "$n")
end=$(date +%s.%N)
echo go >&3
wait "$ns_pid"
printf '| after | launcher fds | launcher RSS |\n|---|---|---|\n'
printf '| 1,000 connections | %s | %s KiB |\n' "$fds1" "$rss1"
printf '| %s connections | %s | %s KiB |\n' "$n" "$fdsn" "$rssn"
printf '\n%s connections in %.1f s\n' "$n" "$(echo "$end - $start" | bc)"
