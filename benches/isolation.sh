#!/usr/bin/env bash
# What the tenant boundary costs: the criterion micro-benchmarks
# crates/store-sqlite/benches/isolation.rs and
# crates/store-postgres/benches/isolation/main.rs (their doc comments say what is
# compared with what, and why those baselines), then one compact table.
#
#   benches/isolation.sh                      # both backends, criterion's default times
#   benches/isolation.sh --warm-up-time 1 --measurement-time 3
#                                             # arguments go to criterion
#   BACKENDS=sqlite benches/isolation.sh      # one backend
#   BULKHEAD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benches/isolation.sh
#                                             # the PostgreSQL server (a superuser URL; that one is the
#                                             # default). Unreachable: its benchmark says so and is skipped.
#
# The PostgreSQL benchmark creates a database bulkhead_bench_<uuid>, migrates it
# (runtime role bulkhead_app) and drops it when done.
#
# Table: criterion's median time per call, in nanoseconds, and the overhead of
# the first over the second. For each case, three comparisons:
#   boundary    raw_scoped vs raw_unscoped_all_tenants: the tenant predicate, column
#               (and on PostgreSQL SET LOCAL and the policy) alone, same table size
#   own db      raw_scoped vs raw_unscoped_one_tenant: against a single-tenant database
#   machinery   store_tenant_tx vs raw_scoped: the store's own path (pool, BEGIN/COMMIT,
#               decoding), which is not isolation
# "interleaved" is the same ratio measured with the two variants alternating in
# ~2 ms batches (median of 301 rounds), which load coming and going on a shared
# machine cannot tilt; trust it over criterion's when the two disagree.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=${BACKENDS:-sqlite postgres}
export CRITERION_HOME=${CRITERION_HOME:-$PWD/target/criterion}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
STARTED=$(date +%s)

echo "load before: $(uptime)"
for backend in $BACKENDS; do
  cargo bench -p "bulkhead-store-$backend" --bench isolation -- "$@" 2>&1 | tee -a "$LOG"
done
echo "load after:  $(uptime)"

python3 - "$CRITERION_HOME" "$STARTED" "$LOG" "$BACKENDS" <<'EOF'
import json, os, re, sys

home, started, log, backends = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split()
cases = ["get_record", "list_newest_20", "list_filtered_20"]
comparisons = [
    ("raw_scoped", "raw_unscoped_all_tenants", "boundary"),
    ("raw_scoped", "raw_unscoped_one_tenant", "own db"),
    ("store_tenant_tx", "raw_scoped", "machinery"),
]

def median_ns(group, function):
    path = os.path.join(home, group, function, "new", "estimates.json")
    try:
        if os.path.getmtime(path) < started:
            return None  # left over from an earlier run
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None

paired = {}
with open(log, errors="replace") as f:
    for line in f:
        m = re.match(r"paired: (\S+) (\S+) / (\S+) = ([+-][0-9.]+) %", line)
        if m:
            paired[(m[1], m[2], m[3])] = float(m[4])

print()
header = f"{'case':<26} {'scoped':<16} {'ns':>10}   {'unscoped':<36} {'ns':>10} {'overhead':>9} {'interleaved':>12}"
print(header)
print("-" * len(header))
over = []
for backend in backends:
    for case in cases:
        group = f"{backend}_{case}"
        for first, second, label in comparisons:
            a, b = median_ns(group, first), median_ns(group, second)
            if a is None or b is None:
                continue
            overhead = (a / b - 1) * 100
            p = paired.pop((group, first, second), None)
            shown = f"{p:+.1f} %" if p is not None else "-"
            print(f"{backend + ' ' + case:<26} {first:<16} {a:>10,.0f}   {second + ' (' + label + ')':<36} {b:>10,.0f} {overhead:>+7.1f} % {shown:>12}")
            if label == "boundary":
                figure = p if p is not None else overhead
                if figure > 5:
                    over.append(f"{backend} {case}: {figure:+.1f} %")
if paired:
    print("\nother interleaved comparisons (the PostgreSQL boundary taken apart: +set_local is the")
    print("unscoped statement in a transaction begun with the scoped one's SET LOCAL):")
    for (group, first, second), p in paired.items():
        print(f"  {group:<26} {first} / {second} = {p:+.1f} %")
if over:
    print("\nboundary overhead above the 5 % target: " + "; ".join(over))
else:
    print("\nboundary overhead within the 5 % target in every measured case")
EOF
