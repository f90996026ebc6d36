#!/usr/bin/env bash
# Records over HTTP on this machine: single-record GET, list of 20, and
# create throughput, with wrk, after seeding records through the API.
#
#   benches/records.sh             # SQLite (a fresh file in a temp dir)
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benches/records.sh
#                                  # also PostgreSQL (a fresh database, served as the runtime role)
#
# Needs wrk (Debian package `wrk`; installed when missing and we are root).
# Stops only what it started; every load is bounded in time. SEED records
# are created first (default 10000).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
SEED=${SEED:-10000}
CACHE="${BENCH_CACHE:-$ROOT/target/bench-cache}"
# shellcheck source=benches/bench_lib.sh
source "$ROOT/benches/bench_lib.sh"
WORK=$(mktemp -d)
trap 'stop_started; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
install_wrk
build_bulkhead

# row LABEL WRK_ARGS...: one line of the table.
row() {
  local label=$1
  shift
  run_wrk "$@"
  printf '%-34s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$label" "$RPS" "$P50" "$P99" "$NON2XX"
}

measure() {
  local name=$1
  python3 benches/records_seed.py "$BH_BASE" "$SEED" "$WORK/seed-$name"
  # shellcheck disable=SC1090
  source "$WORK/seed-$name"
  local auth="Authorization: Bearer $TOKEN" notes="$BH_BASE/v1/tenants/bench/collections/notes/records"
  echo "== $name ($SEED records seeded; wrk -t2 -c$CONNECTIONS -d$DURATION)"
  row "GET one record" -H "$auth" "$notes/$RECORD_ID"
  row "GET list of 20 (newest first)" -H "$auth" "$notes?limit=20"
  row "GET list of 20, filter n > 500" -H "$auth" "$notes?limit=20&filter=n%20%3E%20500&sort=-n"
  cat >"$WORK/create.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"title":"bench note","n":42}'
LUA
  row "POST create" -s "$WORK/create.lua" "$notes"
}

machine_line
on_each_backend "$WORK" measure
