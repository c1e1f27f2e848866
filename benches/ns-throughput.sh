#!/usr/bin/env bash
# Bulk download throughput: a SOCKS-aware client (curl --socks5-hostname) against the
# same path through torsocks-ns, side by side in one run. Everything is on loopback:
# a local HTTP server, the mock Tor SOCKS server (relaying to loopback only), and the
# sandbox. Needs root or unprivileged user namespaces, and curl and python3.
#
#   benches/ns-throughput.sh [SIZE_MIB] [RUNS]
#
# BEFORE=path/to/an/older/torsocks-ns adds its rows at 128 KiB, in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-200}
runs=${2:-3}
cargo build --release -q -p torsocks-ns -p torsocks-testkit
# Not under /tmp: the sandbox has a /tmp of its own.
mkdir -p target; work=$(mktemp -d -p "$PWD/target")
http_port=18080
socks_port=9152
head -c $((size * 1024 * 1024)) /dev/zero > "$work/file"
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
http_pid=$!
./target/release/mock-tor "$socks_port" bulk.test=127.0.0.1 >/dev/null 2>&1 &
mock_pid=$!
cleanup() { kill "$http_pid" "$mock_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
sleep 1
url="http://bulk.test:$http_port/file"

best() { sort -n | tail -n 1; }
mbps() { awk '{ printf "%.0f", $1 * 8 / 1000000 }'; }

direct=$(for _ in $(seq "$runs"); do
    curl -s --socks5-hostname "127.0.0.1:$socks_port" "$url" -o /dev/null -w '%{speed_download}\n'
done | best)
printf '| path | MTU | buffer | Mbit/s | of direct |\n|---|---|---|---|---|\n'
printf '| curl --socks5-hostname (direct) | - | - | %s | 100%% |\n' "$(echo "$direct" | mbps)"
# row LABEL BINARY MTU KIB
row() {
    local speed pct
    speed=$(for _ in $(seq "$runs"); do
        "$2" --automap -P "$socks_port" --mtu "$3" --buffer-kib "$4" \
            -- curl -s "$url" -o /dev/null -w '%{speed_download}\n'
    done | best)
    pct=$(awk -v a="$speed" -v b="$direct" 'BEGIN { printf "%.0f", 100 * a / b }')
    printf '| %s | %s | %s KiB | %s | %s%% |\n' "$1" "$3" "$4" "$(echo "$speed" | mbps)" "$pct"
}
for mtu in 1500 65520; do
    if [ -n "${BEFORE:-}" ]; then row "before: torsocks-ns curl" "$BEFORE" "$mtu" 128; fi
    for kib in 16 128 1024; do
        row "torsocks-ns curl" ./target/release/torsocks-ns "$mtu" "$kib"
    done
done
