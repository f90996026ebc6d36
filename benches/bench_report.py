#!/usr/bin/env python3
"""Tables of benches/compare.sh and benches/scale.sh, from the JSON files the
runs leave (measure.py's output, bench_seed.py's and pb_setup.py's seed.json /
setup.json).  Prints the Markdown and writes it, with the merged JSON beside
it.  Standard library only; no absolute path of the machine is written out.

    bench_report.py compare --run-dir DIR --out-md FILE --out-json FILE [meta...]
    bench_report.py scale   --run-dir DIR --out-md FILE --out-json FILE [meta...]
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import statistics
import subprocess

ORDER = ["W1", "W2", "W2f", "W4", "W3", "W3h"]
DESC = {
    "W1": "get one own-tenant note by id",
    "W2": "list 20 newest notes",
    "W2f": "W2 + filter n>500",
    "W4": "get a note of another tenant (must be 404)",
    "W3": "create a note in own tenant",
    "W3h": "create a note, all connections in one tenant",
}
# compare.sh's W3h is measure.py's W3 on the users of one tenant: its file is
# <server>-W3h.json, the result inside it is keyed W3
MEASURED_AS = {"W3h": "W3"}
# issue 20's targets for the hot tenant: SQLite's W3h within 10 % of its own
# W3, PostgreSQL's W3h at least 2,000 creates/s
HOT_SQLITE_MAX_DROP = 0.10
HOT_POSTGRES_MIN_RPS = 2000
SERVERS = {  # key -> label, in table order
    "pocketbase": "PocketBase (denorm)",
    "pocketbase-skiptotal": "PocketBase (denorm, skipTotal=1)",
    "bulkhead-sqlite": "Bulkhead SQLite",
    "bulkhead-baseline": "Bulkhead SQLite (baseline)",
    "bulkhead-postgres": "Bulkhead PostgreSQL",
    "bulkhead-citus": "Bulkhead Citus",
    "ceiling": "bare axum + SQLite (ceiling)",
}
PB_KEYS = ("pocketbase", "pocketbase-skiptotal")
# W1 only: crates/bulkhead/examples/ceiling.rs, the floor of the work of a W1
# request; Bulkhead's W1 is stated as a share of its req/s.
CEILING = "ceiling"
CEILING_TARGET = 0.30  # Bulkhead SQLite W1 >= 30 % of the ceiling
# compare.sh's BASELINE_BIN: another Bulkhead binary on SQLite, set against the new one
BASELINE = "bulkhead-baseline"
# compare.sh's "citus" server: Bulkhead on a Citus coordinator and its workers
CITUS = "bulkhead-citus"


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    """nproc, CPU model, RAM, OS and kernel, read as the peer's summarize.py does."""
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    osname = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "os": osname,
            "virtualization": sh("systemd-detect-virt") or None}


def machine_line(m):
    return (f"{m['nproc']} vCPU {m['cpu_model']} ({m['virtualization'] or 'bare'}), "
            f"{m['mem_gib']} GiB RAM, {m['os']}, kernel {m['kernel']}")


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def mean(values):
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else None


def num(v, nd=1):
    return "n/a" if v is None else f"{v:.{nd}f}"


def pct(new, base):
    if new is None or not base:
        return ""
    return f"{100 * (new - base) / base:+.0f}%"


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def common_args(ap):
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--out-md", required=True)
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--started", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--load-at-start", default="")
    ap.add_argument("--fsync-at-start", default="",
                    help="benches/fsync_probe.py's answer before the first server started")
    ap.add_argument("--fsync-at-end", default="",
                    help="benches/fsync_probe.py's answer after the last window")
    ap.add_argument("--software", action="append", default=[],
                    help="NAME=VERSION, repeatable")


def software(args):
    return dict(s.split("=", 1) for s in args.software)


def fsync(args):
    return {"start": args.fsync_at_start or None, "end": args.fsync_at_end or None}


