#!/usr/bin/env bash
# The web pages' weight and load time in headless Chromium against a release
# `shenfen demo`, beside /healthz loaded the same way (bench/web_pages.mjs).
# Needs what scripts/test.sh installs (chromium, web/node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p shenfen-cli
SHENFEN_BIN=target/release/shenfen node bench/web_pages.mjs
