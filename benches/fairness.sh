#!/usr/bin/env bash
# Fairness between tenants (issue 22): tenant B's latency at a modest steady
# rate, alone and while tenant A floods the same server, on SQLite and on
# PostgreSQL, with the server's default rate limits and with them off.
#
#   benches/fairness.sh
#   DURATION=3 WARMUP=1 benches/fairness.sh                 # a try-out (not a result)
#   SERVERS=sqlite LIMITS=off KINDS=writes benches/fairness.sh
#
# Per backend and per limit setting, one fresh Bulkhead (release build;
# SQLite in a new data directory, PostgreSQL in a new database
# bulkhead_bench_fairness_<pid>_<limits> served as the runtime role
# bulkhead_app, skipped with a message when unreachable), on the enterprise
# plan (no quotas), seeded through its HTTP API by benches/bench_seed.py with
# two tenants of B_USERS members each and NOTES notes: tenant-0 is A's,
# tenant-1 is B's. Then, for each kind in KINDS (A and B do the same kind):
#   reads   get one of the tenant's own notes by id (compare.sh's W1)
#   writes  create a note (compare.sh's W3)
# benches/fairness_bench.py measures:
#   - B alone: B_RATE requests a second, open loop (each request is due at
#     its time whatever came back before; its latency runs from then), its
#     users in turn, WARMUP seconds not counted, then DURATION seconds; B's
#     client runs at niceness B_NICE (when allowed), so that its own wait
#     for one of the cores wrk and the server share counts as little as
#     possible against the server;
#   - B flooded: A floods with wrk (benches/peer/workload.lua, one user's
#     token, A_CONNECTIONS connections, THREADS threads) from LEAD seconds
#     before B's DURATION-second window to one second after it.
# The server is let go idle between steps. Reported per case: B's p50 and
# p99 alone and flooded, the ratio of B's p99 flooded / alone (target: within
# 2x), B's non-2xx answers (429s named), how late B's client itself was, and
# A's req/s with its 2xx, 429 and other answers.
# Limit settings (LIMITS):
#   default  the server's own rate limits (600 requests a minute per user,
#            60 a minute per client address on /v1/auth/*; the enterprise
#            plan sets no tenant limit): A's flood is mostly answered 429.
#            B's users each send B_RATE / B_USERS a second, below the
#            per-user limit, so B must get no 429.
#   off      BULKHEAD_RATE_LIMIT_PER_PRINCIPAL=off, _PER_TENANT=off and
#            _AUTH_PER_ADDRESS=100000000: A is served as fast as it can be,
#            and B's figures measure the server's own scheduling fairness.
# BULKHEAD_RATE_LIMIT_* variables set in the caller's environment are
# ignored: each case sets its own.
# Prints a Markdown table and writes it to benches/results/fairness-latest.md
# (JSON beside it), with the exact command and the machine in its header;
# exits 1 when B got any answer but 2xx (or a timeout or socket error) in any
# case. Run data goes under the cache dir, not into git.
#
# Knobs (environment):
#   DURATION=20  WARMUP=5  LEAD=2  B_RATE=30  B_USERS=4  B_TIMEOUT=10
#   B_NICE=-10 (B's client's niceness, when allowed; wrk keeps the caller's)
#   A_CONNECTIONS=64  THREADS=2  WRK_TIMEOUT=30
#   SERVERS="sqlite postgres"  LIMITS="default off"  KINDS="reads writes"
#   NOTES=1000 (seeded, half a tenant)  CONCURRENCY=8 (seeding connections)
#   BENCH_CACHE=<repo>/target/bench-cache
#   SERVER_CPUS, LOAD_CPUS (unset: no pinning): CPU lists for taskset -c. The
#     server's threads go on SERVER_CPUS, B's client and wrk on LOAD_CPUS, so
#     that B's latency measures the server's scheduling rather than the load
#     generators' fight with it for the same cores (PostgreSQL stays unpinned),
#     e.g. SERVER_CPUS=1 LOAD_CPUS=0 on two cores.
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (owner)
#
# Stops only the processes it started and drops the databases it created (trap
# on EXIT/INT/TERM); every load step is bounded (wrk's -d, B's request
# count and per-request timeout, the idle waits' limit).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# the exact command, with the knobs that were set, for the report's header
KNOBS=(DURATION WARMUP LEAD B_RATE B_USERS B_TIMEOUT B_NICE A_CONNECTIONS THREADS WRK_TIMEOUT
       SERVERS LIMITS KINDS NOTES CONCURRENCY SERVER_CPUS LOAD_CPUS)
COMMAND=""
for k in "${KNOBS[@]}"; do
  [ -n "${!k+x}" ] && COMMAND+="$k=$(printf '%q' "${!k}") "
done
COMMAND+="benches/fairness.sh"

DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
LEAD="${LEAD:-2}"
B_RATE="${B_RATE:-30}"
B_USERS="${B_USERS:-4}"
B_TIMEOUT="${B_TIMEOUT:-10}"
B_NICE="${B_NICE:--10}"
A_CONNECTIONS="${A_CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
WRK_TIMEOUT="${WRK_TIMEOUT:-30}"
SERVERS="${SERVERS:-sqlite postgres}"
LIMITS="${LIMITS:-default off}"
KINDS="${KINDS:-reads writes}"
NOTES="${NOTES:-1000}"
CONCURRENCY="${CONCURRENCY:-8}"
CACHE="${BENCH_CACHE:-$ROOT/target/bench-cache}"
unset BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS BULKHEAD_RATE_LIMIT_PER_PRINCIPAL \
  BULKHEAD_RATE_LIMIT_PER_TENANT

