#!/usr/bin/env bash
# An honest enrollment's latency and the server's memory while 16 anonymous
# clients flood a release `shenfen serve` (loopback only) with 16 MiB bodies
# of 6000×6000 JPEG frames — first to session ids the server never issued,
# then to sessions of their own — beside the same enrollment on the idle
# server, in one run. Needs the models (scripts/fetch-models.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p shenfen-cli -p shenfen-bench --bin shenfen --bin enrollment_under_abuse
target/release/enrollment_under_abuse target/release/shenfen "$PWD" "${1:-16}" "${2:-10}"
