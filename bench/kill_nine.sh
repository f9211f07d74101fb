#!/usr/bin/env bash
# Crash consistency at scale: 100 SIGKILLs of a release `shenfen serve` while
# clients enroll, get credentials and withdraw them, on SQLite and on
# PostgreSQL; then `shenfen audit verify` and the state checked against its
# audit entries (bench/src/bin/kill_nine.rs). Needs the models and the
# PostgreSQL server these machines run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p shenfen-cli -p shenfen-bench --bin shenfen --bin kill_nine
for backend in sqlite postgres; do
  target/release/kill_nine target/release/shenfen "$PWD" "$backend" "${1:-100}" "${2:-4}"
done
