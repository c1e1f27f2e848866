#!/usr/bin/env bash
# The Debian package's life on this machine, as root: build it, install it (it
# replaces the C torsocks), install it again over itself, use it through the installed
# paths only, remove it (only conffiles stay), purge it (nothing stays), and put back
# whatever torsocks package the machine had. tests/run.sh runs it after the tests.
#
#   packaging/test-deb.sh MOCK_TOR
#
# MOCK_TOR is the suite's mock Tor (target/debug/mock-tor): it answers every CONNECT
# itself and echoes, so nothing is relayed anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
mock_bin=${1:?usage: packaging/test-deb.sh MOCK_TOR}
[ "$(id -u)" -eq 0 ] || { echo "test-deb.sh: run as root" >&2; exit 1; }

fail() { echo "test-deb.sh: FAILED: $*" >&2; exit 1; }
status() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' ' || true; }

deb=$(packaging/build-deb.sh | tail -n 1)
files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')
conffiles=$(dpkg-deb -I "$deb" conffiles)

had_c_torsocks=$(status torsocks)
work=$(mktemp -d)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    if [ -n "$(status torsocks-rs)" ]; then dpkg -P torsocks-rs >/dev/null || true; fi
    if [ "$had_c_torsocks" = ii ]; then
        # Its conffile went with our purge: --force-confmiss puts it back.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall \
            -o Dpkg::Options::=--force-confmiss torsocks >/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "test-deb.sh: installing $deb"
dpkg -i "$deb" >/dev/null
[ "$(status torsocks-rs)" = ii ] || fail "torsocks-rs is not installed"
[ "$had_c_torsocks" != ii ] || [ "$(status torsocks)" != ii ] || fail "the C torsocks is still installed"
dpkg -i "$deb" >/dev/null || fail "installing the same version again"
[ "$(status torsocks-rs)" = ii ] || fail "torsocks-rs is not installed after the reinstall"

"$mock_bin" --succeed 0 smoke.test=192.0.2.7 > "$work/mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/mock.log" && break
    sleep 0.1
done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/mock.log")
[ -n "$port" ] || fail "the mock Tor did not start"
for cmd in /usr/bin/torsocks /usr/bin/torsocks-ns; do
    got=$(printf 'hello\n' | TORSOCKS_CONF_FILE=/dev/null timeout 20 "$cmd" -P "$port" \
        curl -sS --max-time 3 telnet://smoke.test:80 2>/dev/null || true)
    [ "$got" = hello ] || fail "$cmd curl through the mock printed '$got'"
    echo "test-deb.sh: $cmd curl went through the SOCKS port"
done
grep -q "host: Some(\"smoke.test\")\|host: Some(\"192.0.2.7\")" "$work/mock.log" \
    || fail "the mock saw no CONNECT"
/usr/bin/torsocks-ns --version | grep -q "^torsocks-ns $(dpkg-query -W -f='${Version}' torsocks-rs)" \
    || fail "torsocks-ns --version"
MANWIDTH=200 MANPAGER=cat man torsocks-ns 2>/dev/null | grep -q "only way out is Tor" || fail "man torsocks-ns"
MANWIDTH=200 MANPAGER=cat man 5 torsocks.conf 2>/dev/null | grep -q TorControlPort || fail "man torsocks.conf"
# The embedded client's program is installed where torsocks-ns finds it: pointed at a
# network whose only authority and cache are a closed loopback port (nothing else is
# ever contacted), it answers with its own bootstrap error.
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/arti.toml" <<EOF
[tor_network]
authorities = { v3idents = ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"], uploads = [["127.0.0.1:$closed"]], downloads = [["127.0.0.1:$closed"]], votes = [["127.0.0.1:$closed"]] }
fallback_caches = [{ rsa_identity = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", ed_identity = "7TfQHXZP7SvdtxnMXQh1CCxvqSnU/9wJ4O7JupzdOXY", orports = ["127.0.0.1:$closed"] }]
[address_filter]
allow_local_addrs = true
[storage.permissions]
dangerously_trust_everyone = true
EOF
got=$(TORSOCKS_CONF_FILE=/dev/null timeout 60 /usr/bin/torsocks-ns --tor embedded \
    --bootstrap-timeout 3 --tor-state "$work/arti" --arti-config "$work/arti.toml" -- true 2>&1 || true)
case $got in
    *"has not bootstrapped within 3 s"*) echo "test-deb.sh: torsocks-ns started the embedded client" ;;
    *) fail "torsocks-ns --tor embedded: $got" ;;
esac
bash -c '. /usr/share/bash-completion/completions/torsocks-ns && complete -p torsocks-ns' \
    >/dev/null || fail "the bash completion of torsocks-ns does not load"
bash -c '. /usr/share/bash-completion/completions/torsocks && complete -p torsocks' \
    >/dev/null || fail "the bash completion of torsocks does not load"

dpkg -r torsocks-rs >/dev/null
[ "$(status torsocks-rs)" = rc ] || fail "after dpkg -r the state is '$(status torsocks-rs)'"
for f in $files; do
    if echo "$conffiles" | grep -qx "$f"; then
        [ -e "$f" ] || fail "dpkg -r removed the conffile $f"
    else
        [ ! -e "$f" ] || fail "dpkg -r left $f"
    fi
done
dpkg -P torsocks-rs >/dev/null
[ -z "$(status torsocks-rs)" ] || [ "$(status torsocks-rs)" = un ] || fail "after dpkg -P the state is '$(status torsocks-rs)'"
for f in $files; do
    [ ! -e "$f" ] || fail "dpkg -P left $f"
done
echo "test-deb.sh: the package installs, reinstalls, works, removes and purges cleanly"
