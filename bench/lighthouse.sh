#!/usr/bin/env bash
# Lighthouse 12 (mobile preset) on the pages `shenfen demo` serves: the index,
# /wallet/, /counter/ and /console/, in Debian's Chromium with the project's
# flags; prints performance / accessibility / best practices / SEO per page.
# A bench, not a test: it installs lighthouse@12.2.3 from the npm registry
# into a local prefix (once) and needs a built `shenfen` (SHENFEN_BIN, else
# target/debug/shenfen) and web/node_modules (`npm ci --prefix web`).
#
#   bench/lighthouse.sh                  # the table
#   LIGHTHOUSE_REPORTS=dir bench/lighthouse.sh   # also keeps each page's JSON report
set -euo pipefail
cd "$(dirname "$0")/.."

LIGHTHOUSE_VERSION=12.2.3
prefix="${LIGHTHOUSE_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/shenfen-lighthouse-$LIGHTHOUSE_VERSION}"
lighthouse="$prefix/node_modules/.bin/lighthouse"
if [[ ! -x "$lighthouse" ]]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "lighthouse@$LIGHTHOUSE_VERSION" >&2
fi

binary="${SHENFEN_BIN:-target/debug/shenfen}"
[[ -x "$binary" ]] || { echo "error: build shenfen first (cargo build -p shenfen-cli) or set SHENFEN_BIN" >&2; exit 3; }
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"

work="$(mktemp -d)"
demo_pid=""
cleanup() {
  [[ -n "$demo_pid" ]] && kill "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A free port, as the browser tests pick one.
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
"$binary" demo --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/demo.log" 2>&1 &
demo_pid=$!
for _ in $(seq 1 600); do
  grep -q 'shenfen serving on' "$work/demo.log" && break
  kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.log" >&2; exit 1; }
  sleep 0.5
done
grep -q 'shenfen serving on' "$work/demo.log" || { echo "error: shenfen demo did not start" >&2; exit 1; }

# The project's Chromium flags (web/tests/harness.mjs).
flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run"
printf '| page | performance | accessibility | best practices | SEO |\n|---|---|---|---|---|\n'
for page in / /wallet/ /counter/ /console/; do
  report="$work/report.json"
  # Mobile is Lighthouse's default form factor (Moto G Power emulation, slow 4G, 4× CPU slowdown).
  "$lighthouse" "http://127.0.0.1:$port$page" --quiet --output=json --output-path="$report" \
    --only-categories=performance,accessibility,best-practices,seo --chrome-flags="$flags" >&2
  if [[ -n "${LIGHTHOUSE_REPORTS:-}" ]]; then
    mkdir -p "$LIGHTHOUSE_REPORTS"
    name="${page//\//}"
    cp "$report" "$LIGHTHOUSE_REPORTS/${name:-index}.json"
  fi
  node -e '
    const report = require(process.argv[1]);
    const score = (id) => Math.round(report.categories[id].score * 100);
    const failed = Object.values(report.audits).filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode === "binary").map((a) => a.id);
    console.log(`| \`${process.argv[2]}\` | ${score("performance")} | ${score("accessibility")} | ${score("best-practices")} | ${score("seo")} |`);
    if (failed.length) console.error(`${process.argv[2]}: failed audits: ${failed.join(", ")}`);
  ' "$report" "$page"
done
