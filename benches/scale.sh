#!/usr/bin/env bash
# Bulkhead scale series: W1, W2 and W2f of the multi-tenant notes workload
# (benches/peer/workload.md) at 100, 1000 and 10000 tenants with the same total
# number of records, on SQLite and (when reachable) PostgreSQL.
#
#   benches/scale.sh
#   FULL=1 benches/scale.sh                   # also 1M records at 100 and 10000 tenants
#   RECORDS=5000 DURATION=3 WARMUP=1 PG=0 benches/scale.sh   # a quick try-out
#
# Every point is a freshly started server (SQLite: new data dir; PostgreSQL: a
# new database bulkhead_bench_<pid>_<n>, served as the runtime role
# bulkhead_app), seeded through the HTTP API by benches/bench_seed.py with 1000
# users (argon2 sign-ups are costly; with more tenants than users, tenant t's
# only member is user t mod 1000, so each user is in T/1000 tenants; see
# bench_seed.py), checked, then measured with peer/measure.py. Prints a table
# (tenants, records, req/s and p99 per workload, change vs the 100-tenant row)
# and writes it to benches/results/scale-latest.md (JSON beside it).
#
# Knobs (environment):
#   RECORDS=100000  TENANT_COUNTS="100 1000 10000"  FULL=0 (1: + RECORDS=1000000 at 100, 10000)
#   PG=1 (0: SQLite only)  USERS=1000  POOL=50  CONCURRENCY=16 (seeder connections)
#   WORKLOADS=W1,W2,W2f  DURATION=20  WARMUP=5  THREADS=2  CONNS=32  WRK_TIMEOUT=30
#   BENCH_CACHE=<repo>/target/bench-cache
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (owner)
#
# Stops only the processes it started and drops the databases it created (trap
# on EXIT/INT/TERM); every load step is bounded by wrk's -d.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KNOBS=(RECORDS TENANT_COUNTS FULL PG USERS POOL CONCURRENCY WORKLOADS DURATION WARMUP
       THREADS CONNS WRK_TIMEOUT)
COMMAND=""
for k in "${KNOBS[@]}"; do
  [ -n "${!k+x}" ] && COMMAND+="$k=$(printf '%q' "${!k}") "
done
COMMAND+="benches/scale.sh"

RECORDS="${RECORDS:-100000}"
TENANT_COUNTS="${TENANT_COUNTS:-100 1000 10000}"
FULL="${FULL:-0}"
PG="${PG:-1}"
USERS="${USERS:-1000}"
POOL="${POOL:-50}"
CONCURRENCY="${CONCURRENCY:-16}"
WORKLOADS="${WORKLOADS:-W1,W2,W2f}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
WRK_TIMEOUT="${WRK_TIMEOUT:-30}"
CACHE="${BENCH_CACHE:-$ROOT/target/bench-cache}"

# shellcheck source=benches/bench_lib.sh
source "$ROOT/benches/bench_lib.sh"
trap stop_started EXIT
trap 'stop_started; exit 130' INT TERM

