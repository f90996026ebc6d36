#!/usr/bin/env python3
"""The fairness measurement of benches/fairness.sh: tenant B's latency at a
steady rate, alone and while tenant A floods the same server. Standard
library only; the seed, the fixtures and the flood's wrk script are
benches/bench_seed.py's and benches/peer/'s.

    fairness_bench.py measure --base URL --pid PID --seed-dir DIR --kind reads|writes
                              --out FILE [--duration 20 --warmup 5 --lead 2
                              --b-rate 30 --b-timeout 10 --b-nice -10 --a-conns 64
                              --threads 2
                              --wrk-timeout 30]
    fairness_bench.py report  --run-dir DIR --out-md FILE --out-json FILE
                              --started T --command C --commit C --machine M
                              --load-at-start L

The seed (bench_seed.py, two tenants): tenant-0 is A's, tenant-1 is B's.
A is the first line of the seed's fixtures.tsv (tenant-0's first member, one
token); B is every line of tenant-1 (its members, each with its own token),
which B's requests take in turn, so that each of B's users sends
b_rate / users requests a second.

measure, for one kind (reads: get one of the tenant's own notes by id, as
compare.sh's W1; writes: create a note, as compare.sh's W3; A and B both
do the kind measured):
  1. B alone for `warmup` seconds (not counted), then the server idle again;
  2. B alone for `duration` seconds;
  3. the server idle; A's flood starts (wrk, benches/peer/workload.lua,
     a_conns connections, A's token, for lead + duration + 1 seconds); after
     `lead` seconds B runs for `duration` seconds; then wrk ends and the
     server goes idle.
B is open loop: request i is due at start + i / b_rate whatever came back
before, on a keep-alive connection that is free or a new one, and its
latency runs from when it was due, so time B's client spends waiting for
its turn (or for a connection) counts against the server, as a user would
see it. The client's own lateness (when it took a request up, against when
it was due) is kept apart as `lag`: a large lag means the load generator
itself was starved of CPU, which is why B's client runs at niceness b_nice
(when allowed; wrk at the niceness it was started with). Every answer of B but 2xx, and every timeout or
socket error, is counted as B's error.
"""
import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "peer"))
from bench_seed import log  # noqa: E402
from measure import drain, read_target  # noqa: E402

A_TENANT = "tenant-0"
B_TENANT = "tenant-1"
WRK_MODE = {"reads": "get", "writes": "create"}
# how long to wait for the server to go idle between steps (bounded)
DRAIN_LIMIT_S = 120.0
# B's client does not reuse a connection idle this long: the server closes
# kept-alive connections idle for its header read timeout (10 s by default)
IDLE_MAX_S = 5.0


def read_fixtures(path):
    lines = []
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 5:
                lines.append({"line": line, "token": cols[0], "user": cols[1],
                              "tenant": cols[2], "own": [i for i in cols[3].split(",") if i]})
    return lines