def header(title, args, res):
    sw = ", ".join(f"{k} {v}" for k, v in res["software"].items())
    return [
        f"# {title}", "",
        f"- date: {res['started']} to {res['finished']} (UTC)",
        f"- machine: {machine_line(res['machine'])}; load average at start "
        f"{args.load_at_start or 'n/a'}",
        f"- storage: fdatasync of one 4-KiB page in the bench cache directory (benches/fsync_probe.py): "
        f"{args.fsync_at_start or 'n/a'} at start, {args.fsync_at_end or 'n/a'} at end",
        f"- software: {sw}",
        f"- command: `{args.command}`",
    ]


def write(args, lines, res):
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out_md)), exist_ok=True)
    with open(args.out_md, "w") as f:
        f.write(text)
    with open(args.out_json, "w") as f:
        json.dump(res, f, indent=1)
    print(text)


# -------------------------------------------------------------- compare --

def collect_compare(run_dir):
    """{server: {W: [result per run]}}, seeding per server per run, checks."""
    results, seeding, config = {}, {}, None
    runs = sorted(glob.glob(os.path.join(run_dir, "run*")))
    for rd in runs:
        for path in sorted(glob.glob(os.path.join(rd, "measure", "*.json"))):
            server, w = os.path.basename(path)[:-5].rsplit("-", 1)
            m = load_json(path)
            measured = MEASURED_AS.get(w, w)
            if not m or measured not in m["workloads"]:
                continue
            config = config or m["config"]
            r = m["workloads"][measured]
            r["workload"] = w
            r["seed_peak_rss_mb"] = m.get("server_peak_rss_before_mb")
            results.setdefault(server, {}).setdefault(w, []).append(r)
        for server, sub, fname in (("pocketbase", "pocketbase", "setup.json"),
                                   ("bulkhead-sqlite", "sqlite", "seed.json"),
                                   (BASELINE, "baseline", "seed.json"),
                                   ("bulkhead-postgres", "postgres", "seed.json"),
                                   (CITUS, "citus", "seed.json")):
            s = load_json(os.path.join(rd, sub, fname))
            if s is None:
                continue
            check = load_json(os.path.join(rd, sub, "check.json"))
            ok = s["rule_checks"]["ok"] if "rule_checks" in s else bool(check and check["ok"])
            data_mb = None
            try:
                data_mb = round(int(open(os.path.join(rd, sub, "data_kb")).read()) / 1024, 1)
            except (OSError, ValueError):
                pass
            seeding.setdefault(server, []).append(
                {"timings_s": s["timings"], "method": s["method"], "checks_ok": ok,
                 "data_mb_after_seed": data_mb, "counts": s["counts"]})
    return results, seeding, config, len(runs), collect_ceiling(runs)


def citus_workers(run_dir):
    """How many workers the Citus database was made on (compare.sh writes it
    per run; the first run's), or None without Citus."""
    for rd in sorted(glob.glob(os.path.join(run_dir, "run*"))):
        try:
            return int(open(os.path.join(rd, "citus", "workers")).read())
        except (OSError, ValueError):
            continue
    return None


def collect_ceiling(runs):
    """Per run: the ceiling's rows, seeding time and data size (its server.log
    starts with "seeded X of N rows in S s")."""
    out = []
    for rd in runs:
        d = os.path.join(rd, "ceiling")
        try:
            with open(os.path.join(d, "server.log")) as f:
                first = f.readline()
        except OSError:
            continue
        m = re.match(r"seeded (\d+) of (\d+) rows in ([0-9.]+) s", first)
        data_mb = None
        try:
            data_mb = round(int(open(os.path.join(d, "data_kb")).read()) / 1024, 1)
        except (OSError, ValueError):
            pass
        out.append({"rows": int(m.group(2)) if m else None,
                    "seed_s": float(m.group(3)) if m else None,
                    "data_mb_after_seed": data_mb})
    return out


