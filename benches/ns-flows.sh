#!/usr/bin/env bash
# Many concurrent connections through torsocks-ns: time to open N connections (each
# with its own DNS lookup) to a local echo server through the mock Tor SOCKS server,
# the launcher's resident memory idle and with N connections open, and a bulk
# download's speed with none and with N connections open. Loopback only.
#
#   benches/ns-flows.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
cargo build --release -q -p torsocks-ns -p torsocks-testkit
# Not under /tmp: the sandbox has a /tmp of its own.
mkdir -p target; work=$(mktemp -d -p "$PWD/target")
# A root-run's command runs as nobody: it must read the script.
chmod 0755 "$work"
cat > "$work/many.py" <<'PY'
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
n = int(sys.argv[1])
start = time.time()
held = []
for _ in range(n):
    s = socket.create_connection(('echo.test', 17777), timeout=30)
    s.sendall(b'x')
    assert s.recv(1) == b'x'
    held.append(s)
print(f"opened {n} in {time.time() - start:.2f} s", flush=True)
time.sleep(2)
import subprocess
speed = subprocess.run(['curl', '-s', 'http://bulk.test:18081/file', '-o', '/dev/null',
                        '-w', '%{speed_download}'], capture_output=True, text=True).stdout
print(f"bulk {float(speed) * 8 / 1e6:.0f}", flush=True)
PY
head -c $((200 * 1024 * 1024)) /dev/zero > "$work/file"
python3 benches/echo_server.py 17777 & echo_pid=$!
python3 -m http.server 18081 --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 & http_pid=$!
./target/release/mock-tor 9153 echo.test=127.0.0.1 bulk.test=127.0.0.1 >/dev/null 2>&1 & mock_pid=$!
cleanup() { kill "$echo_pid" "$http_pid" "$mock_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
sleep 1
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

./target/release/torsocks-ns -P 9153 -- sleep 3 & idle_pid=$!
sleep 1.5
idle=$(rss "$idle_pid")
wait "$idle_pid"

./target/release/torsocks-ns --automap -P 9153 -- python3 "$work/many.py" "$n" > "$work/out" 2>&1 & ns_pid=$!
for _ in $(seq 60); do grep -q opened "$work/out" && break; sleep 0.5; done
busy=$(rss "$ns_pid")
wait "$ns_pid"
./target/release/torsocks-ns --automap -P 9153 -- python3 "$work/many.py" 0 > "$work/none" 2>&1
printf '| measure | value |\n|---|---|\n'
printf '| launcher RSS, idle | %s KiB |\n' "$idle"
printf '| launcher RSS, %s connections open | %s KiB |\n' "$n" "$busy"
printf '| per open connection | %s KiB |\n' "$(( (busy - idle) / n ))"
printf '| %s |  |\n' "$(grep opened "$work/out")"
printf '| bulk download, no other connection | %s Mbit/s |\n' "$(awk '/^bulk/ { print $2 }' "$work/none")"
printf '| bulk download, %s connections open | %s Mbit/s |\n' "$n" "$(awk '/^bulk/ { print $2 }' "$work/out")"
