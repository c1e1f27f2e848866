#!/usr/bin/env bash
# What the embedded Tor client costs at run time, on the test suite's private Tor network
# (tests/tornet: real tor processes on loopback, nothing leaves the machine): a run with
# a cold and with a warm directory cache, a session's first fetch (a test-zone name, by an
# exit, from an HTTP server on loopback) and then the onion service, through the embedded
# client beside the same through the network's running tor daemon, and the RSS of the
# launcher and of the client's process (torsocks-arti) with the client bootstrapped.
# The embedded client runs as the tor user, under the same egress confinement as the
# network's tor processes. Median of N runs each.
#
#   sudo benches/embedded.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
cargo build --release -q -p torsocks-ns -p torsocks-preload
cargo build -q -p torsocks-testkit --bin tornet
work=$(mktemp -d)
chmod 0755 "$work"
echo hello > "$work/hello.txt"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work" > "$work/http.out" 2>&1 & http_pid=$!
target/debug/tornet > "$work/tornet.out" 2> "$work/tornet.err" & tornet_pid=$!
trap 'kill "$tornet_pid" "$http_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 360); do grep -q "Press Ctrl-C" "$work/tornet.out" && break; sleep 0.5; done
grep -q "Press Ctrl-C" "$work/tornet.out" || { cat "$work/tornet.err" >&2; exit 1; }
socks=$(awk '/^SocksPort/ { print $2 }' "$work/tornet.out")
onion=$(awk '/^Onion/ { print $2 }' "$work/tornet.out")
cp "$(awk '/^Arti config/ { print $3 }' "$work/tornet.out")" "$work/arti.toml"
cp target/release/torsocks-ns target/release/torsocks-arti "$work/"
chown -R debian-tor:debian-tor "$work"

as_tor_user() {
    setpriv --reuid=debian-tor --regid=debian-tor --clear-groups -- \
        env HOME="$work" TORSOCKS_CONF_FILE=/dev/null "$@"
}
embedded() {
    as_tor_user "$work/torsocks-ns" --tor embedded -P 1 --tor-state "$work/state" \
        --arti-config "$work/arti.toml" -- "$@"
}
daemon() {
    env TORSOCKS_CONF_FILE=/dev/null "$work/torsocks-ns" -P "${socks##*:}" -- "$@"
}
for _ in $(seq 100); do grep -q "port" "$work/http.out" && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$work/http.out" | awk '{ print $2 }')
# The test zone of the tornet binary: www.tornet.test is 127.0.0.1, which in the
# sandbox is its own loopback: the name goes to the sandbox's SOCKS port instead, so the
# exit resolves it and connects to this machine's loopback.
fetch="curl -sS --max-time 60 --socks5-hostname 127.0.0.1:9050 -o /dev/null -w '%{time_total}\\n'"
fetches="$fetch http://www.tornet.test:$port/hello.txt && $fetch $onion"
median() { sort -n | awk '{ a[NR] = $1 } END { printf "%.0f", a[int((NR + 1) / 2)] }'; }
# "wall-ms first-fetch-ms onion-fetch-ms" for one run of a launcher function.
run() {
    local start end times
    start=$(date +%s%N)
    times=$("$@" sh -c "$fetches" 2>/dev/null | tr '\n' ' ')
    end=$(date +%s%N)
    awk -v w=$(( (end - start) / 1000000 )) -v t="$times" \
        'BEGIN { split(t, a, " "); printf "%d %.0f %.0f\n", w, a[1] * 1000, a[2] * 1000 }'
}
row() {
    local label=$1 results
    shift
    results=$(for _ in $(seq "$n"); do "$@"; done)
    printf '| %s | %s | %s | %s |\n' "$label" \
        "$(cut -d' ' -f1 <<< "$results" | median)" "$(cut -d' ' -f2 <<< "$results" | median)" \
        "$(cut -d' ' -f3 <<< "$results" | median)"
}
cold() { rm -rf "$work/state"; run embedded; }
warm() { run embedded; }
with_daemon() { run daemon; }

daemon sh -c "$fetches" > /dev/null   # a running tor has its circuits built
printf '%s runs each (median)\n\n' "$n"
printf '| torsocks-ns run | whole run, ms | first fetch (exit), ms | then the onion service, ms |\n|---|---|---|---|\n'
row "embedded client, cold (no cached directory)" cold
row "embedded client, warm (cached directory)" warm
row "tor daemon" with_daemon

embedded sh -c "$fetches > /dev/null; echo ready; sleep 3" > "$work/ready" 2>&1 & job=$!
for _ in $(seq 600); do grep -q ready "$work/ready" && break; sleep 0.05; done
# The launcher is the tor user's oldest torsocks-ns (the sandbox's PID 1 is a clone);
# the client is its torsocks-arti.
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$(pgrep -o -u debian-tor -x torsocks-ns)/status")
arti_rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$(pgrep -o -u debian-tor -x torsocks-arti)/status")
wait "$job"
printf '\n| after the two fetches, embedded client bootstrapped | RSS KiB |\n|---|---|\n'
printf '| launcher (torsocks-ns) | %s |\n| embedded client (torsocks-arti) | %s |\n' "$rss" "$arti_rss"