def ceiling_shares(results):
    """W1 req/s of each Bulkhead server as a share of the ceiling's."""
    top = mean([r["rps"] for r in results.get(CEILING, {}).get("W1", [])])
    shares = {}
    for key in ("bulkhead-sqlite", "bulkhead-postgres", CITUS):
        rps = mean([r["rps"] for r in results.get(key, {}).get("W1", [])])
        if rps is not None and top:
            shares[key] = {"rps": round(rps, 1), "ceiling_rps": round(top, 1),
                           "share": round(rps / top, 3)}
    return top, shares


def baseline_deltas(results):
    """Per workload: the new binary's req/s on SQLite against the baseline's."""
    out = {}
    for w in ORDER:
        new = mean([r["rps"] for r in results.get("bulkhead-sqlite", {}).get(w, [])])
        old = mean([r["rps"] for r in results.get(BASELINE, {}).get(w, [])])
        if new is not None and old:
            out[w] = {"rps": round(new, 1), "baseline_rps": round(old, 1),
                      "change": round(new / old - 1, 4)}
    return out


def hot_tenant(results):
    """Per Bulkhead server: W3h's req/s against its own W3's (issue 20)."""
    out = {}
    for key in ("bulkhead-sqlite", BASELINE, "bulkhead-postgres", CITUS):
        hot = mean([r["rps"] for r in results.get(key, {}).get("W3h", [])])
        spread = mean([r["rps"] for r in results.get(key, {}).get("W3", [])])
        if hot is not None:
            out[key] = {"w3h_rps": round(hot, 1),
                        "w3_rps": None if spread is None else round(spread, 1),
                        "change": round(hot / spread - 1, 4) if spread else None}
    return out


def hot_tenant_line(hot, servers):
    """One line: each server's W3h against its W3, with issue 20's targets."""
    parts = []
    for key, h in hot.items():
        part = f"{servers[key]} {h['w3h_rps']:.1f}"
        if h["change"] is not None:
            part += f" vs {h['w3_rps']:.1f} creates/s ({100 * h['change']:+.1f} %)"
        else:
            part += " creates/s (W3 not measured)"
        if key == "bulkhead-sqlite" and h["change"] is not None:
            ok = h["change"] >= -HOT_SQLITE_MAX_DROP
            part += (f", target within {100 * HOT_SQLITE_MAX_DROP:.0f} % of its W3: "
                     f"**{'met' if ok else 'NOT met'}**")
        if key == "bulkhead-postgres":
            ok = h["w3h_rps"] >= HOT_POSTGRES_MIN_RPS
            part += (f", target ≥ {HOT_POSTGRES_MIN_RPS:,} creates/s: "
                     f"**{'met' if ok else 'NOT met'}**")
        parts.append(part)
    return ("- **W3h, one hot tenant, vs W3, creates spread over the pool's tenants:** "
            + "; ".join(parts) + ".")


