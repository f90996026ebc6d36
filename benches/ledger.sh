#!/usr/bin/env bash
# Ledger transfers per second (and p50/p99 latency) on SQLite and on
# PostgreSQL, with compare.sh's W3 (record creates) measured on the same
# server in the same run as the yardstick.
#
#   benches/ledger.sh
#   DURATION=2 WARMUP=1 benches/ledger.sh                 # a try-out (not a result)
#   SERVERS=sqlite CONNECTIONS=64 benches/ledger.sh
#
# Per backend, one fresh Bulkhead (release build; SQLite in a new data
# directory, PostgreSQL in a new database bulkhead_bench_<pid> served as the
# runtime role bulkhead_app, skipped with a message when unreachable), seeded
# through its HTTP API, then, one after the other:
#   pairs  transfers between a random pair of ACCOUNTS accounts of one tenant
#   hot    transfers back and forth between one pair of accounts
#   W3     compare.sh's record create (benches/peer/measure.py's W3 on data
#          seeded by benches/bench_seed.py, at W3_TENANTS/W3_USERS_PER_TENANT/
#          W3_NOTES, smaller than compare.sh's defaults so that seeding is short)
# Every transfer request carries an Idempotency-Key of its own
# (benches/ledger.lua), moves 0.01 to 0.99 between accounts funded with
# 1,000,000.00, and so must be answered 201: any other answer, and any socket
# error, is counted and printed as an error. Each measurement is a WARMUP-second
# run, a wait until the server is idle, and a DURATION-second run, with wrk
# (-t THREADS -c CONNECTIONS). Prints a Markdown table and writes it to
# benches/results/ledger-latest.md (JSON beside it); exits 1 when a workload
# had errors. Run data goes under the cache dir, not into git.
#
# Knobs (environment):
#   DURATION=20  WARMUP=5  CONNECTIONS=32  THREADS=2  WRK_TIMEOUT=30
#   SERVERS="sqlite postgres"  ACCOUNTS=100  CONCURRENCY=16 (seeding connections)
#   W3_TENANTS=100  W3_USERS_PER_TENANT=10  W3_NOTES=10000  W3_POOL=50
#   BENCH_CACHE=<repo>/target/bench-cache
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (owner)
#
# Stops only the processes it started and drops the databases it created (trap
# on EXIT/INT/TERM); every load step is bounded by wrk's -d.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# the exact command, with the knobs that were set, for the report's header
KNOBS=(DURATION WARMUP CONNECTIONS THREADS WRK_TIMEOUT SERVERS ACCOUNTS CONCURRENCY
       W3_TENANTS W3_USERS_PER_TENANT W3_NOTES W3_POOL)
COMMAND=""
for k in "${KNOBS[@]}"; do
  [ -n "${!k+x}" ] && COMMAND+="$k=$(printf '%q' "${!k}") "
done
COMMAND+="benches/ledger.sh"

DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
WRK_TIMEOUT="${WRK_TIMEOUT:-30}"
SERVERS="${SERVERS:-sqlite postgres}"
ACCOUNTS="${ACCOUNTS:-100}"
CONCURRENCY="${CONCURRENCY:-16}"
W3_TENANTS="${W3_TENANTS:-100}"
W3_USERS_PER_TENANT="${W3_USERS_PER_TENANT:-10}"
W3_NOTES="${W3_NOTES:-10000}"
W3_POOL="${W3_POOL:-50}"
CACHE="${BENCH_CACHE:-$ROOT/target/bench-cache}"

# shellcheck source=benches/bench_lib.sh
source "$ROOT/benches/bench_lib.sh"
trap stop_started EXIT
trap 'stop_started; exit 130' INT TERM

wanted() { [[ " $SERVERS " == *" $1 "* ]]; }

# measure_transfers MODE DIR: one ledger workload on the server at BH_BASE.
measure_transfers() {
  log "$1 on $(basename "$2")"
  run_child python3 "$ROOT/benches/ledger_bench.py" measure --base "$BH_BASE" --pid "$BH_PID" \
    --out-dir "$2" --mode "$1" --out "$2/$1.json" --threads "$THREADS" --conns "$CONNECTIONS" \
    --duration "$DURATION" --warmup "$WARMUP" --timeout "$WRK_TIMEOUT" >&2
}

# measure_w3 DIR: compare.sh's W3 on the server at BH_BASE, with fresh tokens.
measure_w3() {
  local dir=$1
  log "W3 on $(basename "$dir")"
  run_child python3 "$ROOT/benches/bench_seed.py" login --base "$BH_BASE" --out-dir "$dir/w3"
  run_child python3 "$PEER/measure.py" --base "$BH_BASE" --pid "$BH_PID" \
    --target "$dir/w3/target.env" --fixtures "$dir/w3/fixtures.tsv" --out "$dir/W3.json" \
    --scratch "$dir/w3/wrk" --workloads W3 --extra "" --threads "$THREADS" \
    --conns "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP" --timeout "$WRK_TIMEOUT" >&2
}

# one_backend sqlite|postgres: a fresh server, seeded and measured, then gone.
one_backend() {
  local name=$1 dir=$RUN_DIR/$1 db=""
  mkdir -p "$dir"
  if [ "$name" = postgres ]; then
    db="bulkhead_bench_ledger_$$"
    pg_create_db "$db"
    start_bulkhead "$dir/server.log" --database-url "$PG_APP_URL"
  else
    start_bulkhead "$dir/server.log" --data-dir "$dir/data"
  fi
  log "Bulkhead $name: pid $BH_PID at $BH_BASE, seeding"
  run_child python3 "$ROOT/benches/ledger_bench.py" seed --base "$BH_BASE" --out-dir "$dir" \
    --accounts "$ACCOUNTS" --concurrency "$CONCURRENCY"
  run_child python3 "$ROOT/benches/bench_seed.py" seed --base "$BH_BASE" --out-dir "$dir/w3" \
    --tenants "$W3_TENANTS" --users "$((W3_TENANTS * W3_USERS_PER_TENANT))" \
    --notes "$W3_NOTES" --pool "$W3_POOL" --concurrency "$CONCURRENCY" >"$dir/w3-seed.log"
  tail -1 "$dir/w3-seed.log" >&2
  if [ "$name" = postgres ]; then pg_analyze "$db"; fi
  run_child python3 "$ROOT/benches/bench_seed.py" check --base "$BH_BASE" --out-dir "$dir/w3"
  measure_transfers pairs "$dir"
  measure_transfers hot "$dir"
  measure_w3 "$dir"
  stop_pid "$BH_PID"
  if [ -n "$db" ]; then pg_drop_db "$db"; fi
}

install_wrk
build_bulkhead
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
RUN_DIR="$CACHE/ledger/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN_DIR"
log "run data in $RUN_DIR; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
wanted sqlite && one_backend sqlite
if wanted postgres; then
  if pg_reachable; then
    one_backend postgres
  else
    log "PostgreSQL at ${PG_BASE_URL%%\?*} is unreachable: skipping Bulkhead on PostgreSQL"
  fi
fi

commit="$(git -C "$ROOT" rev-parse --short HEAD)"
git -C "$ROOT" diff --quiet HEAD -- crates Cargo.toml Cargo.lock || commit+="+local changes"
mkdir -p "$ROOT/benches/results"
python3 "$ROOT/benches/ledger_bench.py" report --run-dir "$RUN_DIR" \
  --out-md "$ROOT/benches/results/ledger-latest.md" \
  --out-json "$ROOT/benches/results/ledger-latest.json" \
  --started "$STARTED" --command "$COMMAND" --commit "$commit"
