#!/usr/bin/env bash
# Registry import rate against each database's own bulk-load rate for the same
# rows, in one run: `shenfen registry import --no-faces` of N synthetic
# citizens into SQLite and into PostgreSQL, then the sealed rows it wrote
# reloaded by PostgreSQL COPY and by batched SQLite inserts (Python sqlite3),
# the fastest way each database takes rows in.
#
# Usage: bench/registry_import.sh [N] [postgres]   (default 1000000; needs
# PostgreSQL at 127.0.0.1:5432; `postgres` skips SQLite, for the 20 M run)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
only=${2:-both}
pg=${SHENFEN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
work=$(mktemp -d)
trap 'rm -rf "$work"; psql "$pg" -qc "DROP SCHEMA IF EXISTS bench_import CASCADE; DROP SCHEMA IF EXISTS bench_copy CASCADE" >/dev/null 2>&1 || true' EXIT

cargo build --release -q -p shenfen-cli
shenfen=$PWD/target/release/shenfen
export SHENFEN_MASTER_KEYS="k1:$(printf 'ab%.0s' $(seq 32))" SHENFEN_INDEX_KEY="$(printf 'cd%.0s' $(seq 32))"
"$shenfen" registry synth --count "$n" --out "$work" >/dev/null

seconds() { local start end; start=$(date +%s%N); "$@" >/dev/null; end=$(date +%s%N); echo "$(( (end - start) / 1000000 ))e-3"; }

if [ "$only" != postgres ]; then
  t_sqlite=$(seconds "$shenfen" registry import --records "$work/records.csv" --no-faces --batch 5000 --db "sqlite:$work/shenfen.db")
fi
psql "$pg" -qc "DROP SCHEMA IF EXISTS bench_import CASCADE; CREATE SCHEMA bench_import; DROP SCHEMA IF EXISTS bench_copy CASCADE; CREATE SCHEMA bench_copy" >/dev/null 2>&1
t_pg=$(seconds "$shenfen" registry import --records "$work/records.csv" --no-faces --batch 5000 --db "$pg?options=-c%20search_path%3Dbench_import")

psql "$pg" -qc "\\copy bench_import.citizens TO '$work/citizens.bin' WITH (FORMAT binary)"
psql "$pg" -qc "CREATE TABLE bench_copy.citizens (LIKE bench_import.citizens INCLUDING ALL)"
t_copy=$(seconds psql "$pg" -qc "\\copy bench_copy.citizens FROM '$work/citizens.bin' WITH (FORMAT binary)")

if [ "$only" = postgres ]; then
  python3 - "$n" "$t_pg" "$t_copy" <<'PY'
import sys
n, t_pg, t_copy = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"{n:,} synthetic citizens into PostgreSQL, sealed, no face templates")
print(f"shenfen import: {n / t_pg:,.0f} rows/s, {t_pg / 60:.1f} min; COPY (binary): {n / t_copy:,.0f} rows/s, {t_copy / 60:.1f} min; import = {t_copy / t_pg:.2f}× of COPY")
PY
  exit 0
fi

t_sqlite_raw=$(python3 - "$work" <<'PY'
import sqlite3, sys, time
work = sys.argv[1]
rows = sqlite3.connect(f"{work}/shenfen.db").execute("SELECT blind_index, key_id, wrapped_key, ciphertext, updated_at FROM citizens").fetchall()
db = sqlite3.connect(f"{work}/raw.db", isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE citizens (blind_index BLOB PRIMARY KEY, key_id TEXT NOT NULL, wrapped_key BLOB NOT NULL, ciphertext BLOB NOT NULL, updated_at BIGINT NOT NULL)")
start = time.perf_counter()
for i in range(0, len(rows), 5000):
    db.execute("BEGIN")
    db.executemany("INSERT INTO citizens VALUES (?, ?, ?, ?, ?)", rows[i:i + 5000])
    db.execute("COMMIT")
print(time.perf_counter() - start)
PY
)

python3 - "$n" "$t_sqlite" "$t_sqlite_raw" "$t_pg" "$t_copy" <<'PY'
import sys
n, t_sqlite, t_raw, t_pg, t_copy = int(sys.argv[1]), *map(float, sys.argv[2:])
rate = lambda t: n / t
print(f"{n:,} synthetic citizens, sealed (AES-256-GCM envelope + HMAC blind index), no face templates")
print(f"{'':<34}{'rows/s':>12}{'seconds':>10}")
print(f"{'shenfen import → SQLite':<34}{rate(t_sqlite):>12,.0f}{t_sqlite:>10.1f}")
print(f"{'  baseline: batched inserts':<34}{rate(t_raw):>12,.0f}{t_raw:>10.1f}   import = {t_raw / t_sqlite:.2f}× of baseline rate")
print(f"{'shenfen import → PostgreSQL':<34}{rate(t_pg):>12,.0f}{t_pg:>10.1f}")
print(f"{'  baseline: COPY (binary)':<34}{rate(t_copy):>12,.0f}{t_copy:>10.1f}   import = {t_copy / t_pg:.2f}× of baseline rate")
print(f"20,000,000 rows extrapolated linearly: PostgreSQL {20e6 / rate(t_pg) / 60:.1f} min, SQLite {20e6 / rate(t_sqlite) / 60:.1f} min")
PY
