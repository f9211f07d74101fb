#!/usr/bin/env bash
# The test command of the README: installs what the tests need by package
# name, then runs every test of the workspace (unit, property, spec vectors,
# CLI contract, interop with the independent @sd-jwt implementation, and the
# face engine on real photos with real models), then the browser tests: the
# web pages in Debian's Chromium with a fake camera fed from real photos.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# A CJK font, so the screenshots show the Chinese UI text rather than boxes.
[ -d /usr/share/fonts/truetype/wqy ] || need_apt+=(fonts-wqy-zenhei)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (Debian packages)"
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The store's suite runs against the real PostgreSQL server of these machines.
if ! (command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432); then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi

# Face models, the ONNX Runtime library and the labelled photos (npm, PyPI).
scripts/fetch-models.sh

# The independent SD-JWT implementation the interop tests run against.
npm ci --prefix interop/sd-jwt-js --no-audit --no-fund --silent

# The pages' browser libraries and the browser-test tools (playwright-core, axe-core).
npm ci --prefix web --no-audit --no-fund --silent

# The Python relying party the sign-in tests run (PyPI: Authlib).
python3 -m pip install --quiet --root-user-action=ignore -r interop/python-relying-party/requirements.txt

cargo test --workspace --locked "$@"

# The journeys in a real browser, against the `shenfen demo` binary just built
# and the Rust relying party of the sign-in tests.
cargo build --locked -q -p shenfen-cli -p oidc-relying-party
npm test --prefix web

# The API against its OpenAPI document: schemathesis (PyPI), every check, bounded
# (about a minute on 2 cores; the script stops it at 4 minutes).
SHENFEN_BIN="${CARGO_TARGET_DIR:-target}/debug/shenfen" bench/schemathesis.sh 30