def percentile(sorted_values, p):
    """Nearest rank: the smallest value with at least p % of them at or below it."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * p // 100) - 1))
    return sorted_values[int(k)]


# ------------------------------------------------------------------ B --

class Requests:
    """B's requests, as raw HTTP/1.1 bytes, its users in turn."""

    def __init__(self, base, kind, users, target):
        u = urllib.parse.urlsplit(base)
        self.host = f"{u.hostname}:{u.port}"
        self.kind = kind
        self.users = users
        self.target = target
        self.n = 0

    def next(self):
        user = self.users[self.n % len(self.users)]
        self.n += 1
        head = f"Host: {self.host}\r\nAuthorization: Bearer {user['token']}\r\n"
        if self.kind == "reads":
            path = self.target["W_GET_PATH"].replace("{tenant}", user["tenant"])
            path = path.replace("{id}", random.choice(user["own"]))
            return f"GET {path} HTTP/1.1\r\n{head}\r\n".encode()
        path = self.target["W_CREATE_PATH"].replace("{tenant}", user["tenant"])
        body = self.target["W_CREATE_BODY"].replace("{n}", str(random.randrange(1000))).encode()
        return (f"POST {path} HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def read_answer(reader):
    """The status of one HTTP/1.1 answer, its body read to the end; and
    whether the connection may be used again."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip().lower()
    if headers.get("transfer-encoding", "") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    return status, headers.get("connection") != "close"


async def open_loop(host, port, requests, rate, seconds, timeout, preopen=4):
    """Sends rate * seconds requests, each at its due time; returns
    (statuses, latencies in s of the answered, lags in s)."""
    loop = asyncio.get_running_loop()
    idle = []  # (connection, when it was last used), the newest last
    for _ in range(preopen):
        idle.append((await asyncio.open_connection(host, port), loop.time()))
    statuses = Counter()
    latencies = []
    lags = []

    def take():
        """A kept-alive connection the server will not have closed yet, or None."""
        while idle:
            conn, used = idle.pop()
            if loop.time() - used < IDLE_MAX_S:
                return conn
            conn[1].close()
        return None

    async def exchange(data):
        for attempt in (1, 2):
            conn = take()
            reused = conn is not None
            if conn is None:
                conn = await asyncio.open_connection(host, port)
            reader, writer = conn
            try:
                writer.write(data)
                await writer.drain()
                status, keep = await read_answer(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                writer.close()
                closed_unread = not isinstance(e, asyncio.IncompleteReadError) or not e.partial
                # a kept-alive connection the server closed as it was taken,
                # before a byte of the answer: once more on a new one
                if reused and attempt == 1 and closed_unread:
                    continue
                raise
            except BaseException:
                writer.close()
                raise
            if keep:
                idle.append((conn, loop.time()))
            else:
                writer.close()
            return status
        raise AssertionError("unreachable")

    async def one(due, data):
        lags.append(loop.time() - due)
        try:
            status = await asyncio.wait_for(exchange(data), timeout)
            latencies.append(loop.time() - due)
            statuses[str(status)] += 1
        except asyncio.TimeoutError:
            statuses["timeout"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            statuses["socket error"] += 1

    total = int(rate * seconds)
    start = loop.time() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.ensure_future(one(due, requests.next())))
    # each task ends within its timeout
    await asyncio.gather(*tasks)
    for (_, writer), _ in idle:
        writer.close()
    return statuses, latencies, lags


def b_run(args, requests, seconds):
    u = urllib.parse.urlsplit(args.base)
    statuses, latencies, lags = asyncio.run(
        open_loop(u.hostname, u.port, requests, args.b_rate, seconds, args.b_timeout))
    latencies.sort()
    lags.sort()
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))

    def ms(v):
        return None if v is None else round(v * 1000, 2)

    return {
        "requests": sum(statuses.values()), "ok": ok,
        "errors": sum(statuses.values()) - ok, "rate_limited": statuses.get("429", 0),
        "statuses": dict(statuses),
        "p50_ms": ms(percentile(latencies, 50)), "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(latencies[-1] if latencies else None),
        "lag_p99_ms": ms(percentile(lags, 99)),
    }


# ------------------------------------------------------------------ A --

def start_flood(args, env, seconds, out_path):
    """A's wrk in the background for `seconds`; killed a minute after should
    it hang."""
    e = dict(os.environ, **env, W_OUT=out_path)
    cmd = ["wrk", f"-t{min(args.threads, args.a_conns)}", f"-c{args.a_conns}", f"-d{seconds}s",
           f"--timeout={args.wrk_timeout}s", "-s", os.path.join(HERE, "peer", "workload.lua"),
           args.base]
    log_path = out_path + ".log"
    # wrk at the priority this process was started with, not B's
    nice = args.started_nice
    with open(log_path, "w") as out:
        p = subprocess.Popen(cmd, env=e, stdout=out, stderr=subprocess.STDOUT,
                             preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, nice))
    timer = threading.Timer(seconds + 60, p.kill)
    timer.start()
    return p, timer, log_path


def finish_flood(p, timer, log_path, out_path):
    rc = p.wait()
    timer.cancel()
    if rc != 0:
        with open(log_path) as f:
            raise SystemExit(f"wrk failed ({rc}): {f.read()}")
    with open(out_path) as f:
        w = json.load(f)
    secs = w["duration_us"] / 1e6
    st = {k: int(v) for k, v in w["statuses"].items()}
    ok = sum(v for k, v in st.items() if k.startswith("2"))
    limited = st.get("429", 0)
    return {
        "requests": w["requests"], "seconds": round(secs, 3),
        "rps": round(w["requests"] / secs, 1), "ok": ok, "ok_rps": round(ok / secs, 1),
        "rate_limited": limited, "other": w["requests"] - ok - limited,
        "socket_errors": w["socket_errors"], "statuses": st,
        "p50_ms": round(w["latency"]["p50_us"] / 1000, 2) if w["requests"] else None,
        "p99_ms": round(w["latency"]["p99_us"] / 1000, 2) if w["requests"] else None,
    }


# ------------------------------------------------------------- measure --

def wait_idle(pid, what):
    waited = drain(pid, DRAIN_LIMIT_S)
    if waited is None:
        log(f"  the server was still busy {DRAIN_LIMIT_S:.0f} s after {what}")
    return waited


def raise_priority(args):
    """B's client at niceness args.b_nice (when allowed): on this machine it
    shares the cores with wrk and the server, and its own wait for a core
    would otherwise count as the server's latency."""
    args.started_nice = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, args.b_nice)
    except PermissionError:
        log(f"  could not run B's client at niceness {args.b_nice}; it runs at "
            f"{args.started_nice}")
    return os.getpriority(os.PRIO_PROCESS, 0)


