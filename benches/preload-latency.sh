#!/usr/bin/env bash
# Per-call cost of the preload library: N connect()s (each a full SOCKS5 exchange) and
# N getaddrinfo()s (each a RESOLVE) against the mock Tor SOCKS server on loopback,
# under Debian's C torsocks 2.4.0 and under torsocks-rs, in one run.
#
#   benches/preload-latency.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
runs=${2:-5}
cargo build --release -q -p torsocks-preload -p torsocks-testkit
work=$(mktemp -d)
cc -O2 -o "$work/loop" benches/preload_loop.c
printf '# defaults\n' > "$work/torsocks.conf"
port=9156
./target/release/mock-tor --succeed "$port" www.example.com=198.51.100.7 >/dev/null 2>&1 &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
c_lib=$(ls /usr/lib/*/torsocks/libtorsocks.so 2>/dev/null | head -n 1 || true)
best() { sort -n | head -n 1; }
measure() { # library operation
    for _ in $(seq "$runs"); do
        LD_PRELOAD="$1" TORSOCKS_CONF_FILE="$work/torsocks.conf" TORSOCKS_TOR_PORT="$port" \
            TORSOCKS_LOG_LEVEL=1 "$work/loop" "$2" "$n"
    done | best
}
printf '| call | C torsocks 2.4.0 (µs) | torsocks-rs (µs) |\n|---|---|---|\n'
for op in connect getaddrinfo; do
    c=$([ -n "$c_lib" ] && measure "$c_lib" "$op" || echo "n/a")
    rs=$(measure "$PWD/target/release/libtorsocks.so" "$op")
    printf '| %s | %s | %s |\n' "$op" "$c" "$rs"
done
