#!/usr/bin/env bash
# The benchmark harness: builds release, seeds a district into a fresh PostgreSQL database
# through the bulk path, starts Linli on it with Redis and the fake WeChat, and measures
# everything in one run (see bench/harness.py). Results: bench/out/results.json.
#
#   bash bench/run.sh
#
# Needs PostgreSQL (127.0.0.1:5432, user root, trust), pgbench, Redis (127.0.0.1:6379) and
# wrk; installs wrk from Debian's packages when missing. BENCH_DURATION (seconds per load
# run, default 10), BENCH_CONNECTIONS (default 64), BENCH_CROWD_CONNECTIONS (default 256);
# for a quick look, BENCH_REUSE_DB=1 (keep the seeded database) and BENCH_PHASES (a
# comma-separated subset of browse,pgbench,crowd,metrics,dispatch); BENCH_REPEAT=n runs
# pgbench and the crowds n times in turn and judges each crowd by its median round (this
# machine's single runs differ by up to half). BENCH_PHASES=regions
# alone runs bench/regions.py: the whole country's region tree imported and browsed.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_ADMIN="${PG_ADMIN:-postgres://root@127.0.0.1:5432/test}"
DB=linli_bench
export DATABASE_URL="${PG_ADMIN%/*}/$DB"
export BENCH_PORT="${BENCH_PORT:-18080}"
FAKE_ADDR="127.0.0.1:${BENCH_FAKE_PORT:-18090}"
export BENCH_FAKE="http://$FAKE_ADDR"
export BENCH_OUT="${BENCH_OUT:-bench/out/results.json}"
TARGET="${CARGO_TARGET_DIR:-target}/release"
# LINLI_BIN=path measures another build of the server (an older commit, for before/after).
export LINLI_BIN="${LINLI_BIN:-$TARGET/linli}" CROWD_BIN="$TARGET/crowd"
mkdir -p "$(dirname "$BENCH_OUT")"
: >"$(dirname "$BENCH_OUT")/server.log"

command -v wrk >/dev/null || { echo "== installing wrk"; apt-get install -y -qq wrk >/dev/null; }
command -v pgbench >/dev/null || { echo "pgbench is missing (Debian: postgresql-client)"; exit 1; }
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not running on 127.0.0.1:5432"; exit 1; }
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not running on 127.0.0.1:6379"; exit 1; }

echo "== building release"
cargo build --release -q -p linli-server -p linli-tests --bin linli --bin fake-wechat --bin crowd

"$TARGET/fake-wechat" "$FAKE_ADDR" >/dev/null &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT

if [ "${BENCH_PHASES:-}" = regions ]; then
  : # its own database, made by bench/regions.py
elif [ "${BENCH_REUSE_DB:-}" = 1 ]; then
  echo "== reusing database $DB (BENCH_REUSE_DB=1)"
  "$LINLI_BIN" migrate >/dev/null
else
  echo "== fresh database $DB: migrations, demo data, the district (bulk path)"
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -qc "CREATE DATABASE $DB"
  "$LINLI_BIN" migrate >/dev/null
  "$LINLI_BIN" seed-demo >/dev/null
  seed_start=$(date +%s.%N)
  psql "$DATABASE_URL" -q -f bench/seed_district.sql
  # The SQL writes participant_years as closing does; the monthly sets come from them.
  "$LINLI_BIN" rebuild-figures
  seed_end=$(date +%s.%N)
  export BENCH_SEED_SECONDS
  BENCH_SEED_SECONDS=$(echo "$seed_end - $seed_start" | bc)
  printf 'seeded in %.1f s\n' "$BENCH_SEED_SECONDS"
fi

# Production settings, with the fake WeChat behind WECHAT_API_BASE. The rate limit stays
# on (counted in Redis) but high enough that one loopback client is not refused.
export APP_ENV=production
export REDIS_URL=redis://127.0.0.1:6379
export REDIS_PREFIX="linli-bench-$$:"
export JWT_SECRET
JWT_SECRET=$(head -c 36 /dev/urandom | base64)
export WECHAT_APPID=wx-test-appid WECHAT_SECRET=wx-test-secret WECHAT_API_BASE="$BENCH_FAKE"
export WECHAT_TEMPLATE_REMINDER=bench-tpl-reminder WECHAT_TEMPLATE_SIGNUP=bench-tpl-signup
export BIND="127.0.0.1:$BENCH_PORT" RUST_LOG=warn LOG_FORMAT=json
# Each server's Prometheus listener on a free port: with the default 127.0.0.1:9464 the
# replicas and the SQLite server could not start beside the first (address in use).
export METRICS_BIND=127.0.0.1:0
# The image's allocator settings (see the Dockerfile), so the RSS measured is the deployed one.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-131072}"
export RATE_LIMIT_PER_MINUTE=100000000 DISPATCH_INTERVAL=1s ACCESS_TOKEN_TTL=2h
# The pool sized for this 2-core machine (2 × cores + 1); pgbench gets as many clients.
export DATABASE_MAX_CONNECTIONS="${DATABASE_MAX_CONNECTIONS:-5}"

if [ "${BENCH_PHASES:-}" = regions ]; then
  python3 bench/regions.py
else
  python3 bench/harness.py
fi