def measure(args):
    b_nice = raise_priority(args)
    fixtures = read_fixtures(os.path.join(args.seed_dir, "fixtures.tsv"))
    target = read_target(os.path.join(args.seed_dir, "target.env"))
    a = next(f for f in fixtures if f["tenant"] == A_TENANT)
    b_users = [f for f in fixtures if f["tenant"] == B_TENANT]
    if not b_users:
        raise SystemExit(f"no user of {B_TENANT} in the fixtures")
    scratch = os.path.dirname(os.path.abspath(args.out))
    a_fixtures = os.path.join(scratch, "fixtures-a.tsv")
    with open(a_fixtures, "w") as f:
        f.write(a["line"])
    requests = Requests(args.base, args.kind, b_users, target)
    res = {"kind": args.kind, "b_rate": args.b_rate, "b_users": len(b_users),
           "a_conns": args.a_conns, "duration": args.duration, "lead": args.lead,
           "b_nice": b_nice}

    if args.warmup > 0:
        b_run(args, requests, args.warmup)
    wait_idle(args.pid, "B's warm-up")
    res["alone"] = b_run(args, requests, args.duration)
    wait_idle(args.pid, "B alone")

    env = dict(target, W_MODE=WRK_MODE[args.kind], W_FIXTURES=a_fixtures)
    wrk_out = os.path.join(scratch, f"{args.kind}.flood.json")
    flood = start_flood(args, env, args.lead + args.duration + 1, wrk_out)
    try:
        time.sleep(args.lead)
        res["flooded"] = b_run(args, requests, args.duration)
    finally:
        res["a"] = finish_flood(*flood, wrk_out)
    res["drain_after_flood_s"] = wait_idle(args.pid, "A's flood")

    alone, flooded = res["alone"]["p99_ms"], res["flooded"]["p99_ms"]
    res["p99_ratio"] = round(flooded / alone, 2) if alone and flooded is not None else None
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    for phase in ("alone", "flooded"):
        r = res[phase]
        log(f"  B {phase:7} p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  "
            f"client lag p99 {r['lag_p99_ms']} ms  statuses {r['statuses']}")
    r = res["a"]
    log(f"  A flood   {r['rps']} req/s: 2xx {r['ok']}, 429 {r['rate_limited']}, "
        f"other {r['other']}, socket errors {r['socket_errors']}")
    log(f"  B p99 flooded / alone: {res['p99_ratio']}")


# -------------------------------------------------------------- report --

BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
LIMITS = {
    "default": "server defaults",
    "off": "off",
}
KINDS = {"reads": "get a note by id (W1)", "writes": "create a note (W3)"}
TARGET_RATIO = 2.0


