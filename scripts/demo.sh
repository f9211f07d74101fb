#!/usr/bin/env bash
# The README's run command: fetches the face models (npm/PyPI, checksummed),
# builds shenfen, and runs `shenfen demo` — the credential walk-through, then
# the whole local stack (demo registry with real photos in an embedded SQLite
# database, the authority server and its web pages on 127.0.0.1:8080). Extra arguments go to
# `shenfen demo` (e.g. --listen 127.0.0.1:9000, --data-dir DIR, --no-serve).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh
# The web pages' two browser libraries (DEFLATE, QR rendering), by package name.
npm ci --prefix web --omit=dev --no-audit --no-fund --silent
exec cargo run --release -q -p shenfen-cli -- demo "$@"
