#!/usr/bin/env bash
# torsocks-rs side by side with the tools it is compared with, in one run, through the
# same SOCKS servers to the same target:
#
#   benches/compare.sh [ROUNDS] [CONNECTIONS] [IDLE]      (as root; defaults 10 1000 1000)
#
# The target is a small C server (benches/compare_server.c) in a network namespace this
# script makes (veth 10.98.0.1 <-> 10.98.0.2); the SOCKS servers are Debian's microsocks
# and danted on loopback; the client is benches/compare_client.c, which connects plainly,
# or speaks SOCKS5 itself (--socks) as a SOCKS-aware program does. Paths:
#   SOCKS-aware client, torsocks-ns, torsocks-rs preload, C torsocks, proxychains4
#   (through each SOCKS server); pasta and slirp4netns (no SOCKS: the stack alone).
# For each: connect-request-close per second (median of ROUNDS rounds of CONNECTIONS,
# with the first and last round, to show decay), the CPU of the program itself (the
# clients: for the SOCKS-aware client, what speaking SOCKS costs a program; for the
# preload paths, with the library's work), the CPU of the process in the middle
# (torsocks-ns's launcher, pasta, slirp4netns) per connection, a 2 GiB download and a
# 2 GiB upload (median of 3 each) and that process's CPU per GB, its memory per idle
# connection (IDLE held open) and the download with them open; and for rate and
# download, the whole machine's CPU per connection and per GB with how busy it was
# (every process of the path). Then start-up times. Nothing leaves the machine: every
# address is loopback or the namespace's.
#
# BEFORE=path/to/an/older/torsocks-ns adds its paths beside torsocks-ns's, in the same
# run; ONLY=torsocks-ns measures only the torsocks-ns paths (and BEFORE's).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
conns=${2:-1000}
idle=${3:-1000}
[ "$(id -u)" -eq 0 ] || { echo "benches/compare.sh: run as root (namespaces, veth)" >&2; exit 1; }

packages=(microsocks dante-server proxychains4 passt slirp4netns torsocks gcc iproute2)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --release -q -p torsocks-ns -p torsocks-preload

# Not under /tmp or /var (torsocks-ns gives the sandbox its own: the working directory
# is what it shares) and readable by nobody (pasta).
mkdir -p target; work=$(mktemp -d -p "$PWD/target" tsbench.XXXXXX)
chmod 755 "$work"
ns=tsbench$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip link del tsb$$ 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
gcc -O2 -pthread -o "$work/server" benches/compare_server.c
gcc -O2 -o "$work/client" benches/compare_client.c
client=$work/client

ip netns add "$ns"
ip link add "tsb$$" type veth peer name tsbpeer netns "$ns"
ip addr add 10.98.0.1/24 dev "tsb$$"
ip link set "tsb$$" up
ip -n "$ns" addr add 10.98.0.2/24 dev tsbpeer
ip -n "$ns" link set tsbpeer up
ip -n "$ns" link set lo up
target=(10.98.0.2 7000)
ip netns exec "$ns" "$work/server" 7000 > "$work/server.out" &
pids+=($!)

microsocks -i 127.0.0.1 -p 11080 >/dev/null 2>&1 &
pids+=($!)
cat > "$work/danted.conf" <<EOF
logoutput: /dev/null
internal: 127.0.0.1 port = 11081
external: 10.98.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 10.98.0.0/24 }
EOF
danted -f "$work/danted.conf" -p "$work/danted.pid" >/dev/null 2>&1 &
pids+=($!)
ready() { # until something answers SOCKS5 at 127.0.0.1:$1
    for _ in $(seq 200); do
        "$client" --socks "127.0.0.1:$1" rate 1 "${target[@]}" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "benches/compare.sh: nothing answers on $1" >&2
    exit 1
}
for _ in $(seq 100); do grep -q listening "$work/server.out" && break; sleep 0.05; done
ready 11080
ready 11081

