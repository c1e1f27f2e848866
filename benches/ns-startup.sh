#!/usr/bin/env bash
# Start-up cost of namespace mode: `torsocks-ns true` (namespaces, sandbox mounts, tun0,
# the Tor check against the mock Tor SOCKS server on loopback) beside the bare
# `unshare -Urn true`, median and best of N runs each; run as root, the same rootless
# as the user nobody.
#
#   benches/ns-startup.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
cargo build --release -q -p torsocks-ns -p torsocks-testkit
./target/release/mock-tor 9154 > /tmp/ns-startup-mock.$$ 2>&1 & mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null || true; rm -f /tmp/ns-startup-mock.$$' EXIT
for _ in $(seq 100); do grep -q listening /tmp/ns-startup-mock.$$ && break; sleep 0.05; done
# Milliseconds for each of n runs of "$@", one per line.
times() {
    for _ in $(seq "$n"); do
        local start end
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1
        end=$(date +%s%N)
        echo $(( (end - start) / 1000 ))
    done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f | %.1f", a[int((NR + 1) / 2)] / 1000, a[1] / 1000 }'
}
printf '| command | median ms | best ms |\n|---|---|---|\n'
printf '| unshare -Urn true | %s |\n' "$(times unshare -Urn true)"
printf '| torsocks-ns true | %s |\n' "$(times env TORSOCKS_CONF_FILE=/dev/null ./target/release/torsocks-ns -P 9154 true)"
# Rootless, as the unprivileged user nobody (the command keeps its uid; no home to bind).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
    ns="$PWD/target/release/torsocks-ns"
    printf '| unshare -Urn true, as nobody | %s |\n' "$(cd / && times "${as_nobody[@]}" unshare -Urn true)"
    printf '| torsocks-ns true, as nobody | %s |\n' "$(cd / && times env TORSOCKS_CONF_FILE=/dev/null HOME=/ "${as_nobody[@]}" "$ns" -P 9154 true)"
fi