def pocketbase_best(results, w):
    """PocketBase's req/s to compare with: for the lists the better of the
    default (with total count) and skipTotal=1."""
    keys = PB_KEYS if w in ("W2", "W2f") else PB_KEYS[:1]
    vals = [mean([r["rps"] for r in results.get(k, {}).get(w, [])]) for k in keys]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def target_lines(results):
    """The issue's targets for Bulkhead on SQLite, each reached or not, with
    the figures (PocketBase's best variant per workload, as in the table)."""
    def stat(key, w, field):
        return mean([r.get(field) for r in results.get(key, {}).get(w, [])])

    sq = "bulkhead-sqlite"
    out = []

    def check(what, ok, figures):
        if ok is None:
            out.append(f"- {what}: not measured")
        else:
            out.append(f"- {what}: **{'reached' if ok else 'NOT reached'}** ({figures})")

    for w, times in (("W1", 5), ("W3", 3), ("W2", 100), ("W2f", 100)):
        ours, best = stat(sq, w, "rps"), pocketbase_best(results, w)
        ok = None if ours is None or not best else ours >= times * best
        check(f"{w} ≥ {times}× PocketBase", ok,
              f"{num(ours)} vs {num(best)} req/s, ×{num(ours / best, 2) if ok is not None else '-'}")
    ours, theirs = stat(sq, "W1", "p99_ms"), stat(PB_KEYS[0], "W1", "p99_ms")
    check("W1 p99 lower than PocketBase's", None if ours is None or theirs is None
          else ours < theirs, f"{num(ours, 2)} vs {num(theirs, 2)} ms")
    w1 = stat(sq, "W1", "rps")
    for w in ("W2", "W2f"):
        ours = stat(sq, w, "rps")
        check(f"{w} ≥ 40 % of Bulkhead's own W1", None if ours is None or not w1
              else ours >= 0.4 * w1,
              f"{num(ours)} vs {num(w1)} req/s = {num(100 * ours / w1) if ours and w1 else '-'} %")
    worst = None
    for w in ORDER:
        ours = stat(sq, w, "server_peak_rss_mb")
        theirs = [stat(k, w, "server_peak_rss_mb") for k in PB_KEYS]
        theirs = [t for t in theirs if t is not None]
        if ours is None or not theirs:
            continue
        share = ours / min(theirs)
        if worst is None or share > worst[0]:
            worst = (share, w, ours, min(theirs))
    check("peak RSS at most half of PocketBase's, every workload",
          None if worst is None else worst[0] <= 0.5,
          "worst: " + (f"{worst[1]} {num(worst[2], 0)} vs {num(worst[3], 0)} MB "
                       f"({num(100 * worst[0])} %)" if worst else "-"))
    backends = [("bulkhead-sqlite", "SQLite"), ("bulkhead-postgres", "PostgreSQL")]
    if CITUS in results:
        backends.append((CITUS, "Citus"))
    for key, label in backends:
        rs = results.get(key, {}).get("W4", [])
        check(f"W4 zero leaks on {label}", (sum(r["leaks"] for r in rs) == 0) if rs else None,
              f"{sum(r['leaks'] for r in rs)} leaks in {sum(r['requests'] for r in rs)} answers")
    return out


def rps_cell(rs):
    vals = [r["rps"] for r in rs]
    cell = num(mean(vals))
    if len(vals) > 1:
        cell += f" ({min(vals):.0f}–{max(vals):.0f})"
    return cell