c_lib=$(dpkg -L torsocks | grep -m1 '/libtorsocks\.so')
rs_lib=$PWD/target/release/libtorsocks.so
printf 'strict_chain\nquiet_mode\n[ProxyList]\nsocks5 127.0.0.1 %s\n' 11080 > "$work/pc-11080.conf"
printf 'strict_chain\nquiet_mode\n[ProxyList]\nsocks5 127.0.0.1 %s\n' 11081 > "$work/pc-11081.conf"
sed -e "s|@LIBRARY@|$rs_lib|" -e "s|@INSPECT@|$PWD/target/release/torsocks-inspect|" \
    -e "s|@VERSION@|0|" packaging/torsocks.in > "$work/torsocks"
printf 'TorAddress 127.0.0.1\nTorPort 11080\n' > "$work/ts-11080.conf"
printf 'TorAddress 127.0.0.1\nTorPort 11081\n' > "$work/ts-11081.conf"

ticks() { [ -n "${1:-}" ] && awk '{ print $14 + $15 }' "/proc/$1/stat" || echo 0; }
# The CPU of the processes a shell has waited for (cutime + cstime: its clients).
waited() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$1/stat"; }
# The shell that runs the program on path $1: the path's own process, or for
# torsocks-ns the `sh` in its sandbox (the launcher's descendant).
program_shell() {
    local pid=$1
    for _ in 1 2 3 4; do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sh ] && { echo "$pid"; return; }
        pid=$(awk '{ print $1 }' "/proc/$pid/task/$pid/children" 2>/dev/null)
        [ -n "$pid" ] || return
    done
}
rss() { [ -n "${1:-}" ] && awk '/VmRSS/ { print $2 }' "/proc/$1/status" || echo 0; }
hz=$(getconf CLK_TCK)
# The whole machine's CPU ticks: "busy total" (user, nice, system, irq, softirq, steal;
# total adds idle and iowait). Every process of a path (client, SOCKS server, target,
# the process in the middle, the kernel's work for them) is in it: on two cores, when
# busy nears 100 %, the path is bound by CPU and its rate follows its CPU per unit.
machine() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
# "CPU-per-unit (busy %)" between two machine samples, for n units of the given scale.
machine_cost() { # before after units scale format
    awk -v a="$1" -v b="$2" -v n="$3" -v scale="$4" -v hz="$hz" -v fmt="$5" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; total = y[2] - x[2]
        printf fmt " (%.0f %%)", busy / hz * scale / n, 100 * busy / total }'
}

