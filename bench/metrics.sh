#!/usr/bin/env bash
# A street's participation figures over a year, at scale: seeds 20 communities, 200
# organizations, 20,000 residents and 1,000,000 attendance rows into a fresh PostgreSQL
# database through the bulk path, starts the release server on it, and times
# GET /regions/{street}/metrics for the year. Target: p95 ≤ 50 ms.
#
#   bash bench/metrics.sh            (PostgreSQL on 127.0.0.1:5432, user root, trust)
set -euo pipefail
cd "$(dirname "$0")/.."
PG_ADMIN="${PG_ADMIN:-postgres://root@127.0.0.1:5432/test}"
DB=linli_bench_metrics
DB_URL="${PG_ADMIN%/*}/$DB"
PORT="${BENCH_PORT:-18080}"
OUT=bench/out
mkdir -p "$OUT"

echo "== building release"
cargo build --release -q -p linli-server
BIN="${CARGO_TARGET_DIR:-target}/release/linli"

echo "== fresh database $DB"
psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -qc "CREATE DATABASE $DB"
DATABASE_URL="$DB_URL" "$BIN" seed-demo >/dev/null
seed_start=$(date +%s.%N)
psql "$DB_URL" -q -f bench/seed_street.sql
seed_end=$(date +%s.%N)
printf 'seeded in %.1f s\n' "$(echo "$seed_end - $seed_start" | bc)"
STREET=$(psql "$DB_URL" -Atc "SELECT id FROM regions WHERE code = '620102099000'")
DATABASE_URL="$DB_URL" "$BIN" grant-role --openid bench-street --role street --scope "$STREET" >/dev/null

echo "== server"
DATABASE_URL="$DB_URL" BIND="127.0.0.1:$PORT" RUST_LOG=warn RATE_LIMIT_PER_MINUTE=0 "$BIN" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -fs -XPOST "http://127.0.0.1:$PORT/api/v1/auth/wechat/login" -H 'content-type: application/json' \
  -d '{"code":"bench-street"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
FROM=$(date -u -d '-365 days' +%Y-%m-%d)

echo "== GET /regions/$STREET/metrics?from=$FROM (a street, 20 communities, a year)"
python3 bench/measure.py "http://127.0.0.1:$PORT" "$TOKEN" "/api/v1/regions/$STREET/metrics?from=$FROM" 100 street_metrics_year \
  | tee "$OUT/metrics.json"
python3 - "$OUT/metrics.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["p95_ms"] <= 50
print(f"target: street metrics over a year p95 ≤ 50 ms → {r['p95_ms']} ms: {'met' if ok else 'MISSED'}")
PY
