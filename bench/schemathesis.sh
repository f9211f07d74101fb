#!/usr/bin/env bash
# schemathesis (PyPI) against /openapi.json of a `shenfen demo`, with every
# check enabled: no request may make the server answer 5xx, and every answer
# must be one the generated document describes (status, content type,
# schema). Any failure fails the script. Bounded: at most MAX_EXAMPLES cases
# per operation and phase (default 30).
#   bench/schemathesis.sh [MAX_EXAMPLES]
# SHENFEN_BIN names a built `shenfen` binary to run (scripts/test.sh passes
# its debug build); without it a release build is made.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v schemathesis >/dev/null || pip install -q schemathesis==4.32.5
shenfen=${SHENFEN_BIN:-}
if [ -z "$shenfen" ]; then
  cargo build --release --locked -q -p shenfen-cli
  shenfen="${CARGO_TARGET_DIR:-target}/release/shenfen"
fi
data=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$shenfen" demo --listen "127.0.0.1:$port" --data-dir "$data" >"$data/demo.log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null; rm -rf "$data"' EXIT
until grep -q "shenfen serving on" "$data/demo.log"; do sleep 1; done
schemathesis run "http://127.0.0.1:$port/openapi.json" --checks all --max-examples "${1:-30}" \
  --request-timeout 30 --no-color
