#!/usr/bin/env bash
# Where torsocks-ns's launcher spends its CPU, per connection or per GB:
#
#   benches/profile.sh [rate N | bulk BYTES] [microsocks | danted]   (as root)
#
# The same set-up as benches/compare.sh (a target server in a network namespace over a
# veth pair, the SOCKS server on loopback, benches/compare_client.c in torsocks-ns),
# one run under `perf record -e cpu-clock -g` on the launcher and one under `strace -c`;
# prints the launcher's CPU per unit, its share by what the time was spent on (each
# row includes the kernel work done in that call), and its system calls per
# connection. Nothing leaves the machine: every address is loopback or the namespace's.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-rate}
count=${2:-$([ "$mode" = rate ] && echo 5000 || echo 2147483648)}
server=${3:-microsocks}
[ "$(id -u)" -eq 0 ] || { echo "benches/profile.sh: run as root (namespaces, veth, perf)" >&2; exit 1; }
for p in microsocks dante-server linux-perf strace gcc iproute2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ -n "${missing[*]:-}" ]; then
    [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --release -q -p torsocks-ns

work=$(mktemp -d /var/tmp/tsprof.XXXXXX)
chmod 755 "$work"
ns=tsprof$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip link del tsp$$ 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
gcc -O2 -pthread -o "$work/server" benches/compare_server.c
gcc -O2 -o "$work/client" benches/compare_client.c
ip netns add "$ns"
ip link add "tsp$$" type veth peer name tsppeer netns "$ns"
ip addr add 10.98.1.1/24 dev "tsp$$"
ip link set "tsp$$" up
ip -n "$ns" addr add 10.98.1.2/24 dev tsppeer
ip -n "$ns" link set tsppeer up
ip netns exec "$ns" "$work/server" 7000 > "$work/server.out" &
pids+=($!)
if [ "$server" = microsocks ]; then
    microsocks -i 127.0.0.1 -p 11090 >/dev/null 2>&1 &
else
    cat > "$work/danted.conf" <<EOF
logoutput: /dev/null
internal: 127.0.0.1 port = 11090
external: 10.98.1.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 10.98.1.0/24 }
EOF
    danted -f "$work/danted.conf" >/dev/null 2>&1 &
fi
pids+=($!)
for _ in $(seq 200); do
    "$work/client" --socks 127.0.0.1:11090 rate 1 10.98.1.2 7000 >/dev/null 2>&1 && break
    sleep 0.05
done

# One run of the client in torsocks-ns with TOOL attached to the launcher; the command
# waits on a fifo before it starts and after it ends, so the tool sees exactly the run.
run() {
    rm -f "$work/go"
    mkfifo "$work/go"
    TORSOCKS_CONF_FILE=/dev/null ./target/release/torsocks-ns -P 11090 -- sh -c \
        "read _ < $work/go; $work/client $mode $count 10.98.1.2 7000; read _ < $work/go" \
        > "$work/out" &
    local launcher=$! tool
    until [ -e "/proc/$launcher/task/$launcher/children" ] \
        && [ -n "$(cat "/proc/$launcher/task/$launcher/children")" ]; do sleep 0.01; done
    "$@" -p "$launcher" > /dev/null 2>&1 &
    tool=$!
    sleep 0.5 # the tool attaches
    local t0
    t0=$(awk '{ print $14 + $15 }' "/proc/$launcher/stat")
    echo > "$work/go"
    until [ -s "$work/out" ]; do sleep 0.01; done
    ticks=$(( $(awk '{ print $14 + $15 }' "/proc/$launcher/stat") - t0 ))
    kill -INT "$tool"
    wait "$tool" || true
    echo > "$work/go"
    wait "$launcher"
}

units=$count
unit="connection"
[ "$mode" = bulk ] && { units=$(awk -v b="$count" 'BEGIN { print b / 1e9 }'); unit="GB"; }
hz=$(getconf CLK_TCK)
run perf record -q -e cpu-clock -g -o "$work/perf.data"
echo "torsocks-ns → $server, $mode $count: $(cat "$work/out") ($([ "$mode" = rate ] && echo connections/s || echo Gbit/s)), launcher CPU $(awk -v t="$ticks" -v hz="$hz" -v n="$units" -v m="$mode" 'BEGIN { v = t / hz / n; if (m == "rate") printf "%.0f µs", v * 1e6; else printf "%.2f s", v }') per $unit (under perf)"
echo
echo "| launcher time in (with the kernel's work for it) | share |"
echo "|---|---|"
perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null > "$work/report"
share() { # label, then the symbols whose inclusive shares add up to it
    local label=$1; shift
    local total=0 s v
    for s in "$@"; do
        v=$(awk -v s="$s" '$0 ~ "%" && $4 == s { sub("%", "", $1); print $1; exit }' "$work/report")
        total=$(awk -v a="$total" -v b="${v:-0}" 'BEGIN { print a + b }')
    done
    printf '| %s | %.1f %% |\n' "$label" "$total"
}
share "TUN writes (the program's TCP receive path runs here)" tun_chr_write_iter
share "TUN reads" tun_chr_read_iter
share "SOCKS connection: socket, connect" __x64_sys_socket __x64_sys_connect
share "SOCKS connection: send (the SOCKS server's receive path runs here)" __x64_sys_sendto
share "SOCKS connection: receive" __x64_sys_recvfrom
share "SOCKS connection: shutdown, close" __x64_sys_shutdown __x64_sys_close
share "waiting for events (epoll)" __x64_sys_epoll_wait __x64_sys_epoll_ctl
share "buffers: mmap, munmap, madvise, page faults" __x64_sys_mmap __x64_sys_munmap __x64_sys_madvise asm_exc_page_fault
echo
echo "(shares of the launcher's samples; a row includes what its calls cause in the kernel)"
echo
echo "| launcher time by where it ran | share |"
echo "|---|---|"
perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null \
    | awk '$1 ~ /%$/ { printf "| %s | %s |\n", $2, $1 }' | sed 's/%/ %/' | head -5
run strace -c -o "$work/strace.out"
echo
echo "| system call | per $unit |"
echo "|---|---|"
awk -v n="$units" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
    printf "| %s | %.2f |\n", $NF, $4 / n }' "$work/strace.out"
