#!/usr/bin/env bash
# Starts the private Tor network and keeps it up until Ctrl-C (see README.md here).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run --quiet -p torsocks-testkit --bin tornet -- "$@"