POINT=0
# One point of the series: fresh server, seed, check, fresh tokens, measure, stop.
one_point() {  # $1 = sqlite|postgres, $2 = tenants, $3 = records
  local backend=$1 tenants=$2 records=$3 dir db=""
  dir="$RUN_DIR/$backend-T$tenants-R$records"
  POINT=$((POINT + 1))
  mkdir -p "$dir"
  if [ "$backend" = sqlite ]; then
    start_bulkhead "$dir/server.log" --data-dir "$dir/data"
  else
    db="bulkhead_bench_$$_$POINT"
    pg_create_db "$db"
    start_bulkhead "$dir/server.log" --database-url "$PG_APP_URL"
  fi
  log "$backend, $tenants tenants, $records records: pid $BH_PID at $BH_BASE, seeding"
  run_child python3 "$ROOT/benches/bench_seed.py" seed --base "$BH_BASE" --out-dir "$dir" \
    --tenants "$tenants" --users "$USERS" --notes "$records" --pool "$POOL" \
    --concurrency "$CONCURRENCY" >"$dir/seed.log"
  tail -1 "$dir/seed.log" >&2
  if [ -n "$db" ]; then pg_analyze "$db"; fi
  run_child python3 "$ROOT/benches/bench_seed.py" check --base "$BH_BASE" --out-dir "$dir"
  # every workload gets tokens younger than 15 minutes: one measure.py call each
  local w
  for w in ${WORKLOADS//,/ }; do
    run_child python3 "$ROOT/benches/bench_seed.py" login --base "$BH_BASE" --out-dir "$dir"
    log "$w"
    run_child python3 "$PEER/measure.py" --base "$BH_BASE" --pid "$BH_PID" \
      --target "$dir/target.env" --fixtures "$dir/fixtures.tsv" --out "$dir/measure-$w.json" \
      --scratch "$dir/wrk" --workloads "$w" --extra "" --threads "$THREADS" --conns "$CONNS" \
      --duration "$DURATION" --warmup "$WARMUP" --timeout "$WRK_TIMEOUT" >&2
  done
  merge_measures "$dir"
  stop_pid "$BH_PID"
  [ -n "$db" ] && pg_drop_db "$db"
  STARTED_PIDS=()
}

# One measure.json per point (the report reads that), from the per-workload files;
# the seeding peak RSS is the one seen before the first workload.
merge_measures() {  # $1 = point dir
  python3 - "$1" ${WORKLOADS//,/ } <<'EOF'
import json, os, sys
d, ws = sys.argv[1], sys.argv[2:]
parts = [json.load(open(os.path.join(d, f"measure-{w}.json"))) for w in ws]
out = dict(parts[0], workloads={})
for p in parts:
    out["workloads"].update(p["workloads"])
json.dump(out, open(os.path.join(d, "measure.json"), "w"), indent=1)
EOF
}

install_wrk
build_bulkhead
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
FSYNC_AT_START="$(disk_sync_latency)"
RUN_DIR="$CACHE/scale/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN_DIR"
log "run data in $RUN_DIR; load average $LOAD_AT_START on $(nproc) cores"
BACKENDS="sqlite"
PG_VERSION="n/a"
if [ "$PG" = 1 ]; then
  if pg_reachable; then
    BACKENDS="sqlite postgres"
    PG_VERSION="$(pg_version)"
  else
    log "PostgreSQL at ${PG_BASE_URL%%\?*} is unreachable: SQLite only"
  fi
fi
POINTS=()
for t in $TENANT_COUNTS; do POINTS+=("$t:$RECORDS"); done
if [ "$FULL" = 1 ]; then POINTS+=("100:1000000" "10000:1000000"); fi
for backend in $BACKENDS; do
  for p in "${POINTS[@]}"; do
    one_point "$backend" "${p%%:*}" "${p##*:}"
  done
done

commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || commit+="+local changes"
sqlite_crate="$(grep -A1 '^name = "libsqlite3-sys"' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
mkdir -p "$ROOT/benches/results"
python3 "$ROOT/benches/bench_report.py" scale --run-dir "$RUN_DIR" \
  --out-md "$ROOT/benches/results/scale-latest.md" \
  --out-json "$ROOT/benches/results/scale-latest.json" \
  --started "$STARTED" --command "$COMMAND" --load-at-start "$LOAD_AT_START" \
  --fsync-at-start "$FSYNC_AT_START" --fsync-at-end "$(disk_sync_latency)" \
  --software "Bulkhead=$commit (release build)" \
  --software "SQLite=bundled (libsqlite3-sys $sqlite_crate)" \
  --software "PostgreSQL=$PG_VERSION" \
  --software "wrk=$(wrk -v 2>&1 | head -1 | sed 's/ Copyright.*//; s/^wrk //')"
log "wrote benches/results/scale-latest.md and .json"
