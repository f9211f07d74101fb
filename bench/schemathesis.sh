#!/usr/bin/env bash
# schemathesis (PyPI) against /openapi.json of a `shenfen demo`, with every
# check enabled (bench/schemathesis.toml): no request may make the server answer 5xx, and every answer
# must be one the generated document describes (status, content type,
# schema). Two passes: every operation unauthenticated, then the operator
# endpoints signed in as a supervisor. Any failure fails the script. Bounded:
# at most MAX_EXAMPLES cases per operation and phase (default 30), and 4
# minutes per pass. The few checks
# widened where JSON Schema cannot say what is valid are in
# bench/schemathesis.toml, each with its reason.
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
for _ in $(seq 120); do
  grep -qs "shenfen serving on" "$data/demo.log" && break
  kill -0 $demo 2>/dev/null || { cat "$data/demo.log"; exit 1; }
  sleep 1
done
run() {
  timeout 240 schemathesis --config-file bench/schemathesis.toml run "http://127.0.0.1:$port/openapi.json" \
    --max-examples "${1:-30}" --request-timeout 30 --no-color "${@:2}"
}
# Every operation as anyone may call it.
run "${1:-30}"
# Then the operator endpoints past their door: signed in as the demo's
# supervisor (whose password the demo printed), but for /operator/logout,
# which would end the session the pass runs on.
password=$(grep -oP 'Operator demo-supervisor\s+\(\w+\) password: \K\S+' "$data/demo.log")
token=$(python3 - "$port" "$password" <<'PY'
import json, sys, urllib.request
port, password = sys.argv[1:]
body = json.dumps({"username": "demo-supervisor", "password": password}).encode()
request = urllib.request.Request(f"http://127.0.0.1:{port}/operator/login", body, {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(request))["token"])
PY
)
run "${1:-30}" -H "Authorization: Bearer $token" --include-path-regex '^/operator/(?!logout)'