# Starts `sh -c BODY` through path $1 (port $2) with fifos on stdin and stdout; sets
# mid (the pid of the process in the middle, if any) and opens fd 3 (to it) and 4.
start() {
    local path=$1 port=$2 body=$3 cl=$client
    rm -f "$work/in" "$work/out"
    mkfifo "$work/in" "$work/out"
    mid=
    case $path in
        socks) cl="$client --socks 127.0.0.1:$port" ;;
    esac
    body=${body//CLIENT/$cl}
    case $path in
        socks | direct) sh -c "$body" < "$work/in" > "$work/out" & ;;
        torsocks-ns) TORSOCKS_CONF_FILE=/dev/null ./target/release/torsocks-ns -P "$port" \
            -- sh -c "$body" < "$work/in" > "$work/out" & mid=$! ;;
        torsocks-ns-before) TORSOCKS_CONF_FILE=/dev/null "$BEFORE" -P "$port" \
            -- sh -c "$body" < "$work/in" > "$work/out" & mid=$! ;;
        preload-rs) TORSOCKS_CONF_FILE=$work/ts-$port.conf LD_PRELOAD=$rs_lib sh -c "$body" \
            < "$work/in" > "$work/out" & ;;
        preload-c) TORSOCKS_CONF_FILE=$work/ts-$port.conf LD_PRELOAD=$c_lib sh -c "$body" \
            < "$work/in" > "$work/out" & ;;
        proxychains) proxychains4 -q -f "$work/pc-$port.conf" sh -c "$body" \
            < "$work/in" > "$work/out" & ;;
        pasta) runuser -u nobody -- pasta --config-net -q -- sh -c "$body" \
            < "$work/in" > "$work/out" & ;;
        slirp4netns)
            rm -f "$work/go" "$work/ready"
            mkfifo "$work/ready"
            unshare --user --map-root-user --net sh -c \
                "while [ ! -e $work/go ]; do sleep 0.01; done; $body" < "$work/in" > "$work/out" &
            session=$!
            slirp4netns --configure --mtu=65520 --disable-host-loopback --ready-fd=5 \
                "$session" tap0 5> "$work/ready" >/dev/null 2>&1 &
            mid=$!
            pids+=("$mid")
            ;;
    esac
    [ "$path" = slirp4netns ] || session=$!
    exec 3> "$work/in" 4< "$work/out"
    if [ "$path" = slirp4netns ]; then head -c1 "$work/ready" >/dev/null; touch "$work/go"; fi
    if [ "$path" = pasta ]; then
        for _ in $(seq 100); do mid=$(pgrep -n -u nobody "^pas(ta|st)" || true); [ -n "$mid" ] && break; sleep 0.02; done
    fi
}
finish() {
    exec 3>&- 4<&-
    wait "$session" || true
    if [ -n "$mid" ]; then kill -KILL "$mid" 2>/dev/null || true; wait "$mid" 2>/dev/null || true; fi
}
# The median of the lines read; a transfer that failed prints "failed" instead of a
# figure (so that the reader is never left waiting for a line), and any failure shows.
median() { sort -n | awk '{ a[NR] = $1 } /failed/ { f = 1 } END { print f ? "failed" : a[int((NR + 1) / 2)] }'; }

