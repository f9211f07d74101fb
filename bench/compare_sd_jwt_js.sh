#!/usr/bin/env bash
# Side-by-side: shenfen's credential pipeline against the OpenWallet
# Foundation's TypeScript SD-JWT implementation (@sd-jwt/sd-jwt-vc on Node.js),
# same reference case (SD-JWT VC, 3 selectively disclosable claims, 1
# disclosed, key binding, cached status list), one thread each, same run.
#
# Usage: bench/compare_sd_jwt_js.sh [ITERATIONS]   (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}

[ -d interop/sd-jwt-js/node_modules/@sd-jwt/sd-jwt-vc ] || npm ci --prefix interop/sd-jwt-js --silent
ours=$(cargo run --release -q -p shenfen-bench -- credential --json --iterations "$n")
theirs=$(node interop/sd-jwt-js/interop.mjs bench --iterations "$n")

python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"one thread, {ours['iterations']} operations per phase; shenfen vs {theirs['implementation']}")
print(f"{'operation':<26}{'shenfen /s':>12}{'sd-jwt-js /s':>14}{'ratio':>8}")
for key, label in [("issue_per_sec", "issue"), ("present_per_sec", "present (KB-JWT)"),
                   ("verify_per_sec", "verify (+status)"), ("raw_es256_verify_per_sec", "raw ES256 verify")]:
    a, b = ours[key], theirs[key]
    print(f"{label:<26}{a:>12,.0f}{b:>14,.0f}{a / b:>7.1f}x")
for name, r in [("shenfen", ours), ("sd-jwt-js", theirs)]:
    floor = r["raw_es256_verify_per_sec"] / 2
    print(f"{name:<10} verify reaches {100 * r['verify_per_sec'] / floor:5.1f} % of its own 2-signature floor")
PY
