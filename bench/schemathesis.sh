#!/usr/bin/env bash
# schemathesis (PyPI) against /openapi.json of a release `shenfen demo`, with
# every check enabled; the question for the server is the `not_a_server_error`
# check: no request may make it answer 5xx. (That the hand-written document
# has no schemas, so other checks fail, is what the OpenAPI issue fixes.)
#   bench/schemathesis.sh [MAX_EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v schemathesis >/dev/null || pip install -q schemathesis==4.32.5
cargo build --release --locked -q -p shenfen-cli
data=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/release/shenfen demo --listen "127.0.0.1:$port" --data-dir "$data" >"$data/demo.log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null; rm -rf "$data"' EXIT
until grep -q "shenfen serving on" "$data/demo.log"; do sleep 1; done
schemathesis run "http://127.0.0.1:$port/openapi.json" --checks all --max-examples "${1:-100}" \
  --report junit --report-junit-path "$data/junit.xml" --no-color 2>&1 | tail -n 40 || true
echo "5xx answers (not_a_server_error failures): $(grep -c 'Server error' "$data/junit.xml" || true)"