def compare(args):
    results, seeding, config, nruns, ceiling = collect_compare(args.run_dir)
    servers = dict(SERVERS)
    workers = citus_workers(args.run_dir)
    if workers is not None:
        servers[CITUS] += f" (coordinator + {workers} worker{'s' if workers != 1 else ''})"
    res = {"benchmark": "multi-tenant notes workload (benches/peer/workload.md): "
                        "Bulkhead vs PocketBase, W1 also vs a bare axum + SQLite ceiling",
           "started": args.started, "finished": now_utc(), "machine": machine(),
           "software": software(args), "command": args.command, "config": config,
           "fsync": fsync(args),
           "runs": nruns, "seeding": seeding, "ceiling_seeding": ceiling,
           "results": results}
    L = header("Bulkhead vs PocketBase: multi-tenant workload", args, res)
    c = config or {}
    counts = next((s[0]["counts"] for s in seeding.values() if s), {})
    L += [
        f"- load: wrk -t{c.get('threads')} -c{c.get('conns')}, {c.get('warmup')} s warm-up "
        f"then {c.get('duration')} s measured per workload and server, timeout "
        f"{c.get('timeout')} s; servers interleaved per workload; wrk and the servers share "
        "all cores (no pinning)",
        "- data: " + "; ".join(
            ([f"{counts.get('tenants')} tenants, {counts.get('users')} users, "
              f"{counts.get('notes')} notes; {counts.get('pool')} pool users' tokens "
              "rotated at random"] if counts else [])
            + ([f"the ceiling: {ceiling[0]['rows']} rows, 50 dummy tokens, W1 ids drawn "
                "at random from all rows"] if ceiling else [])),
        f"- {nruns} run(s), each on freshly started and seeded servers"
        + ("; req/s is the mean (min–max)" if nruns > 1 else ""),
        "",
        "| W | what | server | req/s | p50 ms | p99 ms | errors | leaks | peak RSS MB "
        "| server CPU ms/req | req/s vs PocketBase |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios = {}
    for w in ORDER:
        best = pocketbase_best(results, w)
        for key, label in servers.items():
            rs = results.get(key, {}).get(w)
            if not rs:
                continue
            ratio = ""
            if key not in PB_KEYS and key != CEILING and best:
                r = mean([x["rps"] for x in rs]) / best
                ratios.setdefault(key, {})[w] = round(r, 2)
                ratio = f"×{r:.2f}"
            L.append(
                f"| {w} | {DESC[w]} | {label} | {rps_cell(rs)} "
                f"| {num(mean([x['p50_ms'] for x in rs]))} "
                f"| {num(mean([x['p99_ms'] for x in rs]))} "
                f"| {sum(x['errors'] for x in rs)} | {sum(x['leaks'] for x in rs)} "
                f"| {num(mean([x.get('server_peak_rss_mb') for x in rs]), 0)} "
                f"| {num(mean([x.get('server_cpu_ms_per_req') for x in rs]), 3)} | {ratio} |")
    res["ratios_vs_pocketbase"] = ratios
    if workers is not None:
        res["citus_workers"] = workers
    top, shares = ceiling_shares(results)
    res["w1_share_of_ceiling"] = shares
    if top is not None:
        sq = shares.get("bulkhead-sqlite")
        line = "- **W1 vs the ceiling:** Bulkhead SQLite "
        if sq:
            verdict = "met" if sq["share"] >= CEILING_TARGET else "NOT met"
            line += (f"{sq['rps']:.1f} req/s = **{100 * sq['share']:.1f} %** of the bare "
                     f"axum + SQLite ceiling's {sq['ceiling_rps']:.1f} req/s (target ≥ "
                     f"{100 * CEILING_TARGET:.0f} %: {verdict})")
        else:
            line += f"not measured (ceiling {top:.1f} req/s)"
        pg = shares.get("bulkhead-postgres")
        if pg:
            line += f"; Bulkhead PostgreSQL {100 * pg['share']:.1f} %"
        citus = shares.get(CITUS)
        if citus:
            line += f"; Bulkhead Citus {100 * citus['share']:.1f} %"
        L += ["", line + "."]
    hot = hot_tenant(results)
    if hot:
        res["w3h_vs_w3"] = hot
        L += ["", hot_tenant_line(hot, servers)]
    deltas = baseline_deltas(results)
    res["new_vs_baseline"] = deltas
    if deltas:
        sw = res["software"]
        L += ["", f"- **New vs baseline** on SQLite (Bulkhead {sw.get('Bulkhead', '?')} "
                  f"against the baseline, {sw.get('Bulkhead baseline', '?')}; measured one "
                  "after the other in each workload): " + "; ".join(
                      f"{w} {d['rps']:.1f} vs {d['baseline_rps']:.1f} req/s "
                      f"({100 * d['change']:+.1f} %)" for w, d in deltas.items()) + "."]
    L += ["", "Targets of the issue (Bulkhead on SQLite; PocketBase's best variant):"]
    L += target_lines(results)
    L += [
        "",
        "Notes:",
        "- Bulkhead's list answers are cursor pages without a total count; PocketBase's "
        "default list answer includes `totalItems` (a second COUNT query). The "
        "`skipTotal=1` rows are the fair pair for W2/W2f, and the W2/W2f ratios are "
        "against PocketBase's best of the two.",
        "- req/s vs PocketBase = Bulkhead's req/s / PocketBase's (denorm rules variant, "
        "membership on users.tenant). errors = answers other than the expected status "
        "(2xx; 404 for W4) plus socket errors; leaks = 2xx answers to W4. Peak RSS is "
        "VmHWM reset before each measured window; server CPU is over the window plus the "
        "drain after it. Both are of the server process only: for Bulkhead PostgreSQL the "
        "PostgreSQL processes' CPU and memory are not included.",
        "- Bulkhead's pool users log in afresh before every workload (access tokens live "
        "15 minutes); its access rules were checked before measuring.",
        "- The ceiling (W1 only) is `crates/bulkhead/examples/ceiling.rs`, release build, "
        "measured with the same wrk settings and measure.py, interleaved with the others: "
        "axum 0.8 on tokio (multi-thread), `GET /notes/{id}` = one primary-key SELECT "
        "through the worker thread's own SQLite connection (same profile as Bulkhead's: "
        "WAL, synchronous=FULL) with a cached statement, the row as JSON. It checks that an "
        "Authorization header is present and verifies nothing (no token, tenant or access "
        "rule): it is the floor of the work any server must do for W1, not a competitor.",
    ] + ([
        "- W3h is W3 with every connection creating in one tenant: the pool users listed "
        "with the first pool user's tenant (at the default sizes one user, whose token all "
        "connections send), measured by measure.py as its W3."] if hot else []) + ([
        f"- {SERVERS[BASELINE]} is another Bulkhead binary (compare.sh's BASELINE_BIN) on "
        "SQLite, seeded and checked as Bulkhead SQLite is; in each workload the two are "
        "measured one after the other, the baseline second in odd runs and first in even "
        "ones."] if BASELINE in results else []) + ([
        f"- {servers[CITUS]}: a fresh database on the Citus coordinator and on each worker "
        "(all on this machine, sharing its cores), distributed by tenant by `bulkhead migrate "
        "--citus` and served through the coordinator as the runtime role, seeded, ANALYZEd "
        "on every node and checked as Bulkhead PostgreSQL is, and measured right after it in "
        "each workload; its data MB is the database's size summed over the nodes, and the "
        "CPU and memory of the nodes' PostgreSQL processes are not included."]
        if CITUS in results else []) + [
        "",
        "Seeding (not a workload; peak RSS is the server's during seeding):",
        "",
        "| server | users s | tenants + memberships + collections s | notes s | notes/s "
        "| total s | peak RSS MB | data MB after seeding | access checks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in servers.items():
        if key not in seeding:
            continue
        ss = seeding[key]
        first = results.get(key, {})
        peak = [rs[0].get("seed_peak_rss_mb") for rs in (first.get(w) for w in ORDER) if rs][:1]
        t = [s["timings_s"] for s in ss]
        setup = [x.get("tenants_s", 0) + x.get("memberships_s", x.get("members_s", 0))
                 + x.get("collections_s", x.get("schema_s", 0)) for x in t]
        L.append(
            f"| {label} | {' / '.join(num(x.get('users_s')) for x in t)} "
            f"| {' / '.join(num(x) for x in setup)} "
            f"| {' / '.join(num(x.get('notes_s')) for x in t)} "
            f"| {' / '.join(num(x.get('notes_per_s'), 0) for x in t)} "
            f"| {' / '.join(num(x.get('seed_total_s')) for x in t)} "
            f"| {num(peak[0] if peak else None, 0)} "
            f"| {' / '.join(num(s['data_mb_after_seed']) for s in ss)} "
            f"| {'passed' if all(s['checks_ok'] for s in ss) else 'FAILED'} |")
    methods = {servers[k]: ss[0]["method"] for k, ss in seeding.items()}
    L += [""] + [f"- {k}: {v}." for k, v in methods.items()]
    if ceiling:
        L.append(f"- {SERVERS[CEILING]}: creates its table and inserts its "
                 f"{ceiling[0]['rows']} rows itself at start, in one transaction "
                 f"({' / '.join(num(c['seed_s'], 2) for c in ceiling)} s; data "
                 f"{' / '.join(num(c['data_mb_after_seed']) for c in ceiling)} MB).")
    write(args, L, res)


# ---------------------------------------------------------------- scale --

def collect_scale(run_dir):
    rows = []
    for d in sorted(glob.glob(os.path.join(run_dir, "*-T*-R*"))):
        m = re.match(r"(.+)-T(\d+)-R(\d+)$", os.path.basename(d))
        meas, seed = load_json(os.path.join(d, "measure.json")), load_json(
            os.path.join(d, "seed.json"))
        if not m or not meas:
            continue
        rows.append({"backend": m.group(1), "tenants": int(m.group(2)),
                     "records": int(m.group(3)), "workloads": meas["workloads"],
                     "config": meas["config"], "seed": seed,
                     "seed_peak_rss_mb": meas.get("server_peak_rss_before_mb")})
    order = {"sqlite": 0, "postgres": 1}
    rows.sort(key=lambda r: (order.get(r["backend"], 9), r["records"], r["tenants"]))
    return rows


def scale(args):
    rows = collect_scale(args.run_dir)
    ws = [w for w in ORDER if any(w in r["workloads"] for r in rows)]
    res = {"benchmark": "Bulkhead scale series: tenants and records "
                        "(benches/peer/workload.md W1/W2/W2f)",
           "started": args.started, "finished": now_utc(), "machine": machine(),
           "software": software(args), "command": args.command, "fsync": fsync(args),
           "config": rows[0]["config"] if rows else None, "rows": rows}
    L = header("Bulkhead scale series: tenants × records", args, res)
    c = res["config"] or {}
    L += [
        f"- load: wrk -t{c.get('threads')} -c{c.get('conns')}, {c.get('warmup')} s warm-up "
        f"then {c.get('duration')} s measured per workload, timeout {c.get('timeout')} s",
        "- data: 1000 users; notes spread as in workload.md (note i in tenant i mod T, "
        "n = (i div T) mod 1000). With T <= 1000 tenant t has the 1000/T users "
        "t·1000/T …; with T > 1000 tenant t's only member is user t mod 1000 (each user "
        "is in T/1000 tenants). The 50 pool users (users 0, 20, …, 980) are listed with "
        "their first tenant. With few notes per tenant a list holds fewer than 20 items "
        "and W2f (n > 500) matches nothing once a tenant has ≤ 501 notes.",
        "- cells: value (change vs the 100-tenant row of the same backend and records)",
        "",
    ]
    head = "| backend | tenants | records | notes/tenant |"
    rule = "|---|---|---|---|"
    for w in ws:
        head += f" {w} req/s | {w} p99 ms |"
        rule += "---|---|"
    head += " errors | seeding notes/s |"
    rule += "---|---|"
    L += [head, rule]
    for r in rows:
        base = next((b for b in rows if b["backend"] == r["backend"]
                     and b["records"] == r["records"] and b["tenants"] == 100), None)
        line = f"| {r['backend']} | {r['tenants']} | {r['records']} | {r['records'] // r['tenants']} |"
        for w in ws:
            x = r["workloads"].get(w)
            bx = base["workloads"].get(w) if base and base is not r else None
            if not x:
                line += " - | - |"
                continue
            d_rps = f" ({pct(x['rps'], bx['rps'])})" if bx else ""
            d_p99 = f" ({pct(x['p99_ms'], bx['p99_ms'])})" if bx and x["p99_ms"] else ""
            line += f" {num(x['rps'])}{d_rps} | {num(x['p99_ms'])}{d_p99} |"
        errors = sum(x["errors"] for x in r["workloads"].values())
        nps = r["seed"]["timings"].get("notes_per_s") if r["seed"] else None
        line += f" {errors} | {num(nps, 0)} |"
        L.append(line)
    L += ["", "Seeding times (s): " + "; ".join(
        f"{r['backend']} T={r['tenants']} R={r['records']}: "
        f"{num(r['seed']['timings'].get('seed_total_s')) if r['seed'] else 'n/a'}"
        for r in rows) + "."]
    write(args, L, res)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    common_args(sub.add_parser("compare"))
    common_args(sub.add_parser("scale"))
    args = ap.parse_args()
    {"compare": compare, "scale": scale}[args.cmd](args)


if __name__ == "__main__":
    main()