rows=()
# One path: rate, CPU per connection, download, CPU per GB, idle memory, download
# with idle connections open.
measure() {
    local label=$1 path=$2 port=${3:-}
    local t0 t1 m0 m1 rates first last rate cpu_conn all_conn gbits cpu_gb all_gb up cpu_up r0 r1 per_idle loaded shell prog_conn
    start "$path" "$port" "read _; for i in \$(seq $rounds); do CLIENT rate $conns ${target[*]} || echo failed; done; echo end; read _"
    t0=$(ticks "$mid"); m0=$(machine); echo >&3
    rates=$(for _ in $(seq "$rounds"); do read -r line <&4; echo "$line"; done)
    read -r _ <&4
    t1=$(ticks "$mid"); m1=$(machine)
    shell=$(program_shell "$session" || true)
    prog_conn=-
    [ -n "$shell" ] && prog_conn=$(awk -v d="$(waited "$shell")" -v hz="$hz" -v n=$((rounds * conns)) 'BEGIN { printf "%.0f", d / hz * 1e6 / n }')
    finish
    all_conn=$(machine_cost "$m0" "$m1" $((rounds * conns)) 1e6 "%.0f")
    first=$(echo "$rates" | head -1); last=$(echo "$rates" | tail -1)
    rate=$(echo "$rates" | median)
    cpu_conn=-
    [ -n "$mid" ] && cpu_conn=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n=$((rounds * conns)) 'BEGIN { printf "%.0f", d / hz * 1e6 / n }')
    start "$path" "$port" "read _; for i in 1 2 3; do CLIENT bulk 2147483648 ${target[*]} || echo failed; done; read _"
    t0=$(ticks "$mid"); m0=$(machine); echo >&3
    gbits=$(for _ in 1 2 3; do read -r line <&4; echo "$line"; done | median)
    t1=$(ticks "$mid"); m1=$(machine); finish
    all_gb=$(machine_cost "$m0" "$m1" 6.442450944 1 "%.2f")
    cpu_gb=-
    [ -n "$mid" ] && cpu_gb=$(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.2f", d / hz / (3 * 2.147483648) }')
    start "$path" "$port" "read _; for i in 1 2 3; do CLIENT upload 2147483648 ${target[*]} || echo failed; done; read _"
    t0=$(ticks "$mid"); echo >&3
    up=$(for _ in 1 2 3; do read -r line <&4; echo "$line"; done | median)
    t1=$(ticks "$mid"); finish
    cpu_up=-
    [ -n "$mid" ] && cpu_up=$(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.2f", d / hz / (3 * 2.147483648) }')
    start "$path" "$port" "CLIENT idle $idle ${target[*]}"
    read -r _ <&4; r0=$(rss "$mid"); echo >&3
    read -r _ <&4; r1=$(rss "$mid"); echo >&3
    read -r loaded <&4; finish
    per_idle=-
    [ -n "$mid" ] && per_idle=$(awk -v a="$r0" -v b="$r1" -v n="$idle" 'BEGIN { printf "%.1f", (b - a) / n }')
    rows+=("$label|$rate|$first → $last|$prog_conn|$cpu_conn|$all_conn|$gbits|$cpu_gb|$all_gb|$up|$cpu_up|$per_idle|$loaded|${r0}")
    echo "done: $label" >&2
}

only=${ONLY:-}
for port in 11080 11081; do
    server=$([ "$port" = 11080 ] && echo microsocks || echo danted)
    [ -n "$only" ] || measure "SOCKS-aware client → $server" socks "$port"
    if [ -n "${BEFORE:-}" ]; then measure "before: torsocks-ns → $server" torsocks-ns-before "$port"; fi
    measure "torsocks-ns → $server" torsocks-ns "$port"
    [ -n "$only" ] && continue
    measure "torsocks-rs preload → $server" preload-rs "$port"
    measure "C torsocks 2.4.0 → $server" preload-c "$port"
    measure "proxychains4 → $server" proxychains "$port"
done
if [ -z "$only" ]; then
    measure "pasta (no SOCKS)" pasta
    measure "slirp4netns (no SOCKS)" slirp4netns
fi

echo
echo "$rounds rounds of $conns connect-request-close; 2 GiB downloads and uploads (median of 3); $idle idle connections"
echo
echo "| path | connections/s (median) | first → last round | program CPU µs/connection | CPU µs/connection | machine CPU µs/connection (busy) | 2 GiB Gbit/s | CPU s/GB | machine CPU s/GB (busy) | 2 GiB up Gbit/s | CPU s/GB up | KiB per idle connection | Gbit/s with $idle idle | RSS idle KiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do echo "| ${row//|/ | } |"; done

# Start-up: milliseconds for each of 40 runs, median and best.
times() {
    for _ in $(seq 40); do
        local s e
        s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
        echo $(( (e - s) / 1000 ))
    done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f | %.1f", a[int((NR + 1) / 2)] / 1000, a[1] / 1000 }'
}
echo
echo "| start-up (40 runs) | median ms | best ms |"
echo "|---|---|---|"
echo "| unshare -Urn true | $(times unshare -Urn true) |"
if [ -n "${BEFORE:-}" ]; then
    echo "| before: torsocks-ns true (SOCKS check against microsocks) | $(times env TORSOCKS_CONF_FILE=/dev/null "$BEFORE" -P 11080 true) |"
fi
echo "| torsocks-ns true (SOCKS check against microsocks) | $(times env TORSOCKS_CONF_FILE=/dev/null ./target/release/torsocks-ns -P 11080 true) |"
echo "| C torsocks true (Debian's wrapper) | $(times env TORSOCKS_CONF_FILE="$work/ts-11080.conf" /usr/bin/torsocks true) |"
echo "| torsocks-rs torsocks true (packaging/torsocks.in) | $(times env TORSOCKS_CONF_FILE="$work/ts-11080.conf" sh "$work/torsocks" true) |"
echo "| true, no preload | $(times true) |"
echo "| true with LD_PRELOAD of the C library | $(times env TORSOCKS_CONF_FILE="$work/ts-11080.conf" LD_PRELOAD="$c_lib" true) |"
echo "| true with LD_PRELOAD of torsocks-rs | $(times env TORSOCKS_CONF_FILE="$work/ts-11080.conf" LD_PRELOAD="$rs_lib" true) |"
