#!/usr/bin/env bash
# The whole test suite, as CI runs it. Run as root on Debian 12:
#
#   sudo tests/run.sh
#
# Installs the Debian packages the tests need (keeping Debian's tor service from
# starting: the tests start their own private Tor network), checks formatting and
# lints, then runs every tier: unit, integration (real programs against the mock Tor
# server and a target host in a network namespace) and end-to-end (real tor), and
# the Debian package's install, use, removal and purge (packaging/test-deb.sh), and
# each fuzz target for a few seconds (fuzz/run.sh) when a nightly toolchain is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: run as root (network namespaces, veth pairs, tor confinement)" >&2
    exit 1
fi

# Debian's tor package would start a tor service that contacts the real Tor network.
# policy-rc.d exiting 101 forbids package scripts to start any service.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
fi
packages=(tor torsocks curl dnsutils tmux busybox-static iproute2 netcat-openbsd socat libcap2-bin zsh python3 git
    wget openssh-client python3-pip chromium debhelper lintian man-db firefox-esr xvfb x11-apps
    zenity python3-pyqt5)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Should a tor service be running anyway (installed earlier by hand), it is not ours
# to stop: the tests use their own ports and never touch it.

# The programs the tests run inside sandboxes are the system's: the sandbox holds the
# system directories, not a root-run's home (where pyenv's or rustup's shims live).
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
start=$(date +%s)
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The minimal build, without the embedded Tor client, is checked and unit-tested too.
cargo clippy -p torsocks-ns --no-default-features --all-targets -- -D warnings
cargo test -q -p torsocks-ns --no-default-features --lib --bins
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
# The Debian package: built, installed over the C torsocks, used, removed, purged,
# and the machine's own torsocks put back.
cargo build -q -p torsocks-testkit --bin mock-tor
packaging/test-deb.sh target/debug/mock-tor
# The fuzz targets, briefly (fuzz/run.sh runs them as long as asked), where a nightly
# toolchain is installed: a crash fails the suite. The lints of the fuzzing entry points.
cargo clippy -p torsocks-ns --no-default-features --features fuzzing --lib -- -D warnings
if cargo +nightly --version >/dev/null 2>&1; then
    command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
    fuzz/run.sh "${FUZZ_SECONDS:-5}"
else
    echo "tests/run.sh: no nightly toolchain: the fuzz targets are not run"
fi
echo "tests/run.sh: all tiers passed in $(( $(date +%s) - start )) s"
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6; s += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