# shellcheck source=benches/bench_lib.sh
source "$ROOT/benches/bench_lib.sh"
trap stop_started EXIT
trap 'stop_started; exit 130' INT TERM

for k in $LIMITS; do
  case $k in default | off) ;; *) log "LIMITS: unknown setting $k (default, off)"; exit 2 ;; esac
done
for k in $KINDS; do
  case $k in reads | writes) ;; *) log "KINDS: unknown kind $k (reads, writes)"; exit 2 ;; esac
done
# the server's default per-user limit is 600 a minute (10 a second)
if [[ " $LIMITS " == *" default "* ]] &&
  python3 -c "import sys; sys.exit(0 if $B_RATE / $B_USERS > 10 else 1)"; then
  log "warning: B_RATE / B_USERS is above 10 a second, the server's default per-user limit:" \
    "B will be refused with the default limits"
fi

wanted() { [[ " $SERVERS " == *" $1 "* ]]; }

LOAD_PIN=()
if [ -n "${SERVER_CPUS:-}${LOAD_CPUS:-}" ]; then
  if [ -z "${SERVER_CPUS:-}" ] || [ -z "${LOAD_CPUS:-}" ]; then
    log "SERVER_CPUS and LOAD_CPUS go together"
    exit 2
  fi
  command -v taskset >/dev/null || { log "taskset (util-linux) is needed to pin"; exit 2; }
  LOAD_PIN=(taskset -c "$LOAD_CPUS")
fi

# start_with_limits LIMITS LOG ARGS...: start_bulkhead with LIMITS's rate limits.
start_with_limits() {
  local limits=$1
  shift
  if [ "$limits" = default ]; then
    BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS=default BULKHEAD_RATE_LIMIT_PER_PRINCIPAL=default \
      start_bulkhead "$@"
  else
    BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS=100000000 BULKHEAD_RATE_LIMIT_PER_PRINCIPAL=off \
      BULKHEAD_RATE_LIMIT_PER_TENANT=off start_bulkhead "$@"
  fi
}

# one_server BACKEND LIMITS: a fresh server, seeded, each kind measured, then gone.
one_server() {
  local backend=$1 limits=$2 dir=$RUN_DIR/$1-$2 db="" kind
  mkdir -p "$dir"
  if [ "$backend" = postgres ]; then
    db="bulkhead_bench_fairness_$$_$limits"
    pg_create_db "$db"
    start_with_limits "$limits" "$dir/server.log" --database-url "$PG_APP_URL"
  else
    start_with_limits "$limits" "$dir/server.log" --data-dir "$dir/data"
  fi
  if [ -n "${SERVER_CPUS:-}" ]; then taskset -a -p -c "$SERVER_CPUS" "$BH_PID" >/dev/null; fi
  log "Bulkhead $backend, limits $limits: pid $BH_PID at $BH_BASE, seeding"
  run_child python3 "$ROOT/benches/bench_seed.py" seed --base "$BH_BASE" --out-dir "$dir/seed" \
    --tenants 2 --users "$((2 * B_USERS))" --notes "$NOTES" --pool "$((2 * B_USERS))" \
    --concurrency "$CONCURRENCY" >"$dir/seed.log"
  if [ "$backend" = postgres ]; then pg_analyze "$db"; fi
  for kind in $KINDS; do
    # access tokens live 15 minutes: fresh ones when the last are 10 minutes old
    if [ -n "$(find "$dir/seed/fixtures.tsv" -mmin +10)" ]; then
      run_child python3 "$ROOT/benches/bench_seed.py" login --base "$BH_BASE" --out-dir "$dir/seed"
    fi
    log "$kind on $backend, limits $limits"
    run_child "${LOAD_PIN[@]}" python3 "$ROOT/benches/fairness_bench.py" measure --base "$BH_BASE" \
      --pid "$BH_PID" --seed-dir "$dir/seed" --kind "$kind" --out "$dir/$kind.json" \
      --duration "$DURATION" --warmup "$WARMUP" --lead "$LEAD" --b-rate "$B_RATE" \
      --b-timeout "$B_TIMEOUT" --b-nice "$B_NICE" --a-conns "$A_CONNECTIONS" --threads "$THREADS" \
      --wrk-timeout "$WRK_TIMEOUT"
  done
  stop_pid "$BH_PID"
  if [ -n "$db" ]; then pg_drop_db "$db"; fi
}

install_wrk
build_bulkhead
STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
MACHINE="$(machine_line), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
RUN_DIR="$CACHE/fairness/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN_DIR"
log "run data in $RUN_DIR; load average $LOAD_AT_START on $(nproc) cores"
for backend in sqlite postgres; do
  wanted "$backend" || continue
  if [ "$backend" = postgres ] && ! pg_reachable; then
    log "PostgreSQL at ${PG_BASE_URL%%\?*} is unreachable: skipping Bulkhead on PostgreSQL"
    continue
  fi
  for limits in $LIMITS; do one_server "$backend" "$limits"; done
done

commit="$(git -C "$ROOT" rev-parse --short HEAD)"
git -C "$ROOT" diff --quiet HEAD -- crates Cargo.toml Cargo.lock || commit+="+local changes"
mkdir -p "$ROOT/benches/results"
python3 "$ROOT/benches/fairness_bench.py" report --run-dir "$RUN_DIR" \
  --out-md "$ROOT/benches/results/fairness-latest.md" \
  --out-json "$ROOT/benches/results/fairness-latest.json" \
  --started "$STARTED" --command "$COMMAND" --commit "$commit" --machine "$MACHINE" \
  --load-at-start "$LOAD_AT_START"