def report(args):
    cases = []
    for backend in ("sqlite", "postgres"):
        for limits in ("default", "off"):
            for kind in ("reads", "writes"):
                path = os.path.join(args.run_dir, f"{backend}-{limits}", f"{kind}.json")
                if os.path.exists(path):
                    with open(path) as f:
                        cases.append({"backend": backend, "limits": limits, **json.load(f)})
    if not cases:
        raise SystemExit("no case was measured")
    first = cases[0]
    lines = [
        "# Fairness: tenant B while tenant A floods (benches/fairness.sh)", "",
        f"Started {args.started}, commit {args.commit}; {args.machine}; load average at "
        f"start {args.load_at_start}; command `{args.command}`.", "",
        f"B: {first['b_rate']} requests/s open loop for {first['duration']} s, taken in turn "
        f"by its {first['b_users']} users (tenant-1); latency from when each request was due; "
        f"B's client at niceness {first.get('b_nice')}. "
        f"A: one user of tenant-0, wrk with {first['a_conns']} connections, from "
        f"{first['lead']} s before B's window to 1 s after it. A and B do the same kind. "
        "Limits: `server defaults` is the server's own rate limits (per user, per client "
        "address on the auth routes; the tenants' plan, enterprise, sets none); `off` has "
        "the per-user and per-tenant limits off and the auth limit out of reach.", "",
        "| backend | limits | kind | B p50 alone | B p99 alone | B p50 flooded "
        "| B p99 flooded | B p99 flooded / alone | B non-2xx alone / flooded "
        "| B client lag p99 alone / flooded | A req/s | A 2xx | A 429 | A other |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        al, fl, a = c["alone"], c["flooded"], c["a"]
        other = a["other"] + sum(a["socket_errors"].values())
        lines.append(
            f"| {BACKENDS[c['backend']]} | {LIMITS[c['limits']]} | {KINDS[c['kind']]} "
            f"| {al['p50_ms']} | {al['p99_ms']} | {fl['p50_ms']} | {fl['p99_ms']} "
            f"| ×{c['p99_ratio']} | {al['errors']} / {fl['errors']} "
            f"| {al['lag_p99_ms']} / {fl['lag_p99_ms']} | {a['rps']} | {a['ok']} "
            f"| {a['rate_limited']} | {other} |")
    lines += ["", "Latencies in ms. A's counts cover its whole flood (socket errors in "
              "\"other\"). The client lag is how late B's client took a request up, "
              "against when it was due (the load generator's own CPU starvation; it is "
              "inside B's latency).", "",
              f"Target: B's p99 while A floods within {TARGET_RATIO:g}× of B's p99 alone; "
              "B gets no 429 and no other non-2xx."]
    bad = []
    for c in cases:
        name = f"{BACKENDS[c['backend']]}, limits {LIMITS[c['limits']]}, {c['kind']}"
        ratio = c["p99_ratio"]
        met = ratio is not None and ratio <= TARGET_RATIO
        lines.append(f"- {name}: ×{ratio}, **{'met' if met else 'not met'}**; B's 429s "
                     f"{c['alone']['rate_limited'] + c['flooded']['rate_limited']}")
        for phase in ("alone", "flooded"):
            if c[phase]["errors"]:
                bad.append(f"- **{name}, B {phase}: {c[phase]['errors']} non-2xx or failed "
                           f"requests** (statuses {c[phase]['statuses']})")
    lines += bad
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out_md, "w") as f:
        f.write(text)
    with open(args.out_json, "w") as f:
        json.dump({"started": args.started, "commit": args.commit, "command": args.command,
                   "machine": args.machine, "load_at_start": args.load_at_start,
                   "target_ratio": TARGET_RATIO, "cases": cases}, f, indent=1)
    # B refused or failed even once: the run shows unfairness, not a figure
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["measure", "report"])
    ap.add_argument("--base")
    ap.add_argument("--pid", type=int)
    ap.add_argument("--seed-dir")
    ap.add_argument("--kind", choices=sorted(WRK_MODE))
    ap.add_argument("--out")
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--lead", type=int, default=2)
    ap.add_argument("--b-rate", type=float, default=30)
    ap.add_argument("--b-timeout", type=float, default=10)
    ap.add_argument("--b-nice", type=int, default=-10)
    ap.add_argument("--a-conns", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--wrk-timeout", type=int, default=30)
    ap.add_argument("--run-dir")
    ap.add_argument("--out-md")
    ap.add_argument("--out-json")
    ap.add_argument("--started", default="")
    ap.add_argument("--command", dest="command_line", default="")
    ap.add_argument("--commit", default="")
    ap.add_argument("--machine", default="")
    ap.add_argument("--load-at-start", default="")
    args = ap.parse_args()
    if args.command == "measure":
        measure(args)
    else:
        args.command = args.command_line
        sys.exit(report(args))


if __name__ == "__main__":
    main()
